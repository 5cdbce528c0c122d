"""Fixtures of the sales tests: a small sales organisation and a priced catalogue."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.core.models import Role, Team, Territory


@pytest.fixture
def east(db) -> Territory:
    return Territory.objects.create(code="cn-east", name="East China", provinces=["上海", "浙江"],
                                    cities=["上海", "杭州"], postcode_prefixes=["20", "31"], industries=[])


@pytest.fixture
def south(db) -> Territory:
    return Territory.objects.create(code="cn-south", name="South China", provinces=["广东"], cities=["广州", "深圳"],
                                    postcode_prefixes=["51"], industries=["logistics"])


@pytest.fixture
def east_team(east) -> Team:
    return Team.objects.create(name="East Sales", territory=east)


@pytest.fixture
def rep(make_user, east_team, east):
    return make_user("rep.wang", Role.SALES_REP, team=east_team, territory=east, email="wang@guanxi.example")


@pytest.fixture
def manager(make_user, east_team, east):
    user = make_user("sales.manager", Role.SALES_MANAGER, team=east_team, territory=east)
    east_team.manager = user
    east_team.save(update_fields=["manager"])
    return user


@pytest.fixture
def rep_client(rep, client_for):
    return client_for(rep)


@pytest.fixture
def catalogue(admin_user):
    """Two products and a bundle, priced in a CNY list, a gold-tier CNY list and a USD list."""
    from guanxi.sales import services

    router = services.product_create(actor=admin_user, data={"sku": "ROUTER", "name": "Business router",
                                                             "name_zh": "企业路由器", "family": "hardware"})
    plan = services.product_create(actor=admin_user, data={"sku": "5G-100", "name": "5G plan 100 GB",
                                                           "name_zh": "5G 套餐 100GB", "kind": "subscription",
                                                           "family": "mobile"})
    support = services.product_create(actor=admin_user, data={"sku": "SUPPORT", "name": "Support", "kind": "service",
                                                              "family": "support"})
    premium = services.product_create(actor=admin_user, data={"sku": "SUPPORT-247", "name": "Support 24/7",
                                                              "kind": "service", "family": "support"})
    install = services.product_create(actor=admin_user, data={"sku": "INSTALL", "name": "Installation",
                                                              "kind": "service", "family": "services"})
    services.product_update(actor=admin_user, product_id=router.pk, data={"options": [
        {"option_id": support.pk, "group": "Support"}, {"option_id": premium.pk, "group": "Support"},
        {"option_id": install.pk, "is_required": True}]})
    bundle = services.product_create(actor=admin_user, data={
        "sku": "STARTER", "name": "Starter pack", "kind": "bundle", "family": "bundles",
        "components": [{"component_id": router.pk, "quantity": 1}, {"component_id": plan.pk, "quantity": 12}]})
    prices = {router: 1000, plan: 200, support: 50, premium: 150, install: 300, bundle: 3000}
    cny = services.price_list_create(actor=admin_user, data={
        "name": "CNY list", "currency": "CNY",
        "entries": [{"product_id": product.pk, "unit_price": Decimal(price)} for product, price in prices.items()]})
    gold = services.price_list_create(actor=admin_user, data={
        "name": "CNY gold", "currency": "CNY", "customer_tier": "gold",
        "entries": [{"product_id": router.pk, "unit_price": Decimal("900")},
                    {"product_id": install.pk, "unit_price": Decimal("250")}]})
    usd = services.price_list_create(actor=admin_user, data={
        "name": "USD list", "currency": "USD", "entries": [{"product_id": router.pk, "unit_price": Decimal("150")}]})
    return {"router": router, "plan": plan, "support": support, "premium": premium, "install": install,
            "bundle": bundle, "cny": cny, "gold": gold, "usd": usd}


@pytest.fixture
def customer(admin_user, rep):
    """An account with a contact, owned by the rep."""
    from guanxi.core import services as core_services

    account = core_services.account_create(actor=admin_user, data={"name": "星河物流有限公司", "owner_id": rep.pk,
                                                                   "value_tier": "silver"})
    contact = core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang.fang@xinghe.example", "phone": "138 0013 8000", "account_id": account.pk,
        "owner_id": rep.pk, "preferred_language": "zh-hans"})
    return {"account": account, "contact": contact}


@pytest.fixture
def deal(admin_user, rep, customer):
    from guanxi.sales import services

    return services.opportunity_create(actor=admin_user, data={
        "name": "Xinghe 5G fleet", "account_id": customer["account"].pk, "contact_id": customer["contact"].pk,
        "owner_id": rep.pk, "amount": Decimal("50000"), "close_date": timezone.localdate() + datetime.timedelta(days=20)})


def json_body(data) -> dict:
    """Serialize dates and decimals the way a client would."""
    def convert(value):
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return convert(data)
