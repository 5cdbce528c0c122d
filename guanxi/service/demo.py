"""Demo data of the service domain, on top of the core demo company.

Connected to ``guanxi.core.demo.demo_data_loaded``. Everything goes through the service
services (numbered, routed by the ACD engine, on the timelines, audited); afterwards each
case's clock is moved back to when it "happened", so the queue, the SLA report and the
dashboard have a month of history to show: cases in every status, breaches, surveys
answered, complaints under way, visits booked this week, articles in both languages.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from guanxi.core.errors import Conflict
from guanxi.core.models import Contact, Role
from guanxi.service import services
from guanxi.service.email_in import ingest_raw_email
from guanxi.service.models import (
    Case, CaseEvent, CaseMessage, CaseStatus, ServiceNotification, Survey,
)

OFFICE = {day: "09:00-12:00, 13:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
# 2026 public holidays of mainland China and the weekend days worked instead (调休).
CN_HOLIDAYS_2026 = [("2026-01-01", "元旦"), ("2026-02-16", "春节"), ("2026-02-17", "春节"), ("2026-02-18", "春节"),
                    ("2026-02-19", "春节"), ("2026-02-20", "春节"), ("2026-04-06", "清明节"), ("2026-05-01", "劳动节"),
                    ("2026-05-04", "劳动节"), ("2026-05-05", "劳动节"), ("2026-06-19", "端午节"),
                    ("2026-09-25", "中秋节"), ("2026-10-01", "国庆节"), ("2026-10-02", "国庆节"),
                    ("2026-10-05", "国庆节"), ("2026-10-06", "国庆节"), ("2026-10-07", "国庆节")]
CN_MAKEUP_DAYS_2026 = ["2026-02-14", "2026-02-28", "2026-05-09", "2026-09-27", "2026-10-10"]

ARTICLES = [
    ("network", "宽带无法连接", "光猫指示灯红色闪烁（LOS），无法上网。", "检查光纤接头是否松动，断电重启光猫 1 分钟；仍为红灯请报修。",
     "Broadband cannot connect", "The modem's LOS light blinks red and nothing loads.",
     "Reseat the fibre connector and power-cycle the modem for one minute; if the light stays red, book a visit."),
    ("network", "5G 信号弱", "室内 5G 信号只有一格，经常掉线。", "在设置中开启 VoWiFi；靠近窗户；仍不改善可申请室内小基站。",
     "Weak 5G signal indoors", "Only one bar of 5G indoors; calls drop.",
     "Turn on Wi-Fi calling, move closer to a window; if it persists, request an indoor small cell."),
    ("billing", "账单重复扣费", "同一月份出现两笔相同的套餐费。", "核对账单明细，确认重复后提交退款申请，3 个工作日内退回。",
     "Charged twice on one bill", "The same plan fee appears twice this month.",
     "Check the itemised bill; once the duplicate is confirmed, file a refund (back within 3 working days)."),
    ("billing", "发票抬头修改", "需要把电子发票抬头改为公司名称。", "在网上营业厅“发票管理”中修改抬头和税号，重新开具。",
     "Change the invoice title", "The e-invoice must show the company name.",
     "Change the title and tax number under Invoices in self-service, then re-issue."),
    ("technical", "Wi-Fi 密码忘记", "忘记了路由器的 Wi-Fi 密码。", "按住路由器背面 Reset 键 10 秒恢复出厂设置，用底部标签上的默认密码登录。",
     "Forgot the Wi-Fi password", "Cannot remember the router's Wi-Fi password.",
     "Hold the reset button on the back for ten seconds, then log in with the default password on the label."),
    ("technical", "企业专线延迟高", "专线到总部延迟超过 80ms。", "检查 SD-WAN 链路选择策略，确认未走备份链路；必要时提交网络工单。",
     "High latency on the dedicated line", "Latency to head office is above 80 ms.",
     "Check the SD-WAN path policy is not on the backup link; open a network ticket if it is."),
    ("order", "订单配送查询", "下单的路由器还没有送到。", "在订单详情查看物流单号；超过 5 天未送达请联系物流并登记延迟。",
     "Where is my order", "The router I ordered has not arrived.",
     "Look up the tracking number in the order; after 5 days, chase the carrier and log the delay."),
    ("account", "过户与实名认证", "手机号需要过户给家人。", "双方携带身份证到营业厅办理，或在 App 内完成人脸识别过户。",
     "Transfer a number to a family member", "The mobile number should move to a relative.",
     "Both bring ID to a store, or complete the face check transfer in the app."),
]

CASES = [
    # subject, category, priority, origin, product
    ("宽带无法连接，光猫红灯", "network", "high", "phone", "千兆光纤宽带"),
    ("Broadband drops every evening", "network", "normal", "email", "Fibre broadband 1000 Mbps"),
    ("5G 信号差，室内经常掉线", "network", "normal", "chat", "5G 商务套餐 100GB"),
    ("本月账单重复扣费", "billing", "high", "phone", "5G 商务套餐 300GB"),
    ("Invoice shows the wrong company name", "billing", "low", "web", ""),
    ("专线延迟高，影响视频会议", "technical", "urgent", "phone", "互联网专线 100M"),
    ("Router keeps restarting", "technical", "normal", "email", "Wi-Fi 6 business router"),
    ("路由器订单迟迟未到", "order", "normal", "web", "Wi-Fi 6 企业路由器"),
    ("需要办理过户", "account", "low", "visit", ""),
    ("Cloud PBX seats not ringing", "technical", "high", "phone", "Cloud PBX per seat"),
    ("Wi-Fi 密码忘记了", "technical", "low", "chat", "Wi-Fi 6 企业路由器"),
    ("Roaming not working in Germany", "network", "urgent", "phone", "5G Business 300 GB plan"),
]
# Target status of each demo case and how many days ago it was opened.
STORY = [CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.ESCALATED, CaseStatus.RESOLVED,
         CaseStatus.CLOSED, CaseStatus.REOPENED, CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.OPEN]


def load_service_demo_data(sender=None, *, users, rng, progress, **kwargs) -> None:
    admin = users[Role.ADMIN][0]
    agents = list(users.get(Role.SERVICE_AGENT, [])) or [admin]
    supervisors = list(users.get(Role.SUPERVISOR, [])) or [admin]
    with transaction.atomic():
        desk = _desk(admin, agents, supervisors)
        _articles(admin, agents)
    progress("service setup", 1, 1)
    contacts = list(Contact.objects.filter(email__gt="").select_related("account").order_by("id")[:400])
    _contracts(admin, contacts, desk)
    cases = _cases(admin, agents, contacts, rng, progress)
    _complaints(admin, supervisors, cases)
    _visits(admin, agents, cases, desk)
    _triage_email()
    services.sla_sweep()
    progress("service cases", len(cases), len(cases))


def _desk(admin, agents, supervisors) -> dict:
    shanghai = services.calendar_create(actor=admin, data={
        "name": "上海办公时间 Shanghai office hours", "time_zone": "Asia/Shanghai", "weekly_hours": OFFICE,
        "days": [{"date": dt.date.fromisoformat(day), "kind": "holiday", "name": name} for day, name in CN_HOLIDAYS_2026]
        + [{"date": dt.date.fromisoformat(day), "kind": "special", "hours": "09:00-12:00, 13:00-18:00",
            "name": "调休 make-up working day"} for day in CN_MAKEUP_DAYS_2026]})
    services.calendar_create(actor=admin, data={
        "name": "Berlin office hours", "time_zone": "Europe/Berlin",
        "weekly_hours": {day: "08:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "days": [{"date": dt.date(2026, 12, 25), "kind": "holiday", "name": "Christmas"},
                 {"date": dt.date(2026, 12, 26), "kind": "holiday", "name": "Boxing Day"}]})
    always = services.calendar_create(actor=admin, data={
        "name": "7×24 round the clock", "time_zone": "Asia/Shanghai",
        "weekly_hours": {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}})
    supervisor = supervisors[0]
    escalate = [{"trigger": "first_response_warning", "mark_escalated": False, "notify_assignee": True},
                {"trigger": "resolution_warning", "mark_escalated": False, "notify_assignee": True},
                {"trigger": "resolution_breach", "raise_priority": True, "mark_escalated": True,
                 "notify_assignee": True, "notify_user_ids": [supervisor.pk]}]
    policies = {}
    for name, priority, tier, calendar, first, resolution in (
            ("Urgent 7×24", "urgent", "", always, 15, 240), ("Gold customers", "", "gold", shanghai, 30, 480),
            ("Platinum customers", "", "platinum", always, 15, 240), ("High", "high", "", shanghai, 60, 960),
            ("Normal", "normal", "", shanghai, 240, 1440), ("Low", "low", "", shanghai, 480, 2400)):
        policies[name] = services.sla_policy_create(actor=admin, data={
            "name": name, "priority": priority, "customer_tier": tier, "calendar_id": calendar.pk,
            "first_response_minutes": first, "resolution_minutes": resolution, "escalation_rules": escalate})
    queues = {
        "billing": services.queue_create(actor=admin, data={
            "code": "billing", "name": "账务 Billing", "strategy": "rrmemory", "required_skills": {"billing": 3},
            "categories": ["billing", "account"], "supervisor_id": supervisor.pk}),
        "network": services.queue_create(actor=admin, data={
            "code": "network", "name": "网络 Network", "strategy": "least-loaded", "required_skills": {"network": 3},
            "categories": ["network", "technical"], "experts_from_priority": "urgent",
            "supervisor_id": supervisor.pk}),
        "general": services.queue_create(actor=admin, data={
            "code": "general", "name": "综合 General", "strategy": "leastrecent", "required_skills": {"general": 1},
            "categories": ["order", "product", "complaint", "other"], "supervisor_id": supervisor.pk}),
    }
    for index, agent in enumerate(agents):
        services.agent_save(actor=admin, user_id=agent.pk, data={
            "skills": {"billing": 3 + index % 6, "network": 8 - index % 5, "general": 5},
            "max_open_cases": 12, "is_technician": index % 3 == 2, "calendar_id": shanghai.pk})
    return {"calendar": shanghai, "policies": policies, "queues": queues}


def _articles(admin, agents) -> None:
    for index, (category, title_zh, problem_zh, solution_zh, title_en, problem_en, solution_en) in \
            enumerate(ARTICLES):
        article = services.article_create(actor=agents[index % len(agents)] if agents else admin, data={
            "category": category, "status": "published", "translations": [
                {"language": "zh-hans", "title": title_zh, "problem": problem_zh, "solution": solution_zh},
                {"language": "en", "title": title_en, "problem": problem_en, "solution": solution_en}]})
        if index == 0:  # one article with a history of edits
            services.article_update(actor=admin, article_id=article.pk, data={"translations": [
                {"language": "en", "solution": solution_en + " Check the splitter too.",
                 "change_note": "Splitters fail often in older buildings"}]})


def _contracts(admin, contacts, desk) -> None:
    seen = set()
    today = timezone.localdate()
    for contact in contacts[:60]:
        account = contact.account
        if account is None or account.pk in seen or not account.value_tier:
            continue
        seen.add(account.pk)
        premium = account.value_tier in ("platinum", "gold")
        services.contract_create(actor=admin, data={
            "name": "7×24 高级支持 Premium support" if premium else "标准支持 Standard support",
            "account_id": account.pk, "starts_on": today.replace(month=1, day=1),
            "ends_on": today.replace(month=12, day=31),
            "sla_policy_id": desk["policies"]["Gold customers"].pk if premium else None,
            "entitlements": [{"name": "Remote support incidents", "unit": "incidents", "quantity": 12 if premium else 4,
                              "categories": ["network", "technical", "billing"]},
                             {"name": "On-site hours", "unit": "hours", "quantity": 16 if premium else 4,
                              "categories": ["technical"]}]})
        if len(seen) >= 12:
            break


def _age(case: Case, days_ago: float) -> None:
    """Move a case's history back in time by ``days_ago`` days (the demo's past)."""
    shift = dt.timedelta(days=days_ago)
    fields = ["created_at", "updated_at", "queued_at", "first_response_due_at", "first_response_warning_at",
              "first_responded_at", "resolution_due_at", "resolution_warning_at", "resolution_clock_since",
              "escalated_at", "resolved_at", "closed_at"]
    Case.objects.filter(pk=case.pk).update(**{field: F(field) - shift for field in fields})
    CaseEvent.objects.filter(case=case).update(at=F("at") - shift)
    CaseMessage.objects.filter(case=case).update(created_at=F("created_at") - shift)
    Survey.objects.filter(case=case).update(sent_at=F("sent_at") - shift, expires_at=F("expires_at") - shift,
                                            answered_at=F("answered_at") - shift)
    ServiceNotification.objects.filter(case=case).update(created_at=F("created_at") - shift)
    from guanxi.interactions.models import Interaction

    Interaction.objects.filter(source_type="case_message",
                               source_id__in=[str(pk) for pk in case.messages.values_list("pk", flat=True)]) \
        .update(occurred_at=F("occurred_at") - shift)


def _order_number(contact, index: int) -> str:
    """The customer's own sales order when the sales demo made one (the case then links it),
    else a number from the web shop, which the CRM does not hold."""
    from guanxi.sales.models import Order

    mine = Order.objects.filter(account_id=contact.account_id) if contact.account_id else Order.objects.none()
    return mine.values_list("number", flat=True).first() or f"SHOP-2026-{1000 + index}"


def _cases(admin, agents, contacts, rng, progress) -> list[Case]:
    made = []
    total = min(len(contacts), 60)
    for index in range(total):
        contact = contacts[index]
        subject, category, priority, origin, product = CASES[index % len(CASES)]
        story = STORY[index % len(STORY)]
        if story in (CaseStatus.NEW, CaseStatus.OPEN):
            # The first new and open cases are under an hour old, so no resolution target
            # (4 hours at the shortest) has passed and the desk always shows both statuses.
            days_ago = rng.uniform(0.005, 0.03) if index < len(STORY) else rng.uniform(0.05, 3.0)
        else:
            days_ago = rng.uniform(1, 30)
        case = services.case_open(actor=agents[index % len(agents)], data={
            "subject": subject, "description": rng.choice([
                "客户来电反映问题，已记录详细情况。", "The customer described the problem in detail.",
                "客户在 App 内提交，附带截图。", "Second time this month, customer is unhappy."]),
            "contact_id": contact.pk, "category": category, "priority": priority, "origin": origin,
            "product": product, "order_ref": _order_number(contact, index) if category == "order" else ""})
        holder = case.assignee or admin
        if story != CaseStatus.NEW:
            services.case_reply(actor=holder, case_id=case.pk, body=rng.choice([
                "您好，我们已收到您的问题，正在处理。", "Thanks, we are looking into it.",
                "请您重启设备后再试一次。", "Could you send a photo of the device lights?"]))
        if story == CaseStatus.PENDING_CUSTOMER:
            services.case_change_status(actor=holder, case_id=case.pk, status=CaseStatus.PENDING_CUSTOMER)
        elif story == CaseStatus.ESCALATED:
            services.case_change_status(actor=holder, case_id=case.pk, status=CaseStatus.ESCALATED,
                                        note="Needs the network operations team")
        elif story in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.REOPENED):
            services.case_change_status(actor=holder, case_id=case.pk, status=CaseStatus.RESOLVED,
                                        note=rng.choice(["Restarted the modem remotely.", "已退款。",
                                                         "Replaced the device.", "已恢复服务。"]))
            survey = Survey.objects.filter(case=case).first()
            if survey is not None and rng.random() < 0.7:
                services.survey_answer(token=survey.token, csat_score=rng.choice([5, 5, 4, 4, 4, 3, 2]),
                                       nps_score=rng.choice([10, 9, 9, 8, 7, 6, 3]),
                                       comment=rng.choice(["", "很快就解决了", "Friendly agent", "等了太久"]))
            if story == CaseStatus.CLOSED:
                services.case_change_status(actor=holder, case_id=case.pk, status=CaseStatus.CLOSED)
            if story == CaseStatus.REOPENED:
                services.case_add_customer_message(case_id=case.pk, body="问题又出现了。The problem is back.",
                                                   from_address=contact.email)
        _age(case, days_ago)
        made.append(case)
        progress("service cases", index + 1, total)
    return made


def _complaints(admin, supervisors, cases) -> None:
    steps = [{}, {"status": "investigating"},
             {"status": "investigating", "then": {"status": "action", "root_cause": "装维人员排班过满，上门迟到。",
                                                  "corrective_action": "Apologised and credited one month."}}]
    for case, step in zip(cases[3::17], steps):
        complaint = services.complaint_create(actor=admin, data={
            "case_id": case.pk, "subject": f"投诉：{case.subject}", "description": "客户对处理速度不满意。",
            "severity": "high", "owner_id": supervisors[0].pk})
        if step:
            services.complaint_update(actor=supervisors[0], complaint_id=complaint.pk,
                                      data={"status": step["status"]})
        if "then" in step:
            services.complaint_update(actor=supervisors[0], complaint_id=complaint.pk, data=step["then"])


def _visits(admin, agents, cases, desk) -> None:
    from guanxi.service.models import ServiceAgent

    technicians = list(ServiceAgent.objects.filter(is_technician=True).values_list("user_id", flat=True))
    if not technicians:
        return
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    zone = timezone.get_current_timezone()
    open_cases = [case for case in cases if Case.objects.filter(pk=case.pk, status__in=("open", "escalated",
                                                                                        "new")).exists()]
    for index, case in enumerate(open_cases[:4]):
        start = dt.datetime.combine(day, dt.time(9 + 2 * (index // len(technicians))), zone)
        try:
            services.visit_schedule(actor=admin, case_id=case.pk, technician_id=technicians[index % len(technicians)],
                                    starts_at=start, ends_at=start + dt.timedelta(hours=1, minutes=30),
                                    address="上海市浦东新区世纪大道 100 号", notes="请提前电话联系客户。")
        except (ValidationError, Conflict):  # e.g. a holiday: the demo simply has one visit less
            continue


def _triage_email() -> None:
    message = EmailMessage()
    message["From"] = "陌生客户 <new.customer@unknown-mail.cn>"
    message["To"] = "support@guanxi.example"
    message["Subject"] = "请问怎么办理企业宽带？"
    message["Message-ID"] = "<demo-triage-1@unknown-mail.cn>"
    message.set_content("你好，我们公司想办理企业宽带，请联系我。电话 138 0000 1234。")
    ingest_raw_email(message.as_bytes(), received_via="demo")
