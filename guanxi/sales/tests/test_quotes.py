"""Quotes: priced from the right list, configured with options and bundles, discounts
above the limit approved by a manager, versions, expiry, sending and online acceptance."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from guanxi.interactions.models import Interaction
from guanxi.sales import services
from guanxi.sales.models import ApprovalStatus, Quote, QuoteLine, QuoteStatus

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


def new_quote(client, deal, catalogue, **extra) -> dict:
    response = post(client, "/api/v1/sales/quotes", {"opportunity_id": deal.pk, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_lines_are_priced_from_the_list_and_totals_add_up(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[
        {"product_id": catalogue["plan"].pk, "quantity": "10", "discount_percent": "5"},
        {"product_id": catalogue["support"].pk, "quantity": "2"}])
    assert quote["currency"] == "CNY" and quote["price_list_id"] == catalogue["cny"].pk
    assert quote["number"].startswith(f"Q-{timezone.localdate().year}-")
    assert [(line["description"], line["line_total"]) for line in quote["lines"]] == [
        ("5G 套餐 100GB", "1900.00"), ("Support", "100.00")]  # the contact reads Chinese
    stored = Quote.objects.get(pk=quote["id"])
    assert (stored.subtotal, stored.discount_total, stored.tax_total, stored.total) == (
        Decimal("2100.00"), Decimal("100.00"), Decimal("260.00"), Decimal("2260.00"))
    assert stored.approval_status == ApprovalStatus.NOT_NEEDED and stored.max_discount_percent == Decimal("5.00")


def test_the_customers_tier_picks_its_price_list(rep_client, deal, catalogue, customer):
    customer["account"].value_tier = "gold"
    customer["account"].save(update_fields=["value_tier"])
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    assert quote["price_list_id"] == catalogue["gold"].pk
    assert [(line["product"]["sku"], line["unit_price"]) for line in quote["lines"]] == [
        ("ROUTER", "900.00"), ("INSTALL", "250.00")]  # the installation is a required option


def test_a_line_in_another_currency_is_refused_and_nothing_changes(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    response = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/lines",
                    {"product_id": catalogue["plan"].pk, "unit_price": "30", "currency": "USD"})
    assert response.status_code == 422 and "currency" in response.json()["errors"]
    stored = Quote.objects.get(pk=quote["id"])
    assert stored.lines.count() == len(quote["lines"]) == 2  # the router and its required installation
    assert stored.total == Decimal(quote["total"]) and stored.version == 1


def test_a_price_list_in_another_currency_and_a_product_without_price_are_refused(rep_client, deal, catalogue):
    wrong_list = post(rep_client, "/api/v1/sales/quotes", {"opportunity_id": deal.pk,
                                                           "price_list_id": catalogue["usd"].pk})
    assert wrong_list.status_code == 422 and "price_list_id" in wrong_list.json()["errors"]
    unpriced = post(rep_client, "/api/v1/sales/quotes", {"opportunity_id": deal.pk, "currency": "USD",
                                                         "lines": [{"product_id": catalogue["plan"].pk}]})
    assert unpriced.status_code == 422 and "lines.0.product_id" in unpriced.json()["errors"]
    assert not Quote.objects.exists()


def test_the_configurator_adds_chosen_and_required_options_and_refuses_the_rest(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue)
    path = f"/api/v1/sales/quotes/{quote['id']}/lines"
    both = post(rep_client, path, {"product_id": catalogue["router"].pk,
                                   "option_ids": [catalogue["support"].pk, catalogue["premium"].pk]})
    foreign = post(rep_client, path, {"product_id": catalogue["router"].pk, "option_ids": [catalogue["plan"].pk]})
    assert both.status_code == 422 and foreign.status_code == 422
    assert not QuoteLine.objects.filter(quote_id=quote["id"]).exists()

    configured = post(rep_client, path, {"product_id": catalogue["router"].pk, "quantity": "2",
                                         "option_ids": [catalogue["premium"].pk]})
    assert configured.status_code == 201
    lines = configured.json()["lines"]
    assert [(line["kind"], line["quantity"], line["line_total"]) for line in lines] == [
        ("product", "2.00", "2000.00"), ("option", "2.00", "300.00"), ("option", "2.00", "600.00")]
    assert configured.json()["subtotal"] == "2900.00"


def test_a_bundle_brings_its_components_at_no_extra_price(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["bundle"].pk, "quantity": "2"}])
    components = [line for line in quote["lines"] if line["kind"] == "component"]
    assert [(line["product"]["sku"], line["quantity"], line["line_total"]) for line in components] == [
        ("ROUTER", "2.00", "0.00"), ("5G-100", "24.00", "0.00")]
    assert quote["subtotal"] == "6000.00"


def test_changing_a_line_quantity_moves_its_options(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk,
                                                          "option_ids": [catalogue["support"].pk]}])
    parent = quote["lines"][0]
    response = rep_client.patch(f"/api/v1/sales/quotes/{quote['id']}/lines/{parent['id']}", {"quantity": "3"},
                                content_type="application/json")
    assert response.status_code == 200
    assert [line["quantity"] for line in response.json()["lines"]] == ["3.00", "3.00", "3.00"]
    assert response.json()["subtotal"] == "4050.00"


def test_a_discount_above_the_limit_waits_for_approval_and_cannot_be_sent(rep_client, client_for, manager, deal,
                                                                          catalogue):
    # given a rep (limit 10 %) giving 18 % on a line
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk,
                                                          "discount_percent": "18"}])
    assert (quote["approval_status"], quote["max_discount_percent"]) == ("pending", "18.00")

    # when the rep sends it, or approves it personally
    sent = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    self_approved = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/approve")

    # then both are refused and nothing was sent
    assert sent.status_code == 409 and "approval" in sent.json()["detail"]
    assert self_approved.status_code == 403
    stored = Quote.objects.get(pk=quote["id"])
    assert (stored.status, stored.approval_status, stored.sent_at) == (QuoteStatus.DRAFT, ApprovalStatus.PENDING,
                                                                       None)
    assert mail.outbox == []

    # when the manager (limit 25 %) approves, it can be sent
    approved = post(client_for(manager), f"/api/v1/sales/quotes/{quote['id']}/approve", {"note": "strategic"})
    assert approved.status_code == 200 and approved.json()["approved_by"]["id"] == manager.pk
    assert post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send").status_code == 200
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.SENT


def test_a_deeper_discount_after_approval_needs_approval_again(rep_client, client_for, manager, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk,
                                                          "discount_percent": "15"}])
    post(client_for(manager), f"/api/v1/sales/quotes/{quote['id']}/approve")
    line_id = quote["lines"][0]["id"]
    deeper = rep_client.patch(f"/api/v1/sales/quotes/{quote['id']}/lines/{line_id}", {"discount_percent": "20"},
                              content_type="application/json")
    assert deeper.json()["approval_status"] == "pending"
    shallower = rep_client.patch(f"/api/v1/sales/quotes/{quote['id']}/lines/{line_id}", {"discount_percent": "5"},
                                 content_type="application/json")
    assert shallower.json()["approval_status"] == "not_needed"


def test_a_manager_cannot_approve_beyond_their_own_limit(rep_client, client_for, manager, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, discount_percent="40",
                      lines=[{"product_id": catalogue["router"].pk}])
    response = post(client_for(manager), f"/api/v1/sales/quotes/{quote['id']}/approve")
    assert response.status_code == 403
    assert Quote.objects.get(pk=quote["id"]).approval_status == ApprovalStatus.PENDING


def test_sending_emails_the_pdf_with_a_signed_link_and_the_customer_accepts(rep_client, deal, catalogue, customer,
                                                                             django_capture_on_commit_callbacks,
                                                                             client):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send", {"message": "请查收"})
    assert response.status_code == 200 and response.json()["sent_to"] == "wang.fang@xinghe.example"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["wang.fang@xinghe.example"] and quote["number"] in message.subject
    assert message.attachments[0][0] == f"{quote['number']}.pdf" and message.attachments[0][1][:5] == b"%PDF-"
    link = re.search(r"http://\S+/sales/q/(\S+)/", message.body)
    assert link, message.body
    assert Interaction.objects.filter(contact=customer["contact"], channel="email",
                                      source_type="sales.quote.sent").count() == 1

    page = client.get(f"/sales/q/{link.group(1)}/")
    assert page.status_code == 200 and quote["number"] in page.content.decode()
    accepted = client.post(f"/sales/q/{link.group(1)}/", {"accepted_by_name": "王芳", "action": "accept"})
    assert accepted.status_code == 200
    stored = Quote.objects.get(pk=quote["id"])
    assert (stored.status, stored.accepted_by_name) == (QuoteStatus.ACCEPTED, "王芳")
    assert stored.accepted_ip == "127.0.0.1"
    assert Interaction.objects.filter(contact=customer["contact"], source_type="sales.quote.accepted").exists()


def test_an_expired_quote_cannot_be_accepted(rep_client, api_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    Quote.objects.filter(pk=quote["id"]).update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    response = post(api_client, f"/api/v1/sales/quotes/{quote['id']}/accept", {"accepted_by_name": "王芳"})
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    stored = Quote.objects.get(pk=quote["id"])
    assert (stored.status, stored.accepted_at, stored.accepted_by_name) == (QuoteStatus.SENT, None, "")
    assert services.quotes_expire() == 1
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.EXPIRED


def test_a_superseded_version_cannot_be_accepted_even_through_its_old_link(rep_client, api_client, deal, catalogue,
                                                                           client):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    old_link = rep_client.get(f"/api/v1/sales/quotes/{quote['id']}/accept-link").json()["url"]

    revised = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/revise")
    assert revised.status_code == 201
    new = revised.json()
    assert (new["number"], new["revision"], new["status"], new["display_number"]) == (
        quote["number"], 2, "draft", f"{quote['number']}-v2")
    assert [line["product"]["sku"] for line in new["lines"]] == ["ROUTER", "INSTALL"]
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.SUPERSEDED

    by_api = post(api_client, f"/api/v1/sales/quotes/{quote['id']}/accept", {"accepted_by_name": "王芳"})
    by_link = client.post(old_link, {"accepted_by_name": "王芳", "action": "accept"})
    assert by_api.status_code == 409 and "newer version" in by_api.json()["detail"]
    assert by_link.status_code == 409
    assert Quote.objects.get(pk=quote["id"]).accepted_at is None
    assert Quote.objects.filter(status=QuoteStatus.ACCEPTED).count() == 0


def test_a_forged_link_finds_nothing(client):
    assert client.get("/sales/q/not-a-signed-token/").status_code == 404


def test_sent_quotes_are_revised_not_edited(rep_client, deal, catalogue):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    edit = rep_client.patch(f"/api/v1/sales/quotes/{quote['id']}", {"title": "Changed"},
                            content_type="application/json")
    add = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/lines", {"product_id": catalogue["plan"].pk})
    delete = rep_client.delete(f"/api/v1/sales/quotes/{quote['id']}")
    assert (edit.status_code, add.status_code, delete.status_code) == (409, 409, 409)
    stored = Quote.objects.get(pk=quote["id"])
    assert stored.title == deal.name and stored.lines.count() == len(quote["lines"])


def test_a_quote_without_lines_or_address_is_not_sent(rep_client, deal, catalogue, customer):
    quote = new_quote(rep_client, deal, catalogue)
    empty = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    assert empty.status_code == 422 and "lines" in empty.json()["errors"]
    post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/lines", {"product_id": catalogue["router"].pk})
    bad_address = post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send", {"to_email": "nobody"})
    assert bad_address.status_code == 422 and "to_email" in bad_address.json()["errors"]
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.DRAFT


def test_declining_through_the_link(rep_client, deal, catalogue, client):
    quote = new_quote(rep_client, deal, catalogue, lines=[{"product_id": catalogue["router"].pk}])
    post(rep_client, f"/api/v1/sales/quotes/{quote['id']}/send")
    link = rep_client.get(f"/api/v1/sales/quotes/{quote['id']}/accept-link").json()["url"]
    response = client.post(link, {"action": "decline", "reason": "Too expensive"})
    assert response.status_code == 200
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.DECLINED
