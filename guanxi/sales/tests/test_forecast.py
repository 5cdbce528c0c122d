"""Forecasting: weighted pipeline, commit and best case per month/quarter and per rep;
win rates, stage conversion, deal report and quotas against actuals — each over the deals
the asker may see."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import Role
from guanxi.sales import forecasting, services
from guanxi.sales.models import ForecastCategory, Opportunity, Pipeline

pytestmark = pytest.mark.django_db
MARCH, APRIL, MAY = datetime.date(2031, 3, 15), datetime.date(2031, 4, 10), datetime.date(2031, 5, 20)


@pytest.fixture
def stages():
    return {stage.name: stage for stage in Pipeline.objects.get(is_default=True).stages.all()}


@pytest.fixture
def book(admin_user, rep, make_user, stages, east_team):
    """Five deals of two reps across three months, one won and one lost."""
    other = make_user("rep.zhang", Role.SALES_REP, team=east_team)

    def deal(owner, amount, close, stage, currency="CNY", **extra):
        opportunity = services.opportunity_create(actor=admin_user, data={
            "name": f"deal {amount}", "owner_id": owner.pk, "amount": Decimal(amount), "currency": currency,
            "close_date": close, "stage_id": stages["Prospecting"].pk})
        if stage != "Prospecting":
            services.opportunity_move(actor=admin_user, opportunity_id=opportunity.pk, stage_id=stages[stage].pk,
                                      **extra)
        return opportunity

    return {"rep": rep, "other": other, "deals": [
        deal(rep, "100000", MARCH, "Negotiation"),                          # commit, 80 %
        deal(rep, "50000", MARCH, "Proposal"),                              # best case, 60 %
        deal(other, "10000", APRIL, "Prospecting", currency="USD"),         # 72,000 CNY, 10 %
        deal(other, "30000", APRIL, "Closed won", close_reason="price"),
        deal(rep, "20000", MAY, "Closed lost", close_reason="competitor"),
    ]}


def test_forecast_by_month_for_the_company(admin_user, book):
    rows = forecasting.forecast(admin_user, forecasting.ForecastQuery(period="month"))
    by_period = {row["period"]: row for row in rows}
    assert list(by_period) == ["2031-03", "2031-04", "2031-05"]
    march, april = by_period["2031-03"], by_period["2031-04"]
    assert (march["pipeline"], march["weighted"]) == (Decimal("150000.00"), Decimal("110000.00"))
    assert (march["commit"], march["best_case"], march["open_count"]) == (Decimal("100000.00"),
                                                                         Decimal("150000.00"), 2)
    assert (april["pipeline"], april["weighted"], april["won"]) == (Decimal("72000.00"), Decimal("7200.00"),
                                                                     Decimal("30000.00"))
    assert by_period["2031-05"]["lost_count"] == 1 and by_period["2031-05"]["pipeline"] == Decimal("0.00")


def test_forecast_by_quarter_and_rep(admin_user, book):
    rows = forecasting.forecast(admin_user, forecasting.ForecastQuery(period="quarter", group_by="owner"))
    by_owner = {(row["period"], row["group_id"]): row for row in rows}
    rep, other = book["rep"], book["other"]
    assert by_owner[("2031-Q1", rep.pk)]["weighted"] == Decimal("110000.00")
    assert by_owner[("2031-Q2", other.pk)]["won"] == Decimal("30000.00")
    assert by_owner[("2031-Q2", rep.pk)]["lost_count"] == 1
    assert by_owner[("2031-Q1", rep.pk)]["group"] == "rep.wang"


def test_a_rep_forecasts_only_their_own_deals(client_for, book):
    response = client_for(book["other"]).get("/api/v1/sales/forecast", {"period": "quarter"})
    assert response.status_code == 200
    rows = response.json()
    assert [row["period"] for row in rows] == ["2031-Q2"]
    assert Decimal(rows[0]["pipeline"]) == Decimal("72000.00") and Decimal(rows[0]["won"]) == Decimal("30000.00")


def test_the_forecast_is_one_query_whatever_the_number_of_deals(admin_user, book):
    with CaptureQueriesContext(connection) as queries:
        forecasting.forecast(admin_user, forecasting.ForecastQuery(period="month"))
    assert len(queries) == 1


def test_win_rates_per_rep_and_overall(api_client, book):
    overall = api_client.get("/api/v1/sales/win-rates").json()
    assert overall == [{"group_id": None, "group": "", "closed": 2, "won": 1, "win_rate": 0.5,
                        "won_value": "30000.00", "value_win_rate": 0.6}]
    per_rep = {row["group_id"]: row for row in api_client.get("/api/v1/sales/win-rates",
                                                               {"group_by": "owner"}).json()}
    assert per_rep[book["other"].pk]["win_rate"] == 1.0 and per_rep[book["rep"].pk]["win_rate"] == 0.0


def test_stage_conversion_counts_deals_that_reached_each_stage(api_client, book, stages):
    pipeline = Pipeline.objects.get(is_default=True)
    rows = {row["stage"]: row for row in api_client.get(f"/api/v1/sales/pipelines/{pipeline.pk}/conversion").json()}
    assert rows["Prospecting"]["reached"] == 5
    assert rows["Prospecting"]["advanced"] == 3   # to Proposal, Negotiation and Won; the lost deal did not
    assert rows["Proposal"]["reached"] == 3 and rows["Negotiation"]["reached"] == 2
    assert rows["Negotiation"]["won"] == 1 and rows["Negotiation"]["win_rate_from_here"] == 0.5


def test_the_deal_report_lists_open_deals_with_days_left_and_moves(api_client, book):
    items = api_client.get("/api/v1/sales/deal-report").json()["items"]
    assert [item["name"] for item in items] == ["deal 100000", "deal 50000", "deal 10000"]
    first = items[0]
    assert first["stage"]["name"] == "Negotiation" and first["moves"] == 2 and first["probability"] == 80
    assert first["days_left"] == (MARCH - datetime.date.today()).days or abs(
        first["days_left"] - (MARCH - datetime.date.today()).days) <= 1


def test_quota_attainment_compares_won_business_in_the_period(api_client, admin_user, book):
    services.quota_create(actor=admin_user, data={"user_id": book["other"].pk, "period": "quarter",
                                                  "period_start": datetime.date(2031, 4, 1),
                                                  "period_end": datetime.date(2031, 6, 30), "amount": Decimal("60000")})
    rows = api_client.get("/api/v1/sales/quota-attainment", {"on": "2031-05-01"}).json()
    assert len(rows) == 1
    assert (rows[0]["target"], rows[0]["actual"], rows[0]["attainment"]) == ("60000.00", "30000.00", 0.5)


def test_changing_an_exchange_rate_reconverts_deals(api_client, book, django_capture_on_commit_callbacks):
    usd_deal = book["deals"][2]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.put("/api/v1/sales/exchange-rates/USD", {"rate_to_base": "7.00"},
                                  content_type="application/json")
    assert response.status_code == 200
    assert Opportunity.objects.get(pk=usd_deal.pk).amount_base == Decimal("70000.00")


def test_the_forecast_page_renders_the_table(client, admin_user, book):
    client.force_login(admin_user)
    response = client.get("/sales/forecast/", {"period": "month", "group": "owner", "start": "2031-03-01",
                                               "end": "2031-05-31"})
    html = response.content.decode()
    assert response.status_code == 200 and "2031-03" in html and "110,000" in html
    assert str(ForecastCategory.COMMIT.label) in html
