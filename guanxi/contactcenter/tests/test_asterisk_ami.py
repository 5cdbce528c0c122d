"""The Asterisk adapter, fed recorded AMI event streams through panoramisk's testing
manager: Asterisk routes (app_queue), Guanxi records each call, identifies the caller,
pops the screen, and logs every event it cannot apply with the reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from panoramisk import testing

from guanxi.contactcenter import services
from guanxi.contactcenter.cti import AsteriskAmiAdapter
from guanxi.contactcenter.models import AgentProfile, Call, CallEndReason, CallEvent, CallState, CtiEventLog
from guanxi.core.services import contact_create
from guanxi.interactions.models import Interaction

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).with_name("fixtures")


def replay(name: str) -> list:
    """Feed a recorded AMI stream to a panoramisk testing manager with the adapter registered."""
    loop = asyncio.new_event_loop()
    try:
        manager = testing.Manager(loop=loop)
        logs = []
        adapter = AsteriskAmiAdapter(apply=lambda report: logs.append(
            services.cti_event_apply(adapter="asterisk", report=report)))
        adapter.register(manager)
        manager.protocol.data_received((FIXTURES / name).read_bytes())
        manager.close()
        return logs
    finally:
        loop.close()


def outcomes(logs) -> list[tuple[str, str]]:
    return [(log.kind, log.outcome) for log in logs]


@pytest.fixture
def ana(center):
    center.queue("billing")
    return center.agent("ana", available=False, extension="PJSIP/1001")


@pytest.fixture
def ben(center):
    return center.agent("ben", available=False, extension="PJSIP/1002")


@pytest.fixture
def customer(admin_user):
    return contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13800138000", "value_tier": "gold"})


def test_an_answered_call_is_followed_from_arrival_to_hang_up(ana, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        logs = replay("ami_answered_call.txt")

    assert outcomes(logs) == [("offered", "applied"), ("data", "applied"), ("data", "applied"),
                              ("queued", "applied"), ("ringing", "applied"), ("answered", "applied"),
                              ("held", "applied"), ("unheld", "applied"), ("ended", "applied")]
    call = Call.objects.get(adapter="asterisk", external_id="1764057600.65")
    # the trunk's 0-prefixed number is the customer's mobile in E.164
    assert (call.ani_e164, call.contact_id, call.dnis, call.queue.code) == (
        "+8613800138000", customer.pk, "95555", "billing")
    assert call.ivr_data == {"account_number": "60012345"} and call.priority == 10
    assert (call.state, call.end_reason, call.agent_id, call.routed_by_engine) == (
        CallState.ENDED, CallEndReason.COMPLETED, ana.pk, False)
    assert call.wait_seconds == pytest.approx(4, abs=0.01)
    assert call.hold_seconds == pytest.approx(10, abs=0.01)
    assert call.talk_seconds == pytest.approx(70.1, abs=0.01)
    assert list(CallEvent.objects.filter(call=call).values_list("kind", flat=True)) == [
        "arrived", "queued", "ringing", "answered", "held", "unheld", "ended"]
    assert Interaction.objects.get(source_type="call", source_id=str(call.pk)).agent_id == ana.pk
    assert AgentProfile.objects.get(user=ana).state == "available"


def test_an_abandoned_call_and_the_hang_up_that_follows(ana, customer):
    logs = replay("ami_abandoned_call.txt")

    assert outcomes(logs) == [("offered", "applied"), ("queued", "applied"), ("ringing", "applied"),
                              ("abandoned", "applied"), ("ended", "duplicate")]
    call = Call.objects.get(external_id="1764061200.80")
    assert (call.state, call.end_reason, call.agent_id) == (CallState.ENDED, CallEndReason.ABANDONED, None)
    assert call.wait_seconds == pytest.approx(18, abs=0.01)
    assert logs[-1].reason == "call already ended"


def test_attended_transfer_to_a_colleague_then_blind_transfer_outside(ana, ben, customer):
    logs = replay("ami_transfers.txt")

    assert outcomes(logs)[-2:] == [("transferred", "applied"), ("transferred", "applied")]
    call = Call.objects.get(external_id="1764064800.90")
    assert call.agent_id == ben.pk and call.transfer_count == 1
    assert (call.state, call.end_reason) == (CallState.ENDED, CallEndReason.TRANSFERRED_OUT)
    transfers = list(CallEvent.objects.filter(call=call, kind="transferred").order_by("at")
                     .values_list("agent_id", "detail"))
    assert transfers[0] == (ana.pk, {"to_agent": ben.pk, "transfer": "attended"})
    assert transfers[1] == (ben.pk, {"number": "+862188886666"})
    assert call.talk_seconds == pytest.approx(120, abs=0.01)


def test_an_agent_whose_phone_drops_mid_call_keeps_the_call_record(ana, customer):
    logs = replay("ami_agent_disconnect.txt")

    assert outcomes(logs) == [("offered", "applied"), ("queued", "applied"), ("answered", "applied"),
                              ("agent_disconnected", "applied"), ("ended", "duplicate")]
    call = Call.objects.get(external_id="1764068400.100")
    assert (call.state, call.end_reason, call.agent_id) == (
        CallState.ENDED, CallEndReason.AGENT_DISCONNECTED, ana.pk)
    event = CallEvent.objects.get(call=call, kind="agent_disconnected")
    assert event.detail == {"detail": "Destination out of order"}
    assert AgentProfile.objects.get(user=ana).state == "logged_out"
    assert Interaction.objects.filter(source_type="call", source_id=str(call.pk)).exists()


def test_unknown_duplicated_and_late_events_are_logged_with_their_reason(ana):
    logs = replay("ami_out_of_order.txt")

    assert outcomes(logs) == [("held", "rejected"), ("queued", "recovered"), ("answered", "applied"),
                              ("answered", "duplicate"), ("ended", "applied"), ("unheld", "rejected")]
    assert logs[0].reason == "unknown call" and logs[0].call_id is None
    assert logs[3].reason == "event already received"
    assert logs[5].reason == "out of order: unheld while the call is ended"
    recovered = Call.objects.get(external_id="1764071995.111")
    assert (recovered.state, recovered.end_reason, recovered.agent_id) == (CallState.ENDED, "completed", ana.pk)
    assert CtiEventLog.objects.filter(adapter="asterisk").count() == 6


def test_the_caller_is_identified_by_the_account_number_captured_in_the_dialplan(ana, admin_user):
    account_holder = contact_create(actor=admin_user, data={"full_name": "李雷", "external_id": "60012345"})

    replay("ami_answered_call.txt")  # the calling number belongs to nobody

    call = Call.objects.get(external_id="1764057600.65")
    assert call.contact_id == account_holder.pk
    assert CallEvent.objects.filter(call=call, kind="contact_linked", detail__by="account_number").exists()


def test_the_agent_gets_the_screen_pop_when_asterisk_rings_them(ana, customer, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from guanxi.contactcenter.live import agent_group

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(ana.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        replay("ami_abandoned_call.txt")

    messages = []
    while True:
        try:
            messages.append(async_to_sync(asyncio.wait_for)(layer.receive(channel), 0.2))
        except asyncio.TimeoutError:
            break
    offers = [message for message in messages if message["event"] == "contactcenter.offer"]
    assert len(offers) == 1
    assert offers[0]["payload"]["ani"] == "+8613900139000"
    assert offers[0]["payload"]["customer"]["known"] is False
