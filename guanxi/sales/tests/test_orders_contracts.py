"""Orders from accepted quotes with status tracking; contracts with signature, renewal
reminders, automatic renewal opportunities and renewal."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.interactions.models import Interaction
from guanxi.sales import services
from guanxi.sales.models import (
    Activity, Contract, ContractStatus, Opportunity, Order, OrderLine, OrderStatus, Quote,
)

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def accepted_quote(admin_user, deal, catalogue):
    quote = services.quote_create(actor=admin_user, data={"opportunity_id": deal.pk, "discount_percent": 10,
                                                          "lines": [{"product_id": catalogue["plan"].pk,
                                                                     "quantity": 10},
                                                                    {"product_id": catalogue["support"].pk,
                                                                     "quantity": 2, "discount_percent": 5}]})
    services.quote_approve(actor=admin_user, quote_id=quote.pk) if quote.approval_status == "pending" else None
    services.quote_send(actor=admin_user, quote_id=quote.pk)
    return services.quote_accept(actor=None, quote_id=quote.pk, accepted_by_name="王芳")


def test_an_accepted_quote_becomes_an_order_and_wins_the_deal(rep_client, accepted_quote, deal):
    response = post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk, "notes": "Deliver Monday"})
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert order.number.startswith("SO-") and order.status == OrderStatus.CONFIRMED
    # the quote discount is folded into each line: 2000 × 0.9 and 100 × 0.95 × 0.9
    assert list(order.lines.values_list("line_total", flat=True)) == [Decimal("1800.00"), Decimal("85.50")]
    assert (order.subtotal, order.total) == (Decimal("1885.50"), accepted_quote.total)
    deal.refresh_from_db()
    assert deal.is_won and deal.close_reason == "quote_accepted" and deal.amount == Decimal("1885.50")
    assert [entry["to_status"] for entry in body["history"]] == ["confirmed"]


def test_a_quote_is_ordered_once(rep_client, accepted_quote):
    assert post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk}).status_code == 201
    again = post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert Order.objects.count() == 1


def test_a_quote_not_accepted_is_not_ordered(rep_client, admin_user, deal, catalogue):
    draft = services.quote_create(actor=admin_user, data={"opportunity_id": deal.pk,
                                                          "lines": [{"product_id": catalogue["plan"].pk}]})
    response = post(rep_client, "/api/v1/sales/orders", {"quote_id": draft.pk})
    assert response.status_code == 409
    assert not Order.objects.exists()


def test_tracking_follows_the_status_flow(rep_client, accepted_quote):
    order_id = post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk}).json()["id"]
    path = f"/api/v1/sales/orders/{order_id}/status"
    no_tracking = post(rep_client, path, {"status": "shipped", "carrier": "SF Express"})
    skip = post(rep_client, path, {"status": "completed"})
    assert no_tracking.status_code == 422 and "tracking_number" in no_tracking.json()["errors"]
    assert skip.status_code == 409
    assert Order.objects.get(pk=order_id).status == OrderStatus.CONFIRMED

    shipped = post(rep_client, path, {"status": "shipped", "carrier": "SF Express", "tracking_number": "SF1234"})
    assert shipped.status_code == 200 and shipped.json()["tracking_number"] == "SF1234"
    cancel_after_shipping = post(rep_client, path, {"status": "cancelled", "note": "late"})
    assert cancel_after_shipping.status_code == 409
    assert post(rep_client, path, {"status": "delivered"}).status_code == 200
    order = Order.objects.get(pk=order_id)
    assert order.status == OrderStatus.DELIVERED
    assert list(order.status_changes.values_list("to_status", flat=True)) == ["confirmed", "shipped", "delivered"]


def test_lines_can_be_corrected_until_shipping(rep_client, accepted_quote):
    order = Order.objects.get(pk=post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk}).json()["id"])
    line = order.lines.first()
    response = rep_client.patch(f"/api/v1/sales/orders/{order.pk}/lines/{line.pk}", {"quantity": "5"},
                                content_type="application/json")
    assert response.status_code == 200
    order.refresh_from_db()
    assert OrderLine.objects.get(pk=line.pk).line_total == Decimal("900.00") and order.subtotal == Decimal("985.50")
    post(rep_client, f"/api/v1/sales/orders/{order.pk}/status", {"status": "shipped", "tracking_number": "X1"})
    late = rep_client.patch(f"/api/v1/sales/orders/{order.pk}/lines/{line.pk}", {"quantity": "1"},
                            content_type="application/json")
    assert late.status_code == 409
    assert OrderLine.objects.get(pk=line.pk).quantity == Decimal("5")


def test_a_contract_from_an_order_is_signed_and_lands_on_the_timeline(rep_client, accepted_quote, customer):
    order_id = post(rep_client, "/api/v1/sales/orders", {"quote_id": accepted_quote.pk}).json()["id"]
    today = timezone.localdate()
    created = post(rep_client, "/api/v1/sales/contracts", {
        "order_id": order_id, "start_date": today.isoformat(),
        "end_date": (today + datetime.timedelta(days=364)).isoformat(), "auto_renew": True})
    assert created.status_code == 201, created.content
    contract = Contract.objects.get(pk=created.json()["id"])
    assert (contract.account_id, contract.value, contract.status) == (customer["account"].pk, Decimal("1885.50"),
                                                                      ContractStatus.DRAFT)
    unsigned = post(rep_client, f"/api/v1/sales/contracts/{contract.pk}/sign", {"signed_by_name": " "})
    assert unsigned.status_code == 422
    signed = post(rep_client, f"/api/v1/sales/contracts/{contract.pk}/sign", {"signed_by_name": "王芳"})
    assert signed.status_code == 200 and signed.json()["status"] == "active"
    assert Interaction.objects.filter(contact=customer["contact"], source_type="sales.contract.signed").exists()
    twice = post(rep_client, f"/api/v1/sales/contracts/{contract.pk}/sign", {"signed_by_name": "王芳"})
    assert twice.status_code == 409
    value_change = rep_client.patch(f"/api/v1/sales/contracts/{contract.pk}", {"value": "1"},
                                    content_type="application/json")
    assert value_change.status_code == 422
    assert Contract.objects.get(pk=contract.pk).value == Decimal("1885.50")


def test_a_contract_ending_before_it_starts_is_refused(rep_client, customer):
    response = post(rep_client, "/api/v1/sales/contracts", {
        "title": "Backwards", "account_id": customer["account"].pk, "start_date": "2030-05-01",
        "end_date": "2030-04-01"})
    assert response.status_code == 422 and "end_date" in response.json()["errors"]
    assert not Contract.objects.exists()


def _active_contract(admin_user, customer, *, ends_in_days: int, auto_renew: bool) -> Contract:
    today = timezone.localdate()
    contract = services.contract_create(actor=admin_user, data={
        "title": "5G fleet", "account_id": customer["account"].pk, "contact_id": customer["contact"].pk,
        "value": Decimal("24000"), "start_date": today - datetime.timedelta(days=300),
        "end_date": today + datetime.timedelta(days=ends_in_days), "auto_renew": auto_renew,
        "renewal_notice_days": 60, "owner_id": customer["account"].owner_id})
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.ACTIVE)
    contract.refresh_from_db()
    return contract


def test_the_renewal_run_opens_a_renewal_opportunity_and_reminds_once(admin_user, customer, rep):
    renewing = _active_contract(admin_user, customer, ends_in_days=45, auto_renew=True)
    reminder_only = _active_contract(admin_user, customer, ends_in_days=30, auto_renew=False)
    not_yet = _active_contract(admin_user, customer, ends_in_days=200, auto_renew=True)

    result = services.contracts_process_renewals()

    assert result == {"renewals_opened": 1, "expired": 0}
    renewal = Opportunity.objects.get(renewal_of=renewing)
    assert (renewal.amount, renewal.close_date, renewal.owner_id) == (Decimal("24000.00"), renewing.end_date, rep.pk)
    tasks = Activity.objects.filter(contract__in=[renewing, reminder_only], priority="high")
    assert tasks.count() == 2 and set(tasks.values_list("owner_id", flat=True)) == {rep.pk}
    assert not Opportunity.objects.filter(renewal_of__in=[reminder_only, not_yet]).exists()
    # a second run the same day changes nothing
    assert services.contracts_process_renewals() == {"renewals_opened": 0, "expired": 0}
    assert Opportunity.objects.filter(renewal_of=renewing).count() == 1 and tasks.count() == 2


def test_contracts_past_their_end_expire_and_renew_into_a_new_term(api_client, admin_user, customer):
    ended = _active_contract(admin_user, customer, ends_in_days=-1, auto_renew=False)
    assert services.contracts_process_renewals()["expired"] == 1
    assert Contract.objects.get(pk=ended.pk).status == ContractStatus.EXPIRED
    response = post(api_client, f"/api/v1/sales/contracts/{ended.pk}/renew")
    assert response.status_code == 201
    renewal = Contract.objects.get(pk=response.json()["id"])
    assert renewal.start_date == ended.end_date + datetime.timedelta(days=1)
    assert (renewal.end_date - renewal.start_date) == (ended.end_date - ended.start_date)
    assert renewal.renewed_from_id == ended.pk and renewal.status == ContractStatus.DRAFT
    assert Contract.objects.get(pk=ended.pk).status == ContractStatus.RENEWED
    assert post(api_client, f"/api/v1/sales/contracts/{ended.pk}/renew").status_code == 409


def test_the_web_pages_take_an_order_to_a_signed_contract(client, admin_user, accepted_quote):
    client.force_login(admin_user)
    page = client.get(f"/sales/quotes/{accepted_quote.pk}/")
    assert "Create the order" in page.content.decode()
    response = client.post(f"/sales/quotes/{accepted_quote.pk}/order/")
    order = Order.objects.get(quote=accepted_quote)
    assert response.status_code == 302 and response["Location"] == f"/sales/orders/{order.pk}/"
    today = timezone.localdate()
    response = client.post(f"/sales/orders/{order.pk}/contract/", {
        "title": "Fleet contract", "start_date": today.isoformat(),
        "end_date": (today + datetime.timedelta(days=365)).isoformat(), "value": "1885.50", "currency": "CNY",
        "renewal_notice_days": "60", "auto_renew": "on"})
    contract = Contract.objects.get(order=order)
    assert response.status_code == 302
    response = client.post(f"/sales/contracts/{contract.pk}/", {"action": "sign", "signed_by_name": "王芳"})
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE and contract.signed_by_name == "王芳"
    assert Quote.objects.get(pk=accepted_quote.pk).order == order
