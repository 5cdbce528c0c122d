"""Commissions: the most specific rule (rep, product, family, tier) pays per order line;
statements per rep and month; recalculated when orders change or rules change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.sales import services
from guanxi.sales.models import CommissionEntry, CommissionRule, Order

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def rules(admin_user, rep, catalogue):
    services.commission_rule_create(actor=admin_user, data={"name": "Everyone", "rate_percent": Decimal("3")})
    services.commission_rule_create(actor=admin_user, data={"name": "Hardware", "product_family": "hardware",
                                                            "rate_percent": Decimal("2")})
    services.commission_rule_create(actor=admin_user, data={"name": "Wang's plans", "user_id": rep.pk,
                                                            "product_id": catalogue["plan"].pk,
                                                            "rate_percent": Decimal("6")})


@pytest.fixture
def order(admin_user, deal, catalogue, rules):
    quote = services.quote_create(actor=admin_user, data={"opportunity_id": deal.pk, "lines": [
        {"product_id": catalogue["plan"].pk, "quantity": 10},
        {"product_id": catalogue["router"].pk, "quantity": 1}]})
    services.quote_send(actor=admin_user, quote_id=quote.pk)
    services.quote_accept(actor=None, quote_id=quote.pk, accepted_by_name="王芳")
    return services.order_create_from_quote(actor=admin_user, quote_id=quote.pk)


def test_each_line_earns_at_the_most_specific_rule(order, rep):
    entries = {entry.order_line.product.sku: entry for entry in
               CommissionEntry.objects.filter(order=order).select_related("order_line__product", "rule")}
    assert entries["5G-100"].rule.name == "Wang's plans" and entries["5G-100"].amount == Decimal("120.00")
    assert entries["ROUTER"].rule.name == "Hardware" and entries["ROUTER"].amount == Decimal("20.00")
    assert entries["INSTALL"].rule.name == "Everyone" and entries["INSTALL"].amount == Decimal("9.00")
    assert {entry.user_id for entry in entries.values()} == {rep.pk}
    assert {entry.period for entry in entries.values()} == {timezone.localdate().strftime("%Y-%m")}


def test_the_statement_sums_per_rep_and_month(rep_client, order, rep):
    period = timezone.localdate().strftime("%Y-%m")
    statements = rep_client.get("/api/v1/sales/commissions/statements", {"period": period}).json()
    assert statements == [{"user_id": rep.pk, "user": "rep.wang", "period": period, "currency": "CNY", "lines": 3,
                           "orders": 1, "base_amount": "3300.00", "commission": "149.00"}]
    lines = rep_client.get("/api/v1/sales/commissions/entries", {"user_id": rep.pk, "period": period}).json()
    assert sorted(item["product"]["sku"] for item in lines["items"]) == ["5G-100", "INSTALL", "ROUTER"]


def test_a_changed_order_is_recalculated(api_client, order):
    line = order.lines.get(product__sku="5G-100")
    api_client.patch(f"/api/v1/sales/orders/{order.pk}/lines/{line.pk}", {"quantity": "5"},
                     content_type="application/json")
    assert CommissionEntry.objects.get(order_line=line).amount == Decimal("60.00")
    post(api_client, f"/api/v1/sales/orders/{order.pk}/status", {"status": "cancelled", "note": "customer withdrew"})
    assert not CommissionEntry.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_changing_the_rules_recalculates_this_months_orders(api_client, order, django_capture_on_commit_callbacks):
    rule = CommissionRule.objects.get(name="Everyone")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.patch(f"/api/v1/sales/commission-rules/{rule.pk}", {"rate_percent": "10"},
                                    content_type="application/json")
    assert response.status_code == 200
    assert CommissionEntry.objects.get(order=order, order_line__product__sku="INSTALL").amount == Decimal("30.00")


def test_reps_see_only_their_own_statements_and_cannot_change_rules(client_for, make_user, order):
    other = make_user("rep.other", "sales_rep")
    client = client_for(other)
    assert client.get("/api/v1/sales/commissions/statements").json() == []
    refused = post(client, "/api/v1/sales/commission-rules", {"name": "Me", "rate_percent": "50"})
    assert refused.status_code == 403
    assert not CommissionRule.objects.filter(name="Me").exists()


def test_a_rule_needs_a_rate_and_known_references(api_client):
    missing = post(api_client, "/api/v1/sales/commission-rules", {"name": "No rate"})
    unknown = post(api_client, "/api/v1/sales/commission-rules", {"name": "X", "rate_percent": "1", "user_id": 99999})
    assert missing.status_code == 422 and "rate_percent" in missing.json()["errors"]
    assert unknown.status_code == 422 and "user_id" in unknown.json()["errors"]
    assert not CommissionRule.objects.exists()
