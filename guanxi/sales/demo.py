"""Demo data of the sales domain: a living pipeline on top of the core demo company.

Connected to ``guanxi.core.demo.demo_data_loaded``. Everything goes through the sales
services, so it is scored, assigned, priced, audited and on the timelines like real
work; afterwards the history is spread back over the last months (stage changes, closes,
activities) so that forecasts, win rates and time-in-stage have something to show.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from guanxi.core.models import Account, Contact, Role
from guanxi.sales import services
from guanxi.sales.models import (
    ActivityKind, CloseReason, ExpenseCategory, KnowledgeKind, LeadBehaviourKind, LeadSource, Opportunity,
    OpportunityStageChange, QuotaPeriod, Stage, StageKind,
)

PRODUCTS = [
    # sku, English, Chinese, kind, family, unit, CNY price
    ("5G-BIZ-100", "5G Business 100 GB plan", "5G 商务套餐 100GB", "subscription", "mobile", "month", "199"),
    ("5G-BIZ-300", "5G Business 300 GB plan", "5G 商务套餐 300GB", "subscription", "mobile", "month", "399"),
    ("FIBER-1000", "Fibre broadband 1000 Mbps", "千兆光纤宽带", "subscription", "broadband", "month", "299"),
    ("LINE-DIA-100", "Dedicated internet line 100 Mbps", "互联网专线 100M", "subscription", "enterprise", "month",
     "3800"),
    ("ROUTER-AX", "Wi-Fi 6 business router", "Wi-Fi 6 企业路由器", "goods", "hardware", "unit", "1290"),
    ("IP-PHONE", "IP desk phone", "IP 桌面电话", "goods", "hardware", "unit", "680"),
    ("SUPPORT-STD", "Standard support (business hours)", "标准支持（工作时间）", "service", "support", "month", "300"),
    ("SUPPORT-247", "Premium support 24/7", "7×24 高级支持", "service", "support", "month", "900"),
    ("INSTALL", "On-site installation", "上门安装", "service", "services", "visit", "500"),
    ("CLOUD-PBX", "Cloud PBX per seat", "云总机（每席位）", "subscription", "enterprise", "seat", "45"),
    ("SD-WAN", "SD-WAN branch connector", "SD-WAN 分支接入", "subscription", "enterprise", "site", "1500"),
]
BUNDLE = ("OFFICE-STARTER", "Office starter pack", "小微企业办公套装", "2990")
COMPETITORS = [("Huaxin Networks 华信网络", "Strong on price in tier-3 cities.", "Slow enterprise support."),
               ("Pacific Telecom 太平洋电信", "International roaming.", "Few local engineers."),
               ("Zenith Cloud 天顶云", "Cloud PBX features.", "No own network.")]
LEAD_COMPANIES = ["星河物流有限公司", "博雅教育科技", "远航酒店管理", "Fourth Coffee Shanghai", "锦程医疗科技", "新元能源",
                  "Alpine Ski House China", "嘉禾商贸", "宏图软件", "Coho Winery Asia", "正泰制造", "海纳金融服务"]
STAGE_AGE_DAYS = {0: 40, 1: 30, 2: 22, 3: 15, 4: 8}


def _catalogue(admin) -> dict:
    made = {}
    for sku, name, name_zh, kind, family, unit, _price in PRODUCTS:
        made[sku] = services.product_create(actor=admin, data={"sku": sku, "name": name, "name_zh": name_zh,
                                                               "kind": kind, "family": family, "unit": unit})
    made[BUNDLE[0]] = services.product_create(actor=admin, data={
        "sku": BUNDLE[0], "name": BUNDLE[1], "name_zh": BUNDLE[2], "kind": "bundle", "family": "bundles",
        "components": [{"component_id": made["FIBER-1000"].pk, "quantity": 12},
                       {"component_id": made["ROUTER-AX"].pk, "quantity": 1},
                       {"component_id": made["INSTALL"].pk, "quantity": 1}]})
    services.product_update(actor=admin, product_id=made["LINE-DIA-100"].pk, data={"options": [
        {"option_id": made["SUPPORT-STD"].pk, "group": "Support", "quantity_per_unit": 1},
        {"option_id": made["SUPPORT-247"].pk, "group": "Support", "quantity_per_unit": 1},
        {"option_id": made["INSTALL"].pk, "is_required": True, "quantity_per_unit": Decimal("0.01")},
        {"option_id": made["ROUTER-AX"].pk, "quantity_per_unit": 1}]})
    prices = {sku: Decimal(price) for sku, *_rest, price in PRODUCTS}
    prices[BUNDLE[0]] = Decimal(BUNDLE[3])
    lists = [("中国标准价 China list 2026", "CNY", "", Decimal("1")),
             ("金牌客户价 Gold customers 2026", "CNY", "gold", Decimal("0.92")),
             ("USD list 2026", "USD", "", Decimal("0.15")),
             ("EUR list 2026", "EUR", "", Decimal("0.135"))]
    for name, currency, tier, factor in lists:
        services.price_list_create(actor=admin, data={
            "name": name, "currency": currency, "customer_tier": tier,
            "entries": [{"product_id": made[sku].pk, "unit_price": (price * factor).quantize(Decimal("1"))}
                        for sku, price in prices.items()]})
    return made


def _settings(admin, products: dict, reps) -> list:
    for name, kind, field, operator, value, behaviour, count, points in [
        ("Came through the web form", "field", "source", "equals", "web_form", "", 1, 10),
        ("Decision maker", "field", "job_title", "contains", "总", "", 1, 15),
        ("Large budget", "field", "estimated_amount", "at_least", "100000", "", 1, 20),
        ("Gave a phone number", "field", "phone", "is_set", "", "", 1, 5),
        ("Opened our emails", "behaviour", "", "equals", "", LeadBehaviourKind.EMAIL_OPEN, 2, 10),
        ("Visited the pricing page", "behaviour", "", "equals", "", LeadBehaviourKind.PAGE_VIEW, 3, 15),
        ("Attended a seminar", "behaviour", "", "equals", "", LeadBehaviourKind.EVENT_ATTENDED, 1, 25),
    ]:
        data = {"name": name, "kind": kind, "points": points, "min_count": count}
        data.update({"field_name": field, "operator": operator, "value": value} if kind == "field"
                    else {"behaviour_kind": behaviour})
        services.scoring_rule_create(actor=admin, data=data)
    for name, rate, extra in [("Standard commission", "3", {}), ("Hardware", "2", {"product_family": "hardware"}),
                              ("Enterprise lines", "5", {"product_family": "enterprise"}),
                              ("Gold customers bonus", "4", {"customer_tier": "gold"})]:
        services.commission_rule_create(actor=admin, data={"name": name, "rate_percent": Decimal(rate), **extra})
    competitors = [services.competitor_create(actor=admin, data={"name": name, "strengths": strong,
                                                                 "weaknesses": weak})
                   for name, strong, weak in COMPETITORS]
    today = timezone.localdate()
    quarter_start = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    next_quarter = datetime.date(quarter_start.year + (quarter_start.month + 3 > 12), (quarter_start.month + 2) % 12 + 1, 1)
    for rep in reps:
        services.quota_create(actor=admin, data={
            "user_id": rep.pk, "period": QuotaPeriod.QUARTER, "period_start": quarter_start,
            "period_end": next_quarter - datetime.timedelta(days=1), "amount": Decimal("600000"), "currency": "CNY"})
    return competitors


def _leads(admin, rng, progress) -> None:
    from guanxi.core.demo import ENGLISH_FAMILY, ENGLISH_GIVEN, FAMILY_NAMES, GIVEN_CHARACTERS

    sources = [LeadSource.WEB_FORM] * 4 + [LeadSource.CAMPAIGN] * 3 + [LeadSource.EVENT, LeadSource.REFERRAL,
                                                                      LeadSource.PHONE, LeadSource.MANUAL]
    places = [("北京", "北京", "100020"), ("上海", "上海", "200120"), ("广东", "深圳", "518000"),
              ("四川", "成都", "610041"), ("浙江", "杭州", "310000"), ("广东", "广州", "510620")]
    campaigns = ["", "", "5G 商务季 Spring 5G promotion", "SME broadband week 宽带周", "Canton Fair 2026 seminar"]
    total = 90
    for index in range(total):
        english = index % 7 == 0
        if english:
            family, given = rng.choice(ENGLISH_FAMILY), rng.choice(ENGLISH_GIVEN)
            full_name = f"{given} {family}"
        else:
            family = rng.choice(FAMILY_NAMES)
            given = "".join(rng.choice(GIVEN_CHARACTERS) for _ in range(rng.choice((1, 2))))
            full_name = family + given
        province, city, postcode = rng.choice(places)
        source = rng.choice(sources)
        with transaction.atomic():
            lead = services.lead_create(actor=admin, auto_assign=True, data={
                "family_name": family, "given_name": given, "full_name": full_name,
                "company": rng.choice(LEAD_COMPANIES) + ("" if index < 12 else f" {index}"),
                "job_title": rng.choice(["总经理", "IT 经理", "采购主管", "Office manager", "CTO", ""]),
                "email": f"lead{index + 1}@{rng.choice(['example.cn', 'mail.example', 'qq.example'])}",
                "phone": f"1{rng.choice(['38', '39', '50', '86'])}{rng.randrange(10000000, 99999999)}",
                "province": province, "city": city, "postcode": postcode, "source": source,
                "campaign_name": rng.choice(campaigns) if source in (LeadSource.CAMPAIGN, LeadSource.EVENT,
                                                                     LeadSource.WEB_FORM) else "",
                "estimated_amount": Decimal(rng.choice([8000, 25000, 60000, 150000, 400000])),
                "description": rng.choice(["想了解企业专线价格。", "Needs 20 mobile plans for the sales team.",
                                           "新办公室需要宽带和电话。", "Asked for a callback about SD-WAN."])})
            for _ in range(rng.randrange(0, 5)):
                services.lead_behaviour_record(actor=None, lead_id=lead.pk, kind=rng.choice(
                    [LeadBehaviourKind.EMAIL_OPEN, LeadBehaviourKind.PAGE_VIEW, LeadBehaviourKind.PAGE_VIEW,
                     LeadBehaviourKind.EVENT_ATTENDED]), detail="/pricing")
            roll = rng.random()
            if roll < 0.15:
                services.lead_disqualify(actor=admin, lead_id=lead.pk, reason=rng.choice(
                    ["no_budget", "no_need", "bad_timing", "unreachable"]))
            elif roll < 0.45:
                services.lead_qualify(actor=admin, lead_id=lead.pk)
            elif roll < 0.6:
                services.lead_update(actor=admin, lead_id=lead.pk, data={"status": "working"})
        progress("leads", index + 1, total)


def _backdate(opportunity: Opportunity, stages: list[Stage], target: Stage, rng) -> None:
    """Spread the deal's walk through the stages over the past weeks."""
    now = timezone.now()
    changes = list(OpportunityStageChange.objects.filter(opportunity=opportunity).order_by("id"))
    age = STAGE_AGE_DAYS.get(min(target.position, 4), 30) + rng.randrange(0, 20)
    moments = sorted(now - datetime.timedelta(days=age * (len(changes) - index) / max(1, len(changes)),
                                              hours=rng.randrange(0, 20)) for index in range(len(changes)))
    previous = None
    for change, moment in zip(changes, moments):
        seconds = int((moment - previous).total_seconds()) if previous else 0
        OpportunityStageChange.objects.filter(pk=change.pk).update(changed_at=moment, seconds_in_from_stage=seconds)
        previous = moment
    Opportunity.objects.filter(pk=opportunity.pk).update(
        created_at=moments[0], stage_entered_at=moments[-1],
        closed_at=moments[-1] if opportunity.is_closed else None)


