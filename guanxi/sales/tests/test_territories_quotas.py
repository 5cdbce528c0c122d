"""Territory reassignment (moves open leads and opportunities, logged) and quotas."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from guanxi.core.models import AuditLog, Role
from guanxi.sales import services
from guanxi.sales.models import Lead, Opportunity, Quota, TerritoryReassignment

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


def test_reassignment_moves_open_records_only_and_is_logged(api_client, admin_user, rep, east, south, make_user,
                                                           deal):
    newcomer = make_user("rep.new", Role.SALES_REP, territory=south)
    open_lead = services.lead_create(actor=admin_user, data={"full_name": "A", "email": "a@x.example",
                                                             "owner_id": rep.pk})
    closed_lead = services.lead_create(actor=admin_user, data={"full_name": "B", "email": "b@x.example",
                                                               "owner_id": rep.pk})
    services.lead_disqualify(actor=admin_user, lead_id=closed_lead.pk, reason="no_need")
    assert open_lead.territory_id == east.pk and deal.territory_id == east.pk

    response = post(api_client, "/api/v1/sales/territories/reassign", {
        "from_territory_id": east.pk, "to_territory_id": south.pk, "to_owner_id": newcomer.pk,
        "reason": "Wang moves to marketing"})

    assert response.status_code == 201, response.content
    assert (response.json()["leads_moved"], response.json()["opportunities_moved"]) == (1, 1)
    assert Lead.objects.filter(pk=open_lead.pk, territory=south, owner=newcomer).exists()
    assert Opportunity.objects.filter(pk=deal.pk, territory=south, owner=newcomer).exists()
    assert Lead.objects.get(pk=closed_lead.pk).owner_id == rep.pk
    log = TerritoryReassignment.objects.get()
    assert log.actor_id == admin_user.pk and log.reason == "Wang moves to marketing"
    assert AuditLog.objects.filter(object_type="territoryreassignment", object_id=str(log.pk)).exists()
    assert api_client.get("/api/v1/sales/territories/reassignments").json()["items"][0]["leads_moved"] == 1


def test_a_reassignment_must_say_from_and_to(api_client, east):
    response = post(api_client, "/api/v1/sales/territories/reassign", {"from_territory_id": east.pk})
    assert response.status_code == 422 and "to_territory_id" in response.json()["errors"]
    assert not TerritoryReassignment.objects.exists()


def test_reps_cannot_reassign(rep_client, east, south):
    response = post(rep_client, "/api/v1/sales/territories/reassign", {"from_territory_id": east.pk,
                                                                       "to_territory_id": south.pk})
    assert response.status_code == 403
    assert not TerritoryReassignment.objects.exists()


def test_named_accounts_are_listed_with_their_territory(api_client, admin_user, south):
    from guanxi.core import services as core_services

    account = core_services.account_create(actor=admin_user, data={"name": "Fabrikam Telecom"})
    response = post(api_client, f"/api/v1/sales/territories/{south.pk}/named-accounts", {"account_id": account.pk})
    assert response.status_code == 201
    assert response.json()["named_accounts"] == [{"id": account.pk, "name": "Fabrikam Telecom"}]
    assert api_client.delete(f"/api/v1/sales/territories/{south.pk}/named-accounts/{account.pk}").status_code == 204


def test_a_manager_sets_quotas_for_the_team_only(client_for, manager, rep, make_user):
    outsider = make_user("rep.outside", Role.SALES_REP)
    client = client_for(manager)
    body = {"period": "quarter", "period_start": "2031-01-01", "period_end": "2031-03-31", "amount": "500000"}
    assert post(client, "/api/v1/sales/quotas", {**body, "user_id": rep.pk}).status_code == 201
    refused = post(client, "/api/v1/sales/quotas", {**body, "user_id": outsider.pk})
    assert refused.status_code == 422 and "user_id" in refused.json()["errors"]
    duplicate = post(client, "/api/v1/sales/quotas", {**body, "user_id": rep.pk})
    assert duplicate.status_code == 422
    backwards = post(client, "/api/v1/sales/quotas", {**body, "user_id": manager.pk, "period_end": "2030-12-31"})
    assert backwards.status_code == 422 and "period_end" in backwards.json()["errors"]
    assert list(Quota.objects.values_list("user_id", "amount")) == [(rep.pk, Decimal("500000.00"))]


def test_reps_see_their_own_quota(rep_client, admin_user, rep, manager):
    for user in (rep, manager):
        services.quota_create(actor=admin_user, data={"user_id": user.pk, "period": "month",
                                                      "period_start": datetime.date(2031, 1, 1),
                                                      "period_end": datetime.date(2031, 1, 31), "amount": 1000})
    items = rep_client.get("/api/v1/sales/quotas").json()["items"]
    assert [item["user"]["id"] for item in items] == [rep.pk]
