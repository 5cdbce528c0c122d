"""A call through the contact center with simulated media: it arrives, waits, rings at an
agent, is answered, held, hung up and lands on the customer's timeline; the database
keeps every step and the routing engine is rebuilt from it."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services
from guanxi.contactcenter.models import (
    AgentProfile, AgentStateChange, Call, CallEndReason, CallEvent, CallState, Disposition, Queue,
)
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.services import contact_create
from guanxi.interactions.models import Interaction

pytestmark = pytest.mark.django_db


def kinds(call) -> list[str]:
    return list(CallEvent.objects.filter(call=call).order_by("at", "id").values_list("kind", flat=True))


@pytest.fixture
def customer(admin_user):
    return contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "138 0013 8000",
                                                  "value_tier": "gold"})


def test_a_known_caller_is_answered_held_and_logged_on_the_timeline(center, customer):
    # given a billing queue on 95555 and one available agent
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")

    # when the customer calls from her mobile written another way
    call = center.call(ani="+86 138-0013-8000", dnis="95555")

    # then she is identified, gets gold priority and rings at Ana
    call.refresh_from_db()
    assert (call.contact_id, call.ani_e164, call.priority) == (customer.pk, "+8613800138000", 10)
    assert call.state == CallState.RINGING and call.offered_to == [ana.pk] and call.agent_id == ana.pk
    assert center.state_of(ana) == "ringing"

    # when Ana answers after 3 s, holds for 10 s and hangs up 60 s later
    center.clock.advance(3)
    services.call_answer(actor=ana, call_id=call.pk)
    assert center.state_of(ana) == "busy"
    center.clock.advance(20)
    services.call_hold(actor=ana, call_id=call.pk)
    center.clock.advance(10)
    services.call_unhold(actor=ana, call_id=call.pk)
    center.clock.advance(30)
    services.call_hangup(actor=ana, call_id=call.pk)

    # then the call is stored with its times and events
    call.refresh_from_db()
    assert call.state == CallState.ENDED and call.end_reason == CallEndReason.COMPLETED
    assert call.wait_seconds == pytest.approx(3, abs=0.01)
    assert call.talk_seconds == pytest.approx(50, abs=0.01)
    assert call.hold_seconds == pytest.approx(10, abs=0.01)
    assert kinds(call) == ["arrived", "queued", "offered", "answered", "held", "unheld", "ended"]
    # and it is on the customer's timeline once, with the agent and the duration
    interaction = Interaction.objects.get(source_type="call", source_id=str(call.pk))
    assert (interaction.contact_id, interaction.agent_id, interaction.channel, interaction.direction) == (
        customer.pk, ana.pk, "phone", "in")
    assert interaction.duration_seconds == 60 and interaction.reason == "Billing"
    assert call.interaction_id == interaction.pk
    # and Ana is available again, with her day in the state history
    assert center.state_of(ana) == "available"
    history = list(AgentStateChange.objects.filter(agent__user=ana).order_by("started_at", "id")
                   .values_list("state", flat=True))
    assert history == ["logged_out", "available", "ringing", "busy", "available"]


def test_disposition_after_hang_up_updates_the_timeline_entry(center, customer):
    center.queue("billing", numbers=["95555"], wrapup_seconds=30)
    ana = center.agent("ana")
    resolved = services.disposition_create(actor=None, data={"code": "resolved", "label": "Resolved",
                                                             "outcome": "Question answered"})
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    center.clock.advance(40)
    services.call_hangup(actor=ana, call_id=call.pk)
    assert center.state_of(ana) == "wrap_up"

    services.call_disposition(actor=ana, call_id=call.pk, disposition_id=resolved.pk, notes="Explained the bill")

    call.refresh_from_db()
    assert call.disposition_id == resolved.pk and call.notes == "Explained the bill"
    interaction = Interaction.objects.get(pk=call.interaction_id)
    assert (interaction.outcome, interaction.notes) == ("Question answered", "Explained the bill")
    # wrap-up ends on its own after 30 s and is counted on the call
    center.advance(31)
    assert center.state_of(ana) == "available"
    call.refresh_from_db()
    assert call.wrapup_seconds == pytest.approx(30, abs=0.01)


def test_a_disposition_that_needs_notes_is_refused_without_them(center, customer):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    complaint = services.disposition_create(actor=None, data={"code": "complaint", "label": "Complaint",
                                                              "requires_notes": True})
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)

    with pytest.raises(services.ValidationError) as raised:
        services.call_disposition(actor=ana, call_id=call.pk, disposition_id=complaint.pk, notes="  ")

    assert "notes" in raised.value.message_dict
    assert Call.objects.get(pk=call.pk).disposition_id is None


def test_a_caller_who_hangs_up_while_waiting_is_an_abandoned_call(center, customer):
    center.queue("billing", numbers=["95555"])
    call = center.call(dnis="95555")  # nobody logged in: the call waits
    assert Call.objects.get(pk=call.pk).state == CallState.QUEUED

    center.clock.advance(12)
    services.cti_event_apply(adapter="simulator", routes_calls=True,
                             report=services.CallReport(kind="ended", call_ref=call.external_id))

    call.refresh_from_db()
    assert (call.state, call.end_reason, call.agent_id) == (CallState.ENDED, CallEndReason.ABANDONED, None)
    assert call.wait_seconds == pytest.approx(12, abs=0.01)
    interaction = Interaction.objects.get(source_type="call", source_id=str(call.pk))
    assert interaction.outcome == str(CallEndReason.ABANDONED.label) and interaction.agent_id is None


def test_an_unanswered_offer_goes_to_the_next_agent_and_missing_three_pauses_the_agent(center, customer):
    center.queue("billing", numbers=["95555"], ring_timeout_seconds=10, strategy="linear")
    ana = center.agent("ana")
    ben = center.agent("ben")
    AgentProfile.objects.filter(user=ana).update(max_missed_offers=1)
    services.routing_service().invalidate("agent settings changed in the test")

    call = center.call(dnis="95555")
    assert Call.objects.get(pk=call.pk).offered_to == [ana.pk]

    center.advance(11)  # Ana's phone rings out

    call.refresh_from_db()
    assert call.offered_to == [ben.pk] and call.state == CallState.RINGING
    assert center.state_of(ana) == "away"
    assert AgentProfile.objects.get(user=ana).away_reason == "missed_offers"
    assert "offer_missed" in kinds(call)


def test_answering_a_call_that_rings_elsewhere_is_refused(center, customer, make_user):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    ben = center.agent("ben", available=False)
    boss = make_user("boss", "supervisor")
    call = center.call(dnis="95555")

    # another agent may not even see it; a supervisor sees it but it is not ringing at them
    with pytest.raises(NotFound):
        services.call_answer(actor=ben, call_id=call.pk)
    with pytest.raises(Conflict):
        services.call_answer(actor=boss, call_id=call.pk)

    assert Call.objects.get(pk=call.pk).state == CallState.RINGING
    assert center.state_of(ana) == "ringing"


def test_an_unknown_caller_reaches_the_timeline_once_the_agent_creates_the_contact(center, admin_user):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(ani="+8613900001111", dnis="95555")
    assert Call.objects.get(pk=call.pk).contact_id is None
    services.call_answer(actor=ana, call_id=call.pk)
    services.call_hangup(actor=ana, call_id=call.pk)
    assert not Interaction.objects.filter(source_type="call").exists()  # no customer to put it on yet

    contact = services.call_create_contact(actor=ana, call_id=call.pk, data={"full_name": "New Caller"})

    call.refresh_from_db()
    assert call.contact_id == contact.pk
    assert contact.phones.get().number == "+8613900001111"
    assert Interaction.objects.get(source_type="call", source_id=str(call.pk)).contact_id == contact.pk


def test_transfer_to_another_queue_rings_its_agent_and_keeps_one_call(center, customer):
    center.queue("billing", numbers=["95555"])
    center.queue("sales")
    ana = center.agent("ana", skills={"billing": 5})
    sam = center.agent("sam", skills={"sales": 5})
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    center.clock.advance(30)

    services.call_transfer(actor=ana, call_id=call.pk, queue_id=Queue.objects.get(code="sales").pk)

    call.refresh_from_db()
    assert (call.state, call.queue.code, call.offered_to, call.transfer_count) == (
        CallState.RINGING, "sales", [sam.pk], 1)
    assert call.talk_seconds == pytest.approx(30, abs=0.01)
    assert center.state_of(ana) == "available"
    center.clock.advance(5)
    services.call_answer(actor=sam, call_id=call.pk)
    center.clock.advance(20)
    services.call_hangup(actor=sam, call_id=call.pk)
    call.refresh_from_db()
    assert call.talk_seconds == pytest.approx(50, abs=0.01) and call.agent_id == sam.pk
    assert Interaction.objects.filter(source_type="call", source_id=str(call.pk)).count() == 1


def test_the_engine_is_rebuilt_from_the_database_with_waiting_calls_in_order(center, customer):
    center.queue("billing", numbers=["95555"])
    first = center.call(ani="+8613700000001", dnis="95555")
    center.clock.advance(1)
    second = center.call(ani="+8613700000002", dnis="95555")

    # when the process loses its engine (a restart), and an agent then logs in
    services.routing_service().invalidate("simulated restart")
    ana = center.agent("ana")

    # then the longest-waiting call rings first, the other still waits
    assert Call.objects.get(pk=first.pk).state == CallState.RINGING
    assert Call.objects.get(pk=second.pk).state == CallState.QUEUED
    services.call_answer(actor=ana, call_id=first.pk)
    services.routing_service().invalidate("simulated restart while on a call")
    services.call_hangup(actor=ana, call_id=first.pk)  # the rebuilt engine knew Ana only as busy
    assert Call.objects.get(pk=second.pk).offered_to == [ana.pk]


def test_logging_out_with_a_call_in_hand_is_refused(center, customer):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    profile = AgentProfile.objects.get(user=ana)

    with pytest.raises(Conflict):
        services.agent_state_set(actor=ana, agent_id=profile.pk, state="logged_out")

    assert center.state_of(ana) == "busy"


def test_a_call_to_a_number_nobody_answers_ends_with_a_reason(center):
    call = center.call(dnis="12345")
    call.refresh_from_db()
    assert (call.state, call.end_reason) == (CallState.ENDED, CallEndReason.NO_ROUTE)
    assert CallEvent.objects.filter(call=call, kind="ended", detail__reason="no_route").exists()


def test_dispositions_are_configuration_with_unique_codes():
    Disposition.objects.create(code="resolved", label="Resolved")
    with pytest.raises(services.ValidationError) as raised:
        services.disposition_create(actor=None, data={"code": "resolved", "label": "Again"})
    assert "code" in raised.value.message_dict