def _pipeline(admin, reps, rng, competitors, progress) -> list[Opportunity]:
    pipeline = services.default_pipeline()
    stages = list(pipeline.stages.order_by("position"))
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
    won = next(stage for stage in stages if stage.kind == StageKind.WON)
    lost = next(stage for stage in stages if stage.kind == StageKind.LOST)
    accounts = list(Account.objects.filter(owner__in=reps).order_by("id")[:140])
    contacts = {row["account_id"]: row["id"] for row in Contact.objects.filter(account__in=accounts)
                .order_by("id").values("account_id", "id")}
    today = timezone.localdate()
    deals = []
    for index, account in enumerate(accounts):
        roll = rng.random()
        target = won if roll < 0.18 else lost if roll < 0.3 else rng.choice(open_stages)
        closed = target.kind != StageKind.OPEN
        close_date = (today - datetime.timedelta(days=rng.randrange(1, 150)) if closed
                      else today + datetime.timedelta(days=rng.randrange(-10, 170)))
        with transaction.atomic():
            deal = services.opportunity_create(actor=admin, data={
                "name": f"{account.name[:40]} · {rng.choice(['5G 商务套餐', '企业专线', '宽带升级', 'Cloud PBX', 'SD-WAN'])}",
                "account_id": account.pk, "contact_id": contacts.get(account.pk), "owner_id": account.owner_id,
                "territory_id": account.territory_id, "amount": Decimal(rng.choice([18000, 45000, 88000, 160000,
                                                                                     320000, 750000])),
                "currency": "USD" if account.territory and account.territory.code == "intl" else "CNY",
                "close_date": close_date, "stage_id": open_stages[0].pk,
                "next_step": rng.choice(["发送报价", "Schedule a site survey", "约见采购总监", "Demo Cloud PBX", ""]),
                "competitor_ids": [rng.choice(competitors).pk] if rng.random() < 0.5 else []})
            for stage in open_stages[1:]:
                if stage.position > target.position and not closed:
                    break
                if closed and rng.random() < 0.3:
                    continue
                deal = services.opportunity_move(actor=admin, opportunity_id=deal.pk, stage_id=stage.pk)
            if closed:
                deal = services.opportunity_move(
                    actor=admin, opportunity_id=deal.pk, stage_id=target.pk,
                    close_reason=rng.choice([CloseReason.PRICE, CloseReason.PRODUCT_FIT, CloseReason.RELATIONSHIP])
                    if target == won else rng.choice([CloseReason.PRICE, CloseReason.COMPETITOR, CloseReason.TIMING]),
                    lost_to_id=deal.competitors.values_list("pk", flat=True).first() if target == lost else None)
            _backdate(deal, stages, target, rng)
        deals.append(deal)
        progress("opportunities", index + 1, len(accounts))
    return deals


