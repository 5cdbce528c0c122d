"""Realistic demo data: a Chinese telecom/bank/retail customer base with bilingual names.

Deterministic (seeded) so screenshots and tests see the same data every time. Records
are written through the same services users go through, so they are normalized,
indexed for search and audited like real ones. Later domains add their own demo data
by connecting to ``demo_data_loaded``.
"""

from __future__ import annotations

import datetime
import random
import re
from dataclasses import dataclass

import phonenumbers
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from guanxi.core import services
from guanxi.core.models import (
    AccountKind, Channel, Contact, CustomField, Education, Gender, IncomeBand, LifecycleStage, MaritalStatus,
    RelationshipStage, Role, Team, Territory, User, ValueTier,
)

demo_data_loaded = Signal()  # kwargs: users (dict role → list[User]), rng (random.Random), progress

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "guanxi-admin-2026"
STAFF_PASSWORD = "guanxi-demo-2026"

FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN_CHARACTERS = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍鹏辉玲建华丹晨阳宇浩然欣怡梓涵子轩雨桐思远佳琪晓东海燕志强文博嘉怡俊杰春梅国庆建国红梅"
ENGLISH_GIVEN = ["James", "Emily", "Michael", "Sarah", "David", "Anna", "Thomas", "Laura", "Daniel", "Sophie",
                 "Oliver", "Grace", "Lukas", "Hannah", "Peter", "Claire", "Mark", "Julia", "Paul", "Chloe"]
ENGLISH_FAMILY = ["Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Schmidt", "Müller", "Martin",
                  "Bernard", "Clarke", "Walker", "Wright", "Hughes", "Fischer", "Weber", "Evans", "Moore"]
COMPANY_PREFIXES = ["华信", "中联", "瑞丰", "恒通", "嘉禾", "鼎盛", "腾达", "金桥", "远航", "新元", "星河", "博雅",
                    "东方", "汇丰", "安泰", "长城", "天启", "海纳", "宏图", "卓越", "正泰", "盛世", "锦程", "永兴"]
COMPANY_SUFFIXES = {
    "telecom": "通信", "banking": "金融服务", "retail": "商贸", "manufacturing": "制造", "logistics": "物流",
    "healthcare": "医疗科技", "education": "教育科技", "energy": "能源", "software": "软件", "hospitality": "酒店管理",
}
ENGLISH_COMPANIES = ["Northwind Traders", "Contoso Retail", "Fabrikam Telecom", "Tailspin Logistics",
                     "Litware Bank", "Adatum Energy", "Proseware Health", "Woodgrove Finance", "Alpine Ski House",
                     "Blue Yonder Airlines", "Coho Winery", "Fourth Coffee", "Lucerne Publishing", "Margie's Travel"]
OCCUPATIONS = ["engineer", "teacher", "doctor", "nurse", "accountant", "manager", "civil servant", "sales",
               "student", "retired", "entrepreneur", "designer", "lawyer", "driver", "chef", "researcher"]
INTERESTS = ["travel", "football", "basketball", "photography", "cooking", "reading", "music", "films", "hiking",
             "gaming", "tea", "calligraphy", "investing", "fitness", "fashion"]
REGIONS = [
    # code, name, region, provinces, cities (Chinese), postcode prefixes
    ("cn-north", "华北 North China", "North", ["北京", "天津", "河北"], ["北京", "天津", "石家庄"], ["10", "30", "05"]),
    ("cn-east", "华东 East China", "East", ["上海", "江苏", "浙江"], ["上海", "南京", "杭州", "苏州"], ["20", "21", "31"]),
    ("cn-south", "华南 South China", "South", ["广东", "福建", "海南"], ["广州", "深圳", "厦门", "海口"], ["51", "36", "57"]),
    ("cn-west", "西南 South-west China", "West", ["四川", "重庆", "云南"], ["成都", "重庆", "昆明"], ["61", "40", "65"]),
    ("intl", "International", "International", ["California", "Bavaria", "London"], ["San Francisco", "Munich",
                                                                                     "London"], []),
]
DISTRICTS = ["朝阳区", "海淀区", "浦东新区", "徐汇区", "天河区", "南山区", "福田区", "武侯区", "西湖区", "鼓楼区"]
STREETS = ["建国路", "人民路", "中山路", "解放路", "长安街", "南京路", "深南大道", "天府大道", "文三路", "科技园路"]
INTERACTION_REASONS = ["billing question", "new contract", "upgrade offer", "complaint", "technical support",
                       "payment reminder", "product information", "renewal", "address change", "roaming"]
