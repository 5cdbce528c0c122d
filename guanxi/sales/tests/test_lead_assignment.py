"""Assignment of new leads: territory rules (named account, postcode, city, province,
industry), then round-robin among the reps covering the territory; reassignment."""

from __future__ import annotations

import pytest

from guanxi.core import services as core_services
from guanxi.core.models import Role, Team
from guanxi.sales import services
from guanxi.sales.models import AssignmentCursor, Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(make_user, east, south, east_team):
    south_team = Team.objects.create(name="South Sales", territory=south)
    return {
        "east1": make_user("east1", Role.SALES_REP, team=east_team, territory=east),
        "east2": make_user("east2", Role.SALES_REP, team=east_team, territory=east),
        "south1": make_user("south1", Role.SALES_REP, team=south_team),   # covers South through the team
    }


def web_lead(**fields) -> Lead:
    return services.lead_create(actor=None, data={"full_name": "访客", "email": "visitor@x.example", **fields})


def test_leads_of_a_territory_go_round_robin_among_its_reps(reps, east):
    owners = [web_lead(city="杭州").owner_id for _ in range(4)]
    assert owners == [reps["east1"].pk, reps["east2"].pk, reps["east1"].pk, reps["east2"].pk]
    assert set(Lead.objects.values_list("territory_id", flat=True)) == {east.pk}
    assert AssignmentCursor.objects.get(key=f"territory:{east.pk}").last_user_id == reps["east2"].pk


def test_the_most_specific_rule_wins(reps, east, south):
    # postcode beats city: a Guangzhou postcode with Shanghai as city goes south
    assert web_lead(city="上海", postcode="510620").territory_id == south.pk
    # industry is the last resort
    assert web_lead(industry="logistics").owner_id == reps["south1"].pk


def test_a_named_account_beats_the_address(reps, east, south, admin_user):
    account = core_services.account_create(actor=admin_user, data={"name": "Contoso Retail"})
    services.named_account_set(actor=admin_user, territory_id=south.pk, account_id=account.pk)
    lead = web_lead(company="contoso retail", city="上海")
    assert (lead.territory_id, lead.owner_id) == (south.pk, reps["south1"].pk)


def test_without_a_matching_territory_every_rep_takes_a_turn(reps):
    owners = {web_lead(city="Reykjavík").owner_id for _ in range(3)}
    assert owners == {rep.pk for rep in reps.values()}


def test_staff_keep_their_lead_unless_they_ask_for_the_rules(api_client, reps, admin_user):
    kept = api_client.post("/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example", "city": "杭州"},
                           content_type="application/json").json()
    routed = api_client.post("/api/v1/sales/leads", {"full_name": "B", "email": "b@x.example", "city": "杭州",
                                                     "auto_assign": True}, content_type="application/json").json()
    assert kept["owner"]["id"] == admin_user.pk
    assert routed["owner"]["id"] == reps["east1"].pk


def test_reassign_by_the_rules(api_client, reps, admin_user):
    lead = services.lead_create(actor=admin_user, data={"full_name": "A", "email": "a@x.example", "city": "深圳"})
    response = api_client.post(f"/api/v1/sales/leads/{lead.pk}/assign")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.owner_id == reps["south1"].pk


def test_a_rep_may_not_hand_a_lead_to_another_team(client_for, reps, make_user):
    outsider = make_user("outsider", Role.SALES_REP)
    client = client_for(reps["east1"])
    response = client.post("/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example",
                                                   "owner_id": outsider.pk}, content_type="application/json")
    assert response.status_code == 422 and "owner_id" in response.json()["errors"]
    assert not Lead.objects.exists()
