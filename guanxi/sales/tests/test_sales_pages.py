"""Every sales page renders for the roles that may open it (with realistic records on
it), refuses the roles that may not, and the 360° and home panels show sales records."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from guanxi.sales import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(admin_user, rep, deal, catalogue, customer):
    lead = services.lead_create(actor=admin_user, data={"full_name": "李娜", "email": "li@x.example",
                                                        "owner_id": rep.pk, "company": "星河物流有限公司"})
    quote = services.quote_create(actor=admin_user, data={"opportunity_id": deal.pk, "lines": [
        {"product_id": catalogue["router"].pk, "option_ids": [catalogue["support"].pk]}]})
    services.quote_send(actor=admin_user, quote_id=quote.pk)
    services.quote_accept(actor=None, quote_id=quote.pk, accepted_by_name="王芳")
    order = services.order_create_from_quote(actor=admin_user, quote_id=quote.pk)
    today = timezone.localdate()
    contract = services.contract_create(actor=admin_user, data={"order_id": order.pk, "start_date": today,
                                                                "end_date": today + datetime.timedelta(days=90)})
    activity = services.activity_create(actor=admin_user, data={
        "kind": "call", "subject": "Follow-up call", "start_at": timezone.now() + datetime.timedelta(minutes=30),
        "contact_id": customer["contact"].pk, "owner_id": rep.pk})
    post = services.knowledge_post_create(actor=rep, data={"title": "Tip", "body": "Listen.", "tags": ["x"]})
    return {"lead": lead, "quote": quote, "order": order, "contract": contract, "activity": activity, "post": post,
            "deal": deal, "price_list": catalogue["cny"]}


PAGES = [
    ("/sales/", None), ("/sales/leads/", None), ("/sales/leads/?status=all&q=李", None), ("/sales/leads/new/", None),
    ("/sales/leads/{lead}/", "lead"), ("/sales/leads/{lead}/edit/", "lead"), ("/sales/leads/{lead}/convert/", "lead"),
    ("/sales/leads/web-form/", None), ("/sales/pipeline/", None), ("/sales/opportunities/", None),
    ("/sales/opportunities/new/", None), ("/sales/opportunities/{deal}/", "deal"),
    ("/sales/opportunities/{deal}/edit/", "deal"), ("/sales/quotes/", None), ("/sales/quotes/{quote}/", "quote"),
    ("/sales/orders/", None), ("/sales/orders/{order}/", "order"), ("/sales/contracts/", None),
    ("/sales/contracts/{contract}/", "contract"), ("/sales/calendar/", None), ("/sales/calendar/?view=month", None),
    ("/sales/calendar/?view=day", None), ("/sales/calendar/feed/", None), ("/sales/activities/new/", None),
    ("/sales/activities/{activity}/", "activity"), ("/sales/activities/{activity}/edit/", "activity"),
    ("/sales/forecast/", None), ("/sales/forecast/?period=quarter&group=team", None), ("/sales/deals/", None),
    ("/sales/territories/", None), ("/sales/quotas/", None), ("/sales/expenses/", None), ("/sales/commissions/", None),
    ("/sales/knowledge/", None), ("/sales/knowledge/new/", None), ("/sales/knowledge/{post}/", "post"),
    ("/sales/products/", None), ("/sales/price-lists/{price_list}/", "price_list"),
]


def _url(template: str, records: dict) -> str:
    return template.format(**{key: value.pk for key, value in records.items()})


@pytest.mark.parametrize(("path", "record"), PAGES, ids=[page for page, _record in PAGES])
def test_the_admin_and_the_owning_rep_open_every_page(client, admin_user, rep, records, path, record):
    for user in (admin_user, rep):
        client.force_login(user)
        response = client.get(_url(path, records))
        assert response.status_code == 200, (user.username, path, response.status_code)


def test_a_rep_does_not_open_someone_elses_records(client, make_user, records):
    client.force_login(make_user("stranger", "sales_rep"))
    for path, record in PAGES:
        if record and record not in ("post", "price_list"):
            assert client.get(_url(path, records)).status_code == 404, path


def test_roles_without_sales_rights_are_refused(client, make_user, records):
    client.force_login(make_user("service", "service_agent"))
    assert client.get("/sales/leads/").status_code == 403
    assert client.get("/sales/pipeline/").status_code == 403
    nav = client.get("/").content.decode()
    assert "/sales/leads/" not in nav and "/sales/pipeline/" not in nav
    assert client.get(f"/sales/orders/{records['order'].pk}/").status_code == 200  # service reads orders


def test_the_360_pages_and_home_show_sales_panels(client, rep, records, customer):
    client.force_login(rep)
    contact_page = client.get(f"/contacts/{customer['contact'].pk}/360/").content.decode()
    account_page = client.get(f"/accounts/{customer['account'].pk}/360/").content.decode()
    for html in (contact_page, account_page):
        assert "Xinghe 5G fleet" in html and records["quote"].number in html
        assert records["order"].number in html and records["contract"].number in html
        assert "Follow-up call" in html
    home = client.get("/").content.decode()
    assert "My day" in home and "Follow-up call" in home
    assert 'href="/sales/pipeline/"' in home


def test_the_lead_form_saves_and_shows_errors(client, rep):
    client.force_login(rep)
    bad = client.post("/sales/leads/new/", {"full_name": "Nobody", "source": "manual", "currency": "CNY"})
    assert bad.status_code == 400 and "email" in bad.content.decode().lower()
    good = client.post("/sales/leads/new/", {"family_name": "周", "given_name": "杰", "phone": "13800138999",
                                             "source": "phone", "currency": "CNY"})
    assert good.status_code == 302


def test_the_conversion_page_converts(client, rep, records):
    client.force_login(rep)
    lead = records["lead"]
    response = client.post(f"/sales/leads/{lead.pk}/convert/", {
        "account": "new", "contact": "new", "create_opportunity": "on", "opportunity_name": "Li's deal",
        "amount": "5000", "close_date": "2031-01-31", "ignore_duplicates": "on"})
    assert response.status_code == 302 and "/sales/opportunities/" in response["Location"]
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_opportunity.name == "Li's deal"


def test_the_quote_builder_adds_a_line_with_options(client, admin_user, deal, catalogue):
    client.force_login(admin_user)
    response = client.post(f"/sales/opportunities/{deal.pk}/quote/")
    quote_url = response["Location"]
    response = client.post(quote_url, {"action": "add_line", "product": catalogue["router"].pk, "quantity": "2",
                                       "discount_percent": "0", "options": [catalogue["premium"].pk]})
    assert response.status_code == 302
    page = client.get(quote_url).content.decode()
    assert "Support 24/7" in page and "Installation" in page
    refused = client.post(quote_url, {"action": "add_line", "product": catalogue["router"].pk, "quantity": "1",
                                      "discount_percent": "0",
                                      "options": [catalogue["premium"].pk, catalogue["support"].pk]})
    assert refused.status_code == 400 and "Support" in refused.content.decode()
