"""Telephony events posted to the API by an integration: applied in order, duplicates and
late events logged with their reason, never a lost call record."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services
from guanxi.contactcenter.models import AgentProfile, Call, CallEndReason, CallState, CtiEventLog

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/contact-center/cti/events"


@pytest.fixture
def integration(make_user, client_for):
    return client_for(make_user("pbx", "admin"))


def report(client, **body):
    return client.post(EVENTS, {"adapter": "external", **body}, content_type="application/json")


def test_a_call_reported_by_an_outside_system_is_recorded_step_by_step(center, integration):
    center.queue("billing")
    ana = center.agent("ana", available=False, extension="2001")

    answers = [report(integration, kind="offered", call_ref="c-1", event_id="e1", ani="+8613800138000",
                      dnis="95555", at="2026-03-01T10:00:00+08:00"),
               report(integration, kind="queued", call_ref="c-1", event_id="e2", queue="billing",
                      at="2026-03-01T10:00:05+08:00"),
               report(integration, kind="ringing", call_ref="c-1", event_id="e3", agent_ref="2001",
                      at="2026-03-01T10:00:07+08:00"),
               report(integration, kind="answered", call_ref="c-1", event_id="e4", agent_ref="2001",
                      at="2026-03-01T10:00:10+08:00"),
               report(integration, kind="ended", call_ref="c-1", event_id="e5", at="2026-03-01T10:02:10+08:00")]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert [answer.json()["outcome"] for answer in answers] == ["applied"] * 5
    call = Call.objects.get(adapter="external", external_id="c-1")
    assert (call.state, call.end_reason, call.agent_id) == (CallState.ENDED, CallEndReason.COMPLETED, ana.pk)
    assert (call.wait_seconds, call.talk_seconds) == (pytest.approx(5), pytest.approx(120))
    assert AgentProfile.objects.get(user=ana).state == "available"


def test_the_same_event_twice_is_a_logged_duplicate(center, integration):
    center.queue("billing")
    first = report(integration, kind="offered", call_ref="c-2", event_id="dup-1", ani="+8613800138000")
    again = report(integration, kind="offered", call_ref="c-2", event_id="dup-1", ani="+8613800138000")

    assert (first.json()["outcome"], again.json()["outcome"]) == ("applied", "duplicate")
    assert again.json()["reason"] == "event already received"
    assert Call.objects.filter(external_id="c-2").count() == 1
    assert CtiEventLog.objects.filter(event_id="dup-1").count() == 2


def test_unknown_kinds_and_events_for_unknown_calls_are_refused_with_a_reason(integration):
    unknown_kind = report(integration, kind="teleported", call_ref="c-3")
    unknown_call = report(integration, kind="held", call_ref="never-seen")

    assert unknown_kind.json()["outcome"] == "rejected" and "unknown event kind" in unknown_kind.json()["reason"]
    assert (unknown_call.json()["outcome"], unknown_call.json()["reason"]) == ("rejected", "unknown call")
    assert not Call.objects.exists()
    listing = integration.get(EVENTS, {"outcome": "rejected"})
    assert {item["call_ref"] for item in listing.json()["items"]} == {"c-3", "never-seen"}


def test_an_answer_after_the_hang_up_is_out_of_order(center, integration):
    center.queue("billing")
    center.agent("ana", available=False, extension="2001")
    report(integration, kind="offered", call_ref="c-4", ani="+8613800138000")
    report(integration, kind="ended", call_ref="c-4")

    late = report(integration, kind="answered", call_ref="c-4", agent_ref="2001")

    assert late.json()["outcome"] == "rejected"
    assert late.json()["reason"] == "out of order: answered while the call is ended"
    call = Call.objects.get(external_id="c-4")
    assert (call.state, call.agent_id) == (CallState.ENDED, None)


def test_a_ringing_report_for_an_unknown_agent_is_rejected_and_the_call_kept(center, integration):
    center.queue("billing")
    report(integration, kind="offered", call_ref="c-5", ani="+8613800138000")
    report(integration, kind="queued", call_ref="c-5", queue="billing")

    answer = report(integration, kind="ringing", call_ref="c-5", agent_ref="9999")

    assert answer.json()["outcome"] == "rejected" and "no agent with extension" in answer.json()["reason"]
    assert Call.objects.get(external_id="c-5").state == CallState.QUEUED


def test_an_agent_disconnecting_mid_call_ends_it_and_logs_them_out(center, integration):
    """A call Guanxi routes (simulator) whose agent's desktop phone drops."""
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    center.clock.advance(30)

    answer = integration.post(EVENTS, {"adapter": "simulator", "kind": "agent_disconnected",
                                       "call_ref": call.external_id, "agent_ref": "ana"},
                              content_type="application/json")

    assert answer.json()["outcome"] == "applied"
    call.refresh_from_db()
    assert (call.state, call.end_reason, call.agent_id) == (CallState.ENDED, CallEndReason.AGENT_DISCONNECTED,
                                                            ana.pk)
    assert call.talk_seconds == pytest.approx(30, abs=0.01)
    assert AgentProfile.objects.get(user=ana).state == "logged_out"


def test_agents_may_not_report_telephony_events(center, client_for):
    ana = center.agent("ana")

    answer = client_for(ana).post(EVENTS, {"adapter": "external", "kind": "offered", "call_ref": "c-6"},
                                  content_type="application/json")

    assert answer.status_code == 403 and not CtiEventLog.objects.exists()