def _documents(admin, rng, deals, products, progress) -> None:
    """Quotes on some open deals in late stages; a few accepted, ordered and contracted."""
    candidates = [deal for deal in deals if not deal.is_closed and deal.stage.position >= 2][:24]
    skus = ["5G-BIZ-100", "5G-BIZ-300", "FIBER-1000", "ROUTER-AX", "CLOUD-PBX", "OFFICE-STARTER"]
    today = timezone.localdate()
    for index, deal in enumerate(candidates):
        with transaction.atomic():
            quote = services.quote_create(actor=admin, data={"opportunity_id": deal.pk, "lines": [
                {"product_id": products[sku].pk, "quantity": rng.choice([1, 5, 10, 20]),
                 "discount_percent": rng.choice([0, 0, 5, 8])} for sku in rng.sample(skus, 2)]})
            if index % 3 == 0:
                services.quote_line_add(actor=admin, quote_id=quote.pk, data={
                    "product_id": products["LINE-DIA-100"].pk, "quantity": 12,
                    "option_ids": [products["SUPPORT-STD"].pk]})
            if index % 2 == 0 and (quote.contact_id or deal.contact_id):
                contact = quote.contact or deal.contact
                if contact and contact.email:
                    services.quote_send(actor=admin, quote_id=quote.pk, to_email=contact.email)
                    if index % 4 == 0:
                        services.quote_accept(actor=None, quote_id=quote.pk, accepted_by_name=contact.full_name)
                        order = services.order_create_from_quote(actor=admin, quote_id=quote.pk)
                        if index % 8 == 0:
                            services.order_set_status(actor=admin, order_id=order.pk, status="shipped",
                                                      carrier="SF Express 顺丰", tracking_number=f"SF{rng.randrange(10**11, 10**12)}")
                        contract = services.contract_create(actor=admin, data={
                            "order_id": order.pk, "start_date": today - datetime.timedelta(days=300 - index * 7),
                            "end_date": today + datetime.timedelta(days=20 + index * 9),
                            "auto_renew": index % 8 == 0, "renewal_notice_days": 60})
                        services.contract_sign(actor=admin, contract_id=contract.pk,
                                               signed_by_name=contact.full_name)
        progress("quotes", index + 1, len(candidates))


