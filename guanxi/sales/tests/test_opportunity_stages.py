"""Opportunities in their pipeline: default probability, moves with stage history and time in
stage, closing only with a reason, the kanban board, and admin-editable stages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.sales import services
from guanxi.sales.models import (
    ForecastCategory, Opportunity, OpportunityStageChange, Pipeline, Stage, StageKind,
)

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def stages() -> dict[str, Stage]:
    pipeline = Pipeline.objects.get(is_default=True)
    return {stage.name: stage for stage in pipeline.stages.all()}


def test_a_new_deal_starts_in_the_first_stage_with_its_probability(rep_client, rep, customer, stages):
    response = post(rep_client, "/api/v1/sales/opportunities", {
        "name": "Fleet", "account_id": customer["account"].pk, "amount": "120000", "currency": "USD",
        "close_date": "2030-06-30", "next_step": "Site survey"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"]["name"] == "Prospecting" and body["probability"] == 10
    deal = Opportunity.objects.get(pk=body["id"])
    assert deal.amount_base == Decimal("864000.00")  # 120,000 USD at the seeded 7.20
    assert deal.owner_id == rep.pk and deal.forecast_category == ForecastCategory.PIPELINE
    assert list(deal.stage_changes.values_list("from_stage_id", "to_stage_id")) == [(None, stages["Prospecting"].pk)]


def test_a_move_records_history_time_in_stage_and_the_new_probability(api_client, deal, stages):
    # given a deal that entered its stage three days ago
    entered = timezone.now() - datetime.timedelta(days=3)
    Opportunity.objects.filter(pk=deal.pk).update(stage_entered_at=entered)

    # when it moves to Proposal
    response = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move",
                    {"stage_id": stages["Proposal"].pk})

    # then probability and forecast category follow the stage, and the history has the time spent
    assert response.status_code == 200, response.content
    assert (response.json()["probability"], response.json()["forecast_category"]) == (60, "best_case")
    change = OpportunityStageChange.objects.filter(opportunity=deal).latest("id")
    assert (change.from_stage_id, change.to_stage_id) == (stages["Prospecting"].pk, stages["Proposal"].pk)
    assert 3 * 86400 - 60 <= change.seconds_in_from_stage <= 3 * 86400 + 60
    detail = api_client.get(f"/api/v1/sales/opportunities/{deal.pk}").json()
    assert [row["stage"] for row in detail["time_in_stages"]] == ["Prospecting", "Proposal"]
    assert detail["time_in_stages"][-1]["current"] is True
    assert len(detail["history"]) == 2


def test_closing_without_a_reason_is_refused_and_nothing_moves(api_client, deal, stages):
    before = deal.stage_changes.count()
    for stage in ("Closed won", "Closed lost"):
        response = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move", {"stage_id": stages[stage].pk})
        assert response.status_code == 422
        assert "close_reason" in response.json()["errors"]
    deal.refresh_from_db()
    assert deal.stage_id == stages["Prospecting"].pk and not deal.is_closed
    assert deal.stage_changes.count() == before


def test_a_lost_deal_records_reason_and_competitor_and_reopening_clears_them(api_client, deal, stages, admin_user):
    rival = services.competitor_create(actor=admin_user, data={"name": "Huaxin Networks"})
    lost = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move", {
        "stage_id": stages["Closed lost"].pk, "close_reason": "competitor", "lost_to_id": rival.pk,
        "close_note": "Cheaper by 20%"})
    assert lost.status_code == 200, lost.content
    deal.refresh_from_db()
    assert (deal.is_closed, deal.is_won, deal.probability, deal.lost_to_id) == (True, False, 0, rival.pk)
    assert deal.closed_at is not None and deal.forecast_category == ForecastCategory.OMITTED

    reopened = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move", {"stage_id": stages["Negotiation"].pk})
    assert reopened.status_code == 200
    deal.refresh_from_db()
    assert (deal.is_closed, deal.closed_at, deal.close_reason, deal.lost_to_id) == (False, None, "", None)


def test_a_stage_of_another_pipeline_is_refused(api_client, deal, admin_user):
    other = services.pipeline_create(actor=admin_user, name="Renewals", stages=[{"name": "Notice"}])
    response = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move",
                    {"stage_id": other.stages.get().pk})
    assert response.status_code == 422 and "stage_id" in response.json()["errors"]


def test_a_stale_move_is_refused(api_client, deal, stages):
    response = post(api_client, f"/api/v1/sales/opportunities/{deal.pk}/move",
                    {"stage_id": stages["Proposal"].pk, "version": deal.version + 5})
    assert response.status_code == 409
    assert Opportunity.objects.get(pk=deal.pk).stage_id == stages["Prospecting"].pk


def test_an_explicit_probability_overrides_the_stage_default(api_client, deal):
    response = api_client.patch(f"/api/v1/sales/opportunities/{deal.pk}", {"probability": 35},
                                content_type="application/json")
    assert response.status_code == 200
    assert Opportunity.objects.get(pk=deal.pk).probability == 35


def test_deal_team_products_and_competitors(api_client, deal, manager, catalogue, admin_user):
    rival = services.competitor_create(actor=admin_user, data={"name": "Zenith Cloud"})
    response = api_client.patch(f"/api/v1/sales/opportunities/{deal.pk}", {
        "team": [{"user_id": manager.pk, "team_role": "executive sponsor"}],
        "products": [{"product_id": catalogue["router"].pk, "quantity": "3", "unit_price": "950"}],
        "competitor_ids": [rival.pk]}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["team"] == [{"user": {"id": manager.pk, "username": "sales.manager", "display_name": "sales.manager"},
                             "team_role": "executive sponsor"}]
    assert body["products"][0]["product"]["sku"] == "ROUTER" and body["competitors"][0]["name"] == "Zenith Cloud"
    bad = api_client.patch(f"/api/v1/sales/opportunities/{deal.pk}", {"competitor_ids": [987654]},
                           content_type="application/json")
    assert bad.status_code == 422
    assert list(Opportunity.objects.get(pk=deal.pk).competitors.values_list("pk", flat=True)) == [rival.pk]


def test_the_board_lists_deals_by_stage_with_totals(rep_client, deal, stages):
    pipeline = Pipeline.objects.get(is_default=True)
    response = rep_client.get(f"/api/v1/sales/pipelines/{pipeline.pk}/board")
    assert response.status_code == 200
    columns = {column["stage"]["name"]: column for column in response.json()}
    assert [card["id"] for card in columns["Prospecting"]["opportunities"]] == [deal.pk]
    assert columns["Prospecting"]["count"] == 1
    assert Decimal(columns["Prospecting"]["weighted"]) == Decimal("5000.00")
    assert columns["Proposal"]["opportunities"] == []


def test_administrators_edit_stages_and_their_default_probability(api_client, rep_client, stages, deal):
    response = api_client.patch(f"/api/v1/sales/stages/{stages['Proposal'].pk}", {"probability": 55},
                                content_type="application/json")
    assert response.status_code == 200
    assert Stage.objects.get(pk=stages["Proposal"].pk).probability == 55
    refused = rep_client.patch(f"/api/v1/sales/stages/{stages['Proposal'].pk}", {"probability": 99},
                               content_type="application/json")
    assert refused.status_code == 403
    in_use = api_client.delete(f"/api/v1/sales/stages/{stages['Prospecting'].pk}")
    assert in_use.status_code == 409
    assert Stage.objects.filter(pk=stages["Prospecting"].pk).exists()
    added = post(api_client, f"/api/v1/sales/pipelines/{stages['Proposal'].pipeline_id}/stages",
                 {"name": "Legal review", "probability": 85, "position": 4})
    assert added.status_code == 201 and added.json()["kind"] == StageKind.OPEN
