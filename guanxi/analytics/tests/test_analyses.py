"""The built-in analyses of SPEC §7, through the API and the pages: the numbers they give on
a known history, record-level visibility, parameter errors, exports and rights."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.analytics.analyses import ANALYSES
from guanxi.analytics.services.scoring import rfm_scores_compute
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import AuditLog, Role

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> str:
    return f"{timezone.localdate() - datetime.timedelta(days=days)} 10:00"


@pytest.fixture
def market(warehouse_engine, admin_user, make_user):
    """Customers of two ages and incomes, a rep's own customer, products old and new, a
    discount, a campaign with a response and a won deal, cases and calls."""
    rep = make_user("rep", Role.SALES_REP)
    today = timezone.localdate()
    young = history.customer(admin_user, "Young Rich", birth_date=today.replace(year=today.year - 22),
                             income_band="high", occupation="engineer", preferred_channel="chat")
    older = history.customer(admin_user, "Older Middle", birth_date=today.replace(year=today.year - 50),
                             income_band="middle", occupation="teacher", preferred_channel="phone")
    owned = history.customer(admin_user, "Rep Customer", owner_id=rep.pk, income_band="high")
    old_product = history.product("PHONE-OLD", "Old phone", family="phones",
                                  created_at=timezone.now() - datetime.timedelta(days=800))
    new_product = history.product("PLAN-NEW", "New plan", family="plans",
                                  created_at=timezone.now() - datetime.timedelta(days=60))
    idle_product = history.product("CASE-IDLE", "Idle case", family="accessories",
                                   created_at=timezone.now() - datetime.timedelta(days=900))
    history.order(young, [(old_product, 1, "1000.00"), (new_product, 2, "100.00", 50)], at=days_ago(30))
    history.order(older, [(old_product, 1, "1000.00")], at=days_ago(40))
    history.order(older, [(old_product, 1, "900.00")], at=days_ago(400))
    history.order(owned, [(new_product, 1, "100.00")], at=days_ago(20))
    history.order(owned, [(idle_product, 1, "10.00")], at=days_ago(500))
    history.interaction(young, "chat", at=days_ago(10), duration=120, agent=rep)
    history.interaction(older, "phone", at=days_ago(11), duration=600, agent=rep)
    history.case(older, category="complaint", at=days_ago(12), resolution_breached=True, csat=2)
    campaign = None
    if apps.is_installed("guanxi.marketing"):
        from guanxi.marketing.models import Campaign, CampaignResponse

        campaign = Campaign.objects.create(name="Spring offer", channel="email", status="completed",
                                           actual_cost=Decimal("500.00"), audience_count=2,
                                           launched_at=timezone.now() - datetime.timedelta(days=35))
        CampaignResponse.objects.create(campaign=campaign, contact=young, kind="clicked", dedupe_key="t-1",
                                        occurred_at=timezone.now() - datetime.timedelta(days=33))
        from guanxi.sales.models import Opportunity, Pipeline, Stage

        pipeline = Pipeline.objects.create(name="Test pipeline", is_default=False)
        won_stage = Stage.objects.create(pipeline=pipeline, name="Won", position=9, kind="won", probability=100)
        Opportunity.objects.create(name="Spring deal", contact=young, pipeline=pipeline, stage=won_stage,
                                   amount=Decimal("2000.00"), amount_base=Decimal("2000.00"),
                                   close_date=today, is_closed=True, is_won=True, closed_at=timezone.now(),
                                   campaign_id=campaign.pk)
    warehouse_refresh(actor=None)
    rfm_scores_compute(actor=None)
    return {"rep": rep, "young": young, "older": older, "owned": owned, "campaign": campaign}


def run(client, key: str, **params):
    response = client.get(f"/api/v1/analytics/analyses/{key}", params)
    assert response.status_code == 200, response.content
    return response.json()


def rows_by(answer: dict, key: str) -> dict:
    return {row[key] if not isinstance(row[key], dict) else row[key]["name"]: row for row in answer["rows"]}


def test_every_analysis_runs_on_this_history(market, api_client):
    listed = api_client.get("/api/v1/analytics/analyses").json()
    assert {item["key"] for item in listed} == {key for key, analysis in ANALYSES.items() if analysis.available()}
    for item in listed:
        params = {"product_x": "PHONE-OLD", "product_y": "plans"} if item["key"] == "buys-x-not-y" else {}
        if item["key"] == "strategy-goal":
            params = {"metric": "revenue", "goal": "5000", "income_band": "high",
                      "start": str(timezone.localdate() - datetime.timedelta(days=90)),
                      "end": str(timezone.localdate() + datetime.timedelta(days=90))}
        answer = run(api_client, item["key"], **params)
        assert answer["title"] and isinstance(answer["rows"], list), item["key"]


def test_new_customers_against_existing_and_value_by_age(market, api_client):
    # all three customers joined today: all are new; revenue of the last 12 months only
    answer = run(api_client, "new-vs-existing", months=12)
    new = answer["rows"][0]
    assert new["customers"] == 3 and new["revenue"] == pytest.approx(1100.0 + 1000.0 + 100.0)
    by_age = rows_by(run(api_client, "value-by-segment", by="age"), "group")
    assert by_age["Under 25"]["revenue"] == pytest.approx(1100.0)
    assert by_age["45–54"]["revenue"] == pytest.approx(1000.0)
    assert by_age["Not given"]["customers"] == 1
    by_income = rows_by(run(api_client, "value-by-segment", by="income"), "group")
    assert by_income["High"]["customers"] == 2 and by_income["High"]["revenue"] == pytest.approx(1200.0)


def test_who_buys_x_but_not_y_and_who_takes_discounts(market, api_client):
    answer = run(api_client, "buys-x-not-y", product_x="phones", product_y="plans")
    assert [row["customer"]["name"] for row in answer["rows"]] == ["Older Middle"]
    assert answer["rows"][0]["spend"] == pytest.approx(1000.0)
    discounts = rows_by(run(api_client, "discount-response", by="age"), "group")
    assert discounts["Under 25"]["discount_buyers"] == pytest.approx(1.0)
    assert discounts["45–54"]["discount_buyers"] == pytest.approx(0.0)
    # the young customer's 50 % discount: 100 off a list of 1200
    assert discounts["Under 25"]["average_discount"] == pytest.approx(100.0 / 1200.0, abs=1e-4)


def test_channels_strategy_and_products(market, api_client):
    channels = run(api_client, "channel-preference", by="age")
    young = rows_by(channels, "group")["Under 25"]
    assert young["most_used"] == "Chat" and young["stated"] == "Chat"

    start = timezone.localdate() - datetime.timedelta(days=60)
    strategy = run(api_client, "strategy-goal", income_band="high", metric="revenue", goal="2400",
                   start=str(start), end=str(timezone.localdate() - datetime.timedelta(days=1)))
    kpis = dict(strategy["kpis"])
    assert kpis["Achieved"] == "1,200.00" and kpis["Of the goal"] == "50%" and kpis["Result"] == "Goal missed"

    ranking = rows_by(run(api_client, "product-ranking", months=12), "product")
    assert ranking["PHONE-OLD Old phone"]["rank"] == 1 and ranking["PHONE-OLD Old phone"]["units"] == 2
    assert ranking["PHONE-OLD Old phone"]["change"] == pytest.approx((2000 - 900) / 900, abs=1e-4)
    assert ranking["PHONE-OLD Old phone"]["profit"] is None
    dormant = rows_by(run(api_client, "dormant-products", days=90), "product")
    assert set(dormant) == {"CASE-IDLE Idle case"}
    mix = run(api_client, "new-product-mix", months=3)
    assert dict(mix["kpis"])["Share of new products"] == "9%"  # 200 of 2200


def test_market_key_accounts_sales_service_and_contact_center(market, api_client, admin_user):
    if market["campaign"] is not None:
        roi = rows_by(run(api_client, "campaign-roi", months=12), "campaign")["Spring offer"]
        assert roi["cost"] == 500.0 and roi["responders"] == 1 and roi["response_rate"] == 0.5
        assert roi["won"] == 1 and roi["revenue"] == 2000.0 and roi["roi"] == pytest.approx(3.0)
    service = run(api_client, "service", months=12)
    assert sum(row["cases"] for row in service["rows"]) == 1
    assert service["tables"][0]["rows"][0]["category"] == "Complaint"
    center = run(api_client, "contact-center", months=12)
    agents = {row["agent"]: row for row in center["tables"][0]["rows"]}
    assert agents["rep"]["contacts"] == 2 and agents["rep"]["handle_minutes"] == pytest.approx(6.0)
    sales = run(api_client, "sales", months=12)
    assert dict(sales["kpis"])["Revenue"] == "2,200.00"

    # a key account with an order this year and last year
    from guanxi.core import services as core_services

    key = core_services.account_create(actor=admin_user, data={"name": "Big Buyer Ltd", "is_key_account": True})
    plan = history.product("KA-PLAN", "Enterprise plan")
    history.order(None, [(plan, 1, "300.00")], at=days_ago(0), account=key, owner=admin_user)
    warehouse_refresh(actor=None)
    accounts = rows_by(run(api_client, "key-accounts"), "account")
    assert accounts["Big Buyer Ltd"]["this_year"] == pytest.approx(300.0)
    assert accounts["Big Buyer Ltd"]["products"] == 1 and accounts["Big Buyer Ltd"]["change"] is None


def test_analyses_count_only_what_the_reader_may_see(market, make_user, settings):
    # the rep sees only the own customer: 100 of revenue in the year, not 2,200
    rep = market["rep"]
    client = Client()
    client.force_login(rep)
    answer = client.get("/api/v1/analytics/analyses/new-vs-existing").json()
    assert answer["rows"][0]["customers"] == 1 and answer["rows"][0]["revenue"] == pytest.approx(100.0)
    ranking = client.get("/api/v1/analytics/analyses/product-ranking").json()
    assert {row["product"] for row in ranking["rows"]} == {"PLAN-NEW New plan"}
    # and may not export: a rep has no export right on contacts
    assert client.get("/api/v1/analytics/analyses/sales/export", {"format": "csv"}).status_code == 403


def test_bad_parameters_are_refused_with_field_errors(market, api_client):
    answer = api_client.get("/api/v1/analytics/analyses/buys-x-not-y", {"product_x": "NOPE", "product_y": "plans"})
    assert answer.status_code == 422 and "product_x" in answer.json()["errors"]
    answer = api_client.get("/api/v1/analytics/analyses/strategy-goal", {
        "metric": "revenue", "goal": "10", "start": "2025-05-01", "end": "2025-01-01"})
    assert answer.status_code == 422 and "end" in answer.json()["errors"]
    assert api_client.get("/api/v1/analytics/analyses/no-such-analysis").status_code == 404
    assert api_client.get("/api/v1/analytics/analyses/sales/export", {"format": "doc"}).status_code == 422


def test_exports_are_files_and_audited(market, api_client):
    response = api_client.get("/api/v1/analytics/analyses/value-by-segment/export", {"format": "csv", "by": "income"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0][0] == "Group" and {row[0] for row in table[1:]} >= {"High", "Middle"}
    workbook_bytes = api_client.get("/api/v1/analytics/analyses/sales/export", {"format": "xlsx"}).content
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(workbook_bytes)).active
    assert sheet.cell(row=1, column=1).value == "Month"
    pdf = api_client.get("/api/v1/analytics/analyses/value-by-segment/export", {"format": "pdf", "by": "occupation"})
    assert pdf.content.startswith(b"%PDF") and b"STSong-Light" in pdf.content
    assert AuditLog.objects.filter(action="export", object_type="analysis").count() == 3


def test_the_pages_show_analyses_and_say_when_the_warehouse_is_missing(market, admin_user, settings, tmp_path):
    client = Client()
    client.force_login(admin_user)
    listing = client.get(reverse("analytics:analysis_list")).content.decode()
    assert "Buys X but not Y" in listing
    assert ("Campaign return on investment" in listing) == apps.is_installed("guanxi.marketing")
    page = client.get(reverse("analytics:analysis_detail", args=["value-by-segment"]), {"by": "age"})
    assert page.status_code == 200 and 'data-chart="chart-data-analysis-chart"' in page.content.decode()
    assert "Under 25" in page.content.decode()
    download = client.get(reverse("analytics:analysis_download", args=["value-by-segment", "xlsx"]), {"by": "age"})
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    # with no warehouse, the page says so instead of failing
    settings.GUANXI_WAREHOUSE_PATH = str(tmp_path / "missing.duckdb")
    settings.GUANXI_WAREHOUSE_ENGINE = "duckdb"
    page = client.get(reverse("analytics:analysis_detail", args=["sales"]))
    assert page.status_code == 200 and "has not been built yet" in page.content.decode()


def test_roles_without_analyses_are_refused(market, make_user):
    client = Client()
    client.force_login(make_user("agent", Role.SERVICE_AGENT))
    assert client.get(reverse("analytics:analysis_list")).status_code == 403
    assert client.get("/api/v1/analytics/analyses/sales").status_code == 403


def test_words_with_two_meanings_get_their_own_chinese(market, api_client):
    """"Contacts" handled by the contact center are not contact records, and a product's
    launch date is not a campaign's launch: each has its own Chinese word."""
    def labels(key: str, **params) -> dict:
        response = api_client.get(f"/api/v1/analytics/analyses/{key}", params, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, response.content
        return {column["key"]: column["label"] for column in response.json()["columns"]}

    assert labels("contact-center", months=12)["contacts"] == "联络量"
    assert labels("dormant-products", days=90)["launched_on"] == "上市日期"
