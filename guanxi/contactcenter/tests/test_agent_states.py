"""Agent states through the API: available, away with a reason, logged out; busy, ringing
and wrap-up follow from calls; every change is kept in the state history."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services
from guanxi.contactcenter.models import AgentProfile, AgentStateChange

pytestmark = pytest.mark.django_db


def state_url(user) -> str:
    return f"/api/v1/contact-center/agents/{AgentProfile.objects.get(user=user).pk}/state"


def history(user) -> list[tuple[str, str]]:
    return list(AgentStateChange.objects.filter(agent__user=user).order_by("started_at", "id")
                .values_list("state", "away_reason"))


def test_an_agent_goes_away_for_lunch_and_comes_back(center, client_for):
    center.queue("billing")
    ana = center.agent("ana")
    client = client_for(ana)

    away = client.post(state_url(ana), {"state": "away", "reason": "lunch"}, content_type="application/json")
    center.clock.advance(1800)
    back = client.post(state_url(ana), {"state": "available"}, content_type="application/json")

    assert away.status_code == 200 and away.json()["state"] == "away" and away.json()["away_reason"] == "lunch"
    assert back.status_code == 200 and back.json()["state"] == "available"
    assert history(ana) == [("logged_out", ""), ("available", ""), ("away", "lunch"), ("available", "")]
    lunch = AgentStateChange.objects.get(agent__user=ana, state="away")
    assert (lunch.ended_at - lunch.started_at).total_seconds() == pytest.approx(1800, abs=0.01)
    assert AgentStateChange.objects.filter(agent__user=ana, ended_at__isnull=True).count() == 1


def test_away_needs_a_reason_and_busy_cannot_be_chosen(center, client_for):
    ana = center.agent("ana")
    client = client_for(ana)

    no_reason = client.post(state_url(ana), {"state": "away"}, content_type="application/json")
    busy = client.post(state_url(ana), {"state": "busy"}, content_type="application/json")

    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    assert busy.status_code == 422
    assert AgentProfile.objects.get(user=ana).state == "available"


def test_an_away_agent_gets_no_calls_until_back(center, client_for):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    client_for(ana).post(state_url(ana), {"state": "away", "reason": "break"}, content_type="application/json")

    call = center.call(dnis="95555")
    assert services.Call.objects.get(pk=call.pk).state == "queued"

    client_for(ana).post(state_url(ana), {"state": "available"}, content_type="application/json")
    assert services.Call.objects.get(pk=call.pk).offered_to == [ana.pk]


def test_an_agent_may_not_change_a_colleague_but_a_supervisor_may(center, client_for, make_user):
    ana = center.agent("ana")
    ben = center.agent("ben")
    boss = make_user("boss", "supervisor")

    by_colleague = client_for(ben).post(state_url(ana), {"state": "logged_out"}, content_type="application/json")
    assert by_colleague.status_code == 404
    assert AgentProfile.objects.get(user=ana).state == "available"

    by_supervisor = client_for(boss).post(state_url(ana), {"state": "logged_out"}, content_type="application/json")
    assert by_supervisor.status_code == 200
    assert AgentProfile.objects.get(user=ana).state == "logged_out"
    assert AgentStateChange.objects.filter(agent__user=ana).latest("started_at", "id").changed_by_id == boss.pk


def test_logging_out_with_a_call_answers_409_and_keeps_the_agent_busy(center, client_for):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)

    response = client_for(ana).post(state_url(ana), {"state": "logged_out"}, content_type="application/json")

    assert response.status_code == 409
    assert AgentProfile.objects.get(user=ana).state == "busy"


def test_away_during_a_call_takes_effect_after_it(center, client_for):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    first = center.call(ani="+8613700000001", dnis="95555")
    services.call_answer(actor=ana, call_id=first.pk)
    center.call(ani="+8613700000002", dnis="95555")

    client_for(ana).post(state_url(ana), {"state": "away", "reason": "meeting"}, content_type="application/json")
    services.call_hangup(actor=ana, call_id=first.pk)

    profile = AgentProfile.objects.get(user=ana)
    assert (profile.state, profile.away_reason) == ("away", "meeting")
    assert services.Call.objects.filter(state="queued").count() == 1  # the second caller still waits


def test_wrap_up_ends_early_when_the_agent_is_ready(center, client_for):
    center.queue("billing", numbers=["95555"], wrapup_seconds=60)
    ana = center.agent("ana")
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    services.call_hangup(actor=ana, call_id=call.pk)
    assert AgentProfile.objects.get(user=ana).state == "wrap_up"
    center.clock.advance(12)

    response = client_for(ana).post(state_url(ana), {"state": "available"}, content_type="application/json")

    assert response.status_code == 200 and response.json()["state"] == "available"
    call.refresh_from_db()
    assert call.wrapup_seconds == pytest.approx(12, abs=0.01)


def test_state_history_is_listed_newest_first(center, client_for):
    ana = center.agent("ana")
    client = client_for(ana)
    client.post(state_url(ana), {"state": "away", "reason": "training"}, content_type="application/json")

    listing = client.get(f"/api/v1/contact-center/agents/{AgentProfile.objects.get(user=ana).pk}/state-history")

    assert listing.status_code == 200
    assert [item["state"] for item in listing.json()["items"]] == ["away", "available", "logged_out"]