def _activities(admin, rng, reps, deals, progress) -> None:
    now = timezone.now()
    subjects = {ActivityKind.CALL: ["回访客户", "Follow-up call", "确认报价细节", "Qualification call"],
                ActivityKind.MEETING: ["现场勘查", "Product demo", "商务谈判", "Quarterly business review"],
                ActivityKind.TASK: ["准备报价", "Send contract draft", "更新客户资料", "Prepare proposal"],
                ActivityKind.EMAIL: ["发送产品资料", "Send case study", "Pricing follow-up"]}
    open_deals = [deal for deal in deals if not deal.is_closed]
    total = 160
    for index in range(total):
        deal = rng.choice(open_deals)
        kind = rng.choice(list(subjects))
        start = (now + datetime.timedelta(days=rng.randrange(-14, 21), hours=rng.randrange(-6, 6))).replace(
            minute=rng.choice([0, 30]), second=0, microsecond=0)
        data = {"kind": kind, "subject": rng.choice(subjects[kind]), "start_at": start,
                "end_at": start + datetime.timedelta(minutes=rng.choice([30, 60, 90])) if kind == ActivityKind.MEETING
                else None, "opportunity_id": deal.pk, "owner_id": deal.owner_id,
                "reminder_at": start - datetime.timedelta(minutes=15) if start > now else None,
                "location": rng.choice(["客户办公室", "Guanxi HQ", ""]) if kind == ActivityKind.MEETING else ""}
        if kind == ActivityKind.CALL and rng.random() < 0.25 and start > now:
            data["is_callback"] = True
        with transaction.atomic():
            activity = services.activity_create(actor=admin, data=data)
            if start < now and rng.random() < 0.8:
                services.activity_complete(actor=admin, activity_id=activity.pk, completed_at=start,
                                           outcome=rng.choice(["客户有兴趣", "Agreed next meeting", "需要再联系",
                                                               "Sent the offer"]))
        progress("activities", index + 1, total)