INTERACTION_OUTCOMES = ["resolved", "follow-up scheduled", "offer sent", "escalated", "no answer", "purchased",
                        "information given", "callback requested"]


@dataclass
class DemoSummary:
    users: int
    accounts: int
    contacts: int
    interactions: int


def _chinese_name(rng: random.Random) -> tuple[str, str]:
    given = "".join(rng.choice(GIVEN_CHARACTERS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(FAMILY_NAMES), given


def _mobile(rng: random.Random, used: set[str]) -> str:
    while True:
        prefix = rng.choice(["138", "139", "136", "150", "152", "158", "186", "187", "189", "135", "177", "199"])
        number = prefix + "".join(str(rng.randrange(10)) for _ in range(8))
        parsed = phonenumbers.parse(number, "CN")
        if number not in used and phonenumbers.is_valid_number(parsed):
            used.add(number)
            # users type numbers every which way; the services normalize them
            return rng.choice([number, f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number}",
                               f"{number[:3]}-{number[3:7]}-{number[7:]}"])


def _users(rng: random.Random, territories: dict[str, Territory]) -> dict[str, list[User]]:
    teams = {name: Team.objects.get_or_create(name=name, defaults={"territory": territories.get(code)})[0]
             for name, code in [("North Sales 华北销售", "cn-north"), ("East Sales 华东销售", "cn-east"),
                                ("South Sales 华南销售", "cn-south"), ("Customer Service 客服", None),
                                ("Contact Center 呼叫中心", None), ("Marketing 市场部", None), ("Analytics 分析", None)]}
    plan = [
        ("sales.manager", Role.SALES_MANAGER, "李经理 Li Na", "East Sales 华东销售", "cn-east"),
        ("rep.wang", Role.SALES_REP, "王伟 Wang Wei", "East Sales 华东销售", "cn-east"),
        ("rep.zhang", Role.SALES_REP, "张敏 Zhang Min", "East Sales 华东销售", "cn-east"),
        ("rep.chen", Role.SALES_REP, "陈杰 Chen Jie", "South Sales 华南销售", "cn-south"),
        ("rep.liu", Role.SALES_REP, "刘洋 Liu Yang", "South Sales 华南销售", "cn-south"),
        ("rep.zhao", Role.SALES_REP, "赵磊 Zhao Lei", "North Sales 华北销售", "cn-north"),
        ("rep.smith", Role.SALES_REP, "Emily Smith", "North Sales 华北销售", "intl"),
        ("marketer", Role.MARKETER, "周静 Zhou Jing", "Marketing 市场部", None),
        ("service.agent", Role.SERVICE_AGENT, "吴芳 Wu Fang", "Customer Service 客服", None),
        ("cc.agent", Role.CONTACT_CENTER_AGENT, "孙丽 Sun Li", "Contact Center 呼叫中心", None),
        ("cc.agent2", Role.CONTACT_CENTER_AGENT, "马超 Ma Chao", "Contact Center 呼叫中心", None),
        ("supervisor", Role.SUPERVISOR, "黄强 Huang Qiang", "Contact Center 呼叫中心", "cn-south"),
        ("analyst", Role.ANALYST, "徐涛 Xu Tao", "Analytics 分析", None),
    ]
    users: dict[str, list[User]] = {}
    admin = services.user_create(actor=None, username=ADMIN_USERNAME, password=ADMIN_PASSWORD, role=Role.ADMIN,
                                 display_name="系统管理员 Administrator", is_superuser=True,
                                 email="admin@guanxi.example")
    users[Role.ADMIN] = [admin]
    for username, role, name, team, territory in plan:
        user = services.user_create(actor=None, username=username, password=STAFF_PASSWORD, role=role,
                                    display_name=name, team=teams[team], territory=territories.get(territory),
                                    email=f"{username}@guanxi.example",
                                    language="zh-hans" if rng.random() < 0.5 else "en")
        users.setdefault(role, []).append(user)
    manager = users[Role.SALES_MANAGER][0]
    Team.objects.filter(name="East Sales 华东销售").update(manager=manager)
    return users


def load_demo_data(*, contacts: int = 2400, accounts: int = 300, seed: int = 2026, progress=None) -> DemoSummary:
    """Create the demo company. ``progress(step_label, done, total)`` is called as it goes."""
    from guanxi.interactions.models import Direction, Interaction

    rng = random.Random(seed)
    report = progress or (lambda label, done, total: None)
    with transaction.atomic():
        china = Territory.objects.create(code="cn", name="中国 China", region="China")
        territories = {}
        for code, name, region, provinces, cities, postcodes in REGIONS:
            territories[code] = Territory.objects.create(
                code=code, name=name, region=region, provinces=provinces, cities=cities,
                postcode_prefixes=postcodes, parent=china if code.startswith("cn-") else None)
        users = _users(rng, territories)
        admin = users[Role.ADMIN][0]
        CustomField.objects.create(target="contact", key="membership_no", label="Membership number",
                                   label_zh="会员号", field_type="text", position=1)
        CustomField.objects.create(target="contact", key="preferred_store", label="Preferred store",
                                   label_zh="常去门店", field_type="choice",
                                   choices=["Beijing Sanlitun", "Shanghai Nanjing Road", "Shenzhen Futian",
                                            "Chengdu Taikoo Li"], position=2)
        CustomField.objects.create(target="account", key="contract_level", label="Contract level",
                                   label_zh="合同级别", field_type="choice", choices=["basic", "plus", "premium"])

    reps = users[Role.SALES_REP] + users[Role.SALES_MANAGER]
    agents = users[Role.SERVICE_AGENT] + users[Role.CONTACT_CENTER_AGENT] + reps
    industries = list(COMPANY_SUFFIXES)
    used_numbers: set[str] = set()
    account_rows = []
    for index in range(accounts):
        owner = rng.choice(reps)
        territory_code = owner.territory.code if owner.territory else "cn-east"
        region = next(r for r in REGIONS if r[0] == territory_code)
        industry = rng.choice(industries)
        household = index % 10 == 9
        if territory_code == "intl":
            name = f"{rng.choice(ENGLISH_COMPANIES)} {rng.choice(['Ltd', 'GmbH', 'Inc', 'LLC'])} #{index + 1}"
        elif household:
            family, _given = _chinese_name(rng)
            name = f"{family}家 {family} household #{index + 1}"
        else:
            city = rng.choice(region[4])
            name = f"{city}{rng.choice(COMPANY_PREFIXES)}{COMPANY_SUFFIXES[industry]}有限公司"
            if any(existing["name"] == name for existing in account_rows):
                name = f"{name}（{index + 1}）"
        data = {
            "name": name, "kind": AccountKind.HOUSEHOLD if household else AccountKind.COMPANY,
            "industry": "" if household else industry, "external_id": f"ACC-{index + 1:05d}",
            "owner_id": owner.pk, "territory_id": territories[territory_code].pk,
            "lifecycle_stage": rng.choice(LifecycleStage.values),
            "value_tier": rng.choices(ValueTier.values, weights=[1, 4, 15, 80])[0],
            "relationship_stage": rng.choice(RelationshipStage.values),
            "is_key_account": index % 25 == 0, "employees": None if household else rng.choice([12, 45, 120, 800, 5200]),
            "annual_revenue": None if household else rng.choice([2_000_000, 15_000_000, 120_000_000, 900_000_000]),
            "phone": _mobile(rng, used_numbers) if territory_code != "intl" else "+1 415 555 01%02d" % (index % 100),
            "custom_data": {"contract_level": rng.choice(["basic", "plus", "premium"])},
            "addresses": [{"kind": "billing", "country": "CN" if territory_code != "intl" else "US",
                           "province": rng.choice(region[3]), "city": rng.choice(region[4]),
                           "district": rng.choice(DISTRICTS) if territory_code != "intl" else "",
                           "street": f"{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
                           "postcode": (rng.choice(region[5]) + f"{rng.randrange(0, 9999):04d}") if region[5] else "94105",
                           "is_primary": True}],
        }
        if data["is_key_account"]:
            data["account_team"] = [{"user_id": owner.pk, "team_role": "account executive"},
                                    {"user_id": users[Role.SERVICE_AGENT][0].pk, "team_role": "service lead"}]
        account_rows.append(data)
    created_accounts = []
    for index, data in enumerate(account_rows):
        with transaction.atomic():
            created_accounts.append(services.account_create(actor=admin, data=data))
        report("accounts", index + 1, accounts)

    for index in range(contacts):
        account = created_accounts[index % accounts] if index < accounts * 7 else rng.choice(created_accounts)
        international = account.territory and account.territory.code == "intl"
        if international:
            given, family = rng.choice(ENGLISH_GIVEN), rng.choice(ENGLISH_FAMILY)
            alternate = ""
            phone = f"+1 415 555 {rng.randrange(1000, 9999)}" if rng.random() < 0.5 else \
                f"+49 89 {rng.randrange(1000000, 9999999)}"
            domain = re.sub(r"[^a-z0-9]", "", account.name.split()[0].lower())
            email = f"{given}.{family.replace('ü', 'ue')}{index}@{domain}.example"
        else:
            family, given = _chinese_name(rng)
            alternate = rng.choice(ENGLISH_GIVEN) + " " + rng.choice(["Wang", "Li", "Zhang", "Chen", "Liu"]) \
                if rng.random() < 0.35 else ""
            phone = _mobile(rng, used_numbers)
            email = f"user{index + 1}@{rng.choice(['qq.com', '163.com', 'example.cn', 'mail.example'])}"
        birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 55))
        data = {
            "family_name": family, "given_name": given, "alternate_name": alternate, "account_id": account.pk,
            "external_id": f"CUS-{index + 1:06d}", "phone": phone, "email": email.lower(),
            "job_title": rng.choice(["采购经理", "总经理", "IT 主管", "财务总监", "Operations lead", "", ""]),
            "birth_date": birth, "gender": rng.choice(Gender.values[:2] * 4 + [Gender.UNDISCLOSED]),
            "income_band": rng.choice(IncomeBand.values), "occupation": rng.choice(OCCUPATIONS),
            "education": rng.choice(Education.values), "marital_status": rng.choice(MaritalStatus.values),
            "household_size": rng.randrange(1, 6), "interests": rng.sample(INTERESTS, rng.randrange(0, 4)),
            "preferred_channel": rng.choice([Channel.PHONE, Channel.EMAIL, Channel.SMS, Channel.CHAT, Channel.WEB]),
            "preferred_language": "en" if international else "zh-hans",
            "consent_email": rng.random() < 0.7, "consent_sms": rng.random() < 0.5,
            "consent_phone": rng.random() < 0.6, "consent_mail": rng.random() < 0.3,
            "do_not_contact": rng.random() < 0.02, "lifecycle_stage": account.lifecycle_stage,
            "value_tier": account.value_tier, "relationship_stage": account.relationship_stage,
            "owner_id": account.owner_id, "territory_id": account.territory_id,
            "tags": rng.sample(["VIP", "5G", "宽带", "家庭套餐", "企业专线", "信用卡", "理财", "会员"], rng.randrange(0, 3)),
            "custom_data": {"membership_no": f"M{index + 100000}"} if rng.random() < 0.6 else {},
        }
        with transaction.atomic():
            services.contact_create(actor=admin, data=data)
        report("contacts", index + 1, contacts)

    # The interaction history: bulk-written (the demo's past), each tied to contact and agent.
    contact_rows = list(Contact.objects.values_list("id", "account_id"))
    now = timezone.now()
    batch = []
    channels = [Channel.PHONE] * 5 + [Channel.EMAIL] * 3 + [Channel.SMS, Channel.CHAT, Channel.CHAT, Channel.VISIT,
                                                            Channel.WEB, Channel.IVR, Channel.LETTER, Channel.VIDEO]
    for contact_id, account_id in contact_rows:
        for _ in range(rng.randrange(1, 6)):
            channel = rng.choice(channels)
            batch.append(Interaction(
                contact_id=contact_id, account_id=account_id, agent=rng.choice(agents),
                direction=rng.choice([Direction.INBOUND, Direction.OUTBOUND]), channel=channel,
                occurred_at=now - datetime.timedelta(minutes=rng.randrange(10, 60 * 24 * 540)),
                duration_seconds=rng.randrange(30, 1200) if channel in (Channel.PHONE, Channel.VIDEO) else 0,
                reason=rng.choice(INTERACTION_REASONS), outcome=rng.choice(INTERACTION_OUTCOMES),
                subject=rng.choice(INTERACTION_REASONS).capitalize(),
                script=rng.choice(["", "", "retention-v2", "upsell-5g", "welcome-call"]),
                notes=rng.choice(["", "客户很满意。", "Asked for a written offer.", "需要回访。", "Prefers WeChat."])))
    Interaction.objects.bulk_create(batch, batch_size=2000)
    report("interactions", len(batch), len(batch))
    demo_data_loaded.send(sender=load_demo_data, users=users, rng=rng, progress=report)
    return DemoSummary(users=User.objects.count(), accounts=len(created_accounts),
                       contacts=Contact.objects.count(), interactions=len(batch))