def _board_and_expenses(rng, reps, competitors, users) -> None:
    manager = (users.get(Role.SALES_MANAGER) or [None])[0]
    posts = [
        ("How we win SD-WAN deals against Zenith Cloud", KnowledgeKind.BATTLECARD, ["SD-WAN", "battlecard"],
         "Lead with our own network and on-site engineers; offer a 30-day pilot on one branch.", competitors[2]),
        ("5G 商务套餐报价技巧", KnowledgeKind.TIP, ["5G", "报价"],
         "先确认员工人数和流量需求，再推荐 300GB 套餐；超过 20 张卡可申请 8% 折扣。", None),
        ("Playbook: first meeting with a hospital IT director", KnowledgeKind.PLAYBOOK, ["healthcare", "playbook"],
         "1. Ask about uptime requirements. 2. Bring the dedicated-line SLA. 3. Propose 24/7 support.", None),
        ("Huaxin price cuts in tier-3 cities", KnowledgeKind.BATTLECARD, ["pricing", "battlecard"],
         "Do not match on price; bundle installation and support instead.", competitors[0]),
        ("Which discount needs approval?", KnowledgeKind.QUESTION, ["discounts"],
         "Reps may give up to 10 %; managers approve up to 25 %.", None),
    ]
    for index, (title, kind, tags, body, competitor) in enumerate(posts):
        author = reps[index % len(reps)]
        post = services.knowledge_post_create(actor=author, data={"title": title, "kind": kind, "tags": tags,
                                                                  "body": body, "competitor_id": competitor.pk
                                                                  if competitor else None})
        services.knowledge_comment_add(actor=reps[(index + 1) % len(reps)], post_id=post.pk,
                                       body=rng.choice(["很有用，谢谢！", "Worked for me last week.", "补充：记得带案例。"]))
    today = timezone.localdate()
    for index, rep in enumerate(reps[:6]):
        expense = services.expense_create(actor=rep, data={
            "spent_on": today - datetime.timedelta(days=index * 3 + 1),
            "category": rng.choice([ExpenseCategory.TRAVEL, ExpenseCategory.MEALS, ExpenseCategory.LODGING]),
            "amount": Decimal(rng.choice([180, 420, 860, 1350])), "currency": "CNY",
            "description": rng.choice(["高铁 上海—杭州", "Client dinner", "酒店两晚", "Taxi to site survey"]),
            "submit": index % 3 != 2})
        if (manager is not None and expense.status == "submitted" and rep.team_id is not None
                and rep.team_id == manager.team_id):
            services.expense_decide(actor=manager, expense_id=expense.pk, approve=True)


def load_sales_demo_data(sender, *, users, rng, progress, **kwargs) -> None:
    admin = users[Role.ADMIN][0]
    reps = users.get(Role.SALES_REP, [])
    with transaction.atomic():
        products = _catalogue(admin)
        competitors = _settings(admin, products, reps)
    _leads(admin, rng, progress)
    deals = _pipeline(admin, reps + users.get(Role.SALES_MANAGER, []), rng, competitors, progress)
    _documents(admin, rng, deals, products, progress)
    _activities(admin, rng, reps, deals, progress)
    with transaction.atomic():
        _board_and_expenses(rng, reps, competitors, users)
