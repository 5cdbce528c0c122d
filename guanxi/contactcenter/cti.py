"""Telephony adapters (CTI): they turn what a telephone system says into ``CallReport``s
for ``services.cti_event_apply``, which applies them to the stored calls.

* ``SimulatorAdapter``: the built-in phone, driven from the simulator page and the API;
  Guanxi's own engine routes its calls.
* ``TwilioAdapter``: Twilio's voice webhooks (signature checked) drive the IVR; answers
  are TwiML.
* ``AsteriskAmiAdapter``: Asterisk's Manager Interface through ``panoramisk``; Asterisk's
  app_queue routes, Guanxi records, identifies the caller and pops the screen.

A report carries the adapter's call ID (``call_ref``), its event ID (a repeat is a
duplicate), ANI/DNIS, the queue, the agent's interface and a transfer target; everything
the adapter cannot place is logged, never silently dropped.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from typing import Protocol

from guanxi.contactcenter.services import CallReport

logger = logging.getLogger(__name__)


class TelephonyAdapter(Protocol):
    """What every adapter declares: its name and whether Guanxi routes its calls."""

    name: str
    routes_calls: bool


# ======================================================================================
# Built-in simulator
# ======================================================================================
class SimulatorAdapter:
    """The built-in phone: calls placed from the simulator page or ``/api/v1/contact-center/simulator``."""

    name = "simulator"
    routes_calls = True

    def report(self, report: CallReport):
        from guanxi.contactcenter.services import cti_event_apply

        return cti_event_apply(adapter=self.name, report=report, routes_calls=self.routes_calls)


# ======================================================================================
# Twilio
# ======================================================================================
class TwilioAdapter:
    """Twilio Programmable Voice webhooks.

    Configure the number's "A call comes in" webhook as ``POST …/contact-center/twilio/voice/``
    and its status callback as ``POST …/contact-center/twilio/status/``. Requests must carry
    a valid ``X-Twilio-Signature`` for ``GUANXI_TWILIO_AUTH_TOKEN``; behind a proxy that
    changes the host or scheme, set ``GUANXI_TWILIO_PUBLIC_URL`` (e.g.
    ``https://crm.example.com``) to the address Twilio calls.
    """

    name = "twilio"
    routes_calls = True
    # Twilio's CallStatus values that mean the call is over.
    FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")

    def __init__(self, auth_token: str | None = None, public_url: str | None = None) -> None:
        from django.conf import settings

        self.auth_token = auth_token if auth_token is not None else getattr(
            settings, "GUANXI_TWILIO_AUTH_TOKEN", os.environ.get("GUANXI_TWILIO_AUTH_TOKEN", ""))
        self.public_url = public_url if public_url is not None else getattr(
            settings, "GUANXI_TWILIO_PUBLIC_URL", os.environ.get("GUANXI_TWILIO_PUBLIC_URL", ""))

    @property
    def configured(self) -> bool:
        return bool(self.auth_token)

    def request_url(self, request) -> str:
        url = request.build_absolute_uri()
        if self.public_url:
            path = request.get_full_path()
            url = self.public_url.rstrip("/") + path
        return url

    def signature_valid(self, request) -> bool:
        from twilio.request_validator import RequestValidator

        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self.auth_token:
            return False
        return RequestValidator(self.auth_token).validate(self.request_url(request), request.POST.dict(), signature)

    def voice(self, request) -> str:
        """TwiML answering one voice webhook: the first request of a call starts its IVR,
        later ones carry the keys gathered (or ``timeout=1`` when none came)."""
        from django.urls import reverse
        from django.utils.translation import gettext as _

        from guanxi.contactcenter import services
        from guanxi.contactcenter.ivr import Hangup, Say
        from guanxi.contactcenter.ivr.twiml import actions_to_twiml
        from guanxi.contactcenter.models import Call, CallState

        call_sid = request.POST.get("CallSid", "")
        action_url = self.public_action_url(request, reverse("contactcenter:twilio_voice"))
        call = Call.objects.filter(adapter=self.name, external_id=call_sid).first()
        if call is None:
            _log, step = services.cti_event_apply_with_step(
                adapter=self.name, routes_calls=True,
                report=CallReport(kind="offered", call_ref=call_sid, event_id=f"{call_sid}:offered",
                                  ani=request.POST.get("From", ""), dnis=request.POST.get("To", "")))
            call = Call.objects.filter(adapter=self.name, external_id=call_sid).first()
            actions = step.actions if step else []
        elif call.state == CallState.IVR:
            if request.GET.get("timeout"):
                actions = services.call_ivr_input(call_id=call.pk, no_input=True).actions
            else:
                actions = services.call_ivr_input(call_id=call.pk, digits=request.POST.get("Digits", "")).actions
        else:
            actions = []
        if call is None or (call.state == CallState.ENDED and not actions):
            actions = [Say(_("Sorry, this number cannot take your call."), "en"), Hangup(data={})]
        return actions_to_twiml(actions, action_url=action_url)

    def status(self, request) -> None:
        """Twilio's status callback: a final status ends the call (logged like any event)."""
        from guanxi.contactcenter import services

        call_sid = request.POST.get("CallSid", "")
        status = request.POST.get("CallStatus", "")
        if status not in self.FINAL_STATUSES:
            return
        services.cti_event_apply(adapter=self.name, routes_calls=True,
                                 report=CallReport(kind="ended", call_ref=call_sid, event_id=f"{call_sid}:{status}",
                                                   detail={"status": status}))

    def public_action_url(self, request, path: str) -> str:
        return (self.public_url.rstrip("/") + path) if self.public_url else request.build_absolute_uri(path)


# ======================================================================================
# Asterisk AMI (panoramisk)
# ======================================================================================
# AMI hangup causes (Q.850) that mean the device dropped rather than someone hanging up.
DEVICE_LOST_CAUSES = {"19", "20", "27", "38", "41"}
# AMI QueueMemberStatus Status 5 = AST_DEVICE_UNAVAILABLE.
DEVICE_UNAVAILABLE = "5"
# Channel variables set in the dialplan that travel with the call into Guanxi (IVR data).
DATA_VARIABLES = {"GUANXI_ACCOUNT_NUMBER": "account_number", "GUANXI_REASON": "reason", "QUEUE_PRIO": "priority"}


class AsteriskAmiAdapter:
    """Asterisk's Manager Interface events → call reports.

    Asterisk routes (app_queue); Guanxi follows each call by its ``Linkedid`` (the ID every
    channel of one call shares) and maps:

    ==========================  ===============================================
    AMI event                   report
    ==========================  ===============================================
    Newchannel (first channel)  offered (ANI = CallerIDNum, DNIS = Exten)
    VarSet GUANXI_*/QUEUE_PRIO  data captured in the dialplan
    QueueCallerJoin             queued (Queue)
    AgentCalled                 ringing (Interface → the agent's extension)
    AgentConnect                answered
    Hold / Unhold               held / unheld
    BlindTransfer               transferred (Extension)
    AttendedTransfer            transferred (the second call's party)
    QueueCallerAbandon          abandoned
    Hangup (first channel)      ended
    Hangup (agent, cause 27…)   agent_disconnected
    QueueMemberStatus 5, InCall agent_disconnected
    ==========================  ===============================================

    ``apply`` receives each report (``cti_event_apply`` in production, wrapped for the
    asyncio loop by ``listen``). Event IDs come from ``Timestamp`` (``timestampevents=yes``
    in manager.conf), so an event delivered twice is recognised.
    """

    name = "asterisk"
    routes_calls = False
    EVENTS = ("Newchannel", "VarSet", "QueueCallerJoin", "AgentCalled", "AgentConnect", "Hold", "Unhold",
              "BlindTransfer", "AttendedTransfer", "QueueCallerAbandon", "Hangup", "QueueMemberStatus")

    def __init__(self, apply: Callable[[CallReport], object]) -> None:
        self.apply = apply
        # Linkedid → interface of the agent connected to it, to recognise an agent's device dropping.
        self._connected: dict[str, str] = {}

    def register(self, manager) -> None:
        for name in self.EVENTS:
            manager.register_event(name, self.on_event)

    def on_event(self, manager, event):
        report = self.to_report(event)
        if report is None:
            return None
        return self.apply(report)

    # ------------------------------------------------------------------ mapping

    def to_report(self, event) -> CallReport | None:
        kind = event.get("Event", "")
        handler = getattr(self, f"_on_{kind.lower()}", None)
        return handler(event) if handler is not None else None

    @staticmethod
    def _at(event) -> datetime.datetime | None:
        stamp = event.get("Timestamp")
        try:
            return datetime.datetime.fromtimestamp(float(stamp), tz=datetime.timezone.utc) if stamp else None
        except ValueError:
            return None

    @staticmethod
    def _event_id(event, call_ref: str) -> str:
        stamp = event.get("Timestamp", "")
        return f"{call_ref}:{event.get('Event')}:{event.get('Uniqueid', '')}:{stamp}" if stamp else ""

    def _report(self, event, kind: str, call_ref: str, **fields) -> CallReport:
        return CallReport(kind=kind, call_ref=call_ref, event_id=self._event_id(event, call_ref), at=self._at(event),
                          **fields)

    @staticmethod
    def _linkedid(event) -> str:
        return event.get("Linkedid") or event.get("Uniqueid") or ""

    @staticmethod
    def _is_first_channel(event) -> bool:
        return bool(event.get("Uniqueid")) and event.get("Uniqueid") == event.get("Linkedid")

    def _on_newchannel(self, event):
        if not self._is_first_channel(event):
            return None  # an agent's leg or a local channel of a call already followed
        return self._report(event, "offered", self._linkedid(event), ani=event.get("CallerIDNum", ""),
                            dnis=event.get("Exten", ""))

    def _on_varset(self, event):
        name = event.get("Variable", "")
        if name not in DATA_VARIABLES:
            return None
        return self._report(event, "data", self._linkedid(event),
                            detail={DATA_VARIABLES[name]: event.get("Value", "")})

    def _on_queuecallerjoin(self, event):
        return self._report(event, "queued", self._linkedid(event), ani=event.get("CallerIDNum", ""),
                            queue=event.get("Queue", ""), detail={"position": event.get("Position", "")})

    def _on_agentcalled(self, event):
        return self._report(event, "ringing", self._linkedid(event), queue=event.get("Queue", ""),
                            agent_ref=event.get("Interface") or event.get("MemberName", ""),
                            ani=event.get("CallerIDNum", ""))

    def _on_agentconnect(self, event):
        call_ref = self._linkedid(event)
        interface = event.get("Interface") or event.get("MemberName", "")
        self._connected[call_ref] = interface
        return self._report(event, "answered", call_ref, queue=event.get("Queue", ""), agent_ref=interface,
                            ani=event.get("CallerIDNum", ""))

    def _on_hold(self, event):
        return self._report(event, "held", self._linkedid(event))

    def _on_unhold(self, event):
        return self._report(event, "unheld", self._linkedid(event))

    def _on_blindtransfer(self, event):
        call_ref = event.get("TransfereeLinkedid") or event.get("TransfererLinkedid", "")
        return self._report(event, "transferred", call_ref, target=event.get("Extension", ""),
                            detail={"transfer": "blind"})

    def _on_attendedtransfer(self, event):
        call_ref = event.get("OrigTransfererLinkedid") or event.get("TransfereeLinkedid", "")
        target = (event.get("SecondTransfererConnectedLineNum") or event.get("TransferTargetCallerIDNum")
                  or event.get("SecondTransfererExten", ""))
        return self._report(event, "transferred", call_ref, target=target, detail={"transfer": "attended"})

    def _on_queuecallerabandon(self, event):
        return self._report(event, "abandoned", self._linkedid(event), queue=event.get("Queue", ""),
                            detail={"hold_time": event.get("HoldTime", "")})

    def _on_hangup(self, event):
        call_ref = self._linkedid(event)
        if self._is_first_channel(event):
            self._connected.pop(call_ref, None)
            return self._report(event, "ended", call_ref, detail={"cause": event.get("Cause", "")})
        interface = self._connected.get(call_ref)
        channel = event.get("Channel", "")
        if interface and channel.startswith(interface + "-") and event.get("Cause") in DEVICE_LOST_CAUSES:
            self._connected.pop(call_ref, None)
            return self._report(event, "agent_disconnected", call_ref, agent_ref=interface,
                                detail={"reason": event.get("Cause-txt", ""), "cause": event.get("Cause", "")})
        return None

    def _on_queuememberstatus(self, event):
        if event.get("Status") != DEVICE_UNAVAILABLE or event.get("InCall") != "1":
            return None
        interface = event.get("Interface") or event.get("StateInterface", "")
        for call_ref, connected in list(self._connected.items()):
            if connected == interface:
                self._connected.pop(call_ref)
                return self._report(event, "agent_disconnected", call_ref, agent_ref=interface,
                                    detail={"reason": "device unavailable"})
        return None


def listen_to_asterisk(*, host: str, port: int, username: str, secret: str) -> None:
    """Connect to Asterisk's AMI and apply its events until stopped (``guanxi asterisk_ami``)."""
    import asyncio

    from asgiref.sync import sync_to_async
    from panoramisk import Manager

    from guanxi.contactcenter.services import cti_event_apply

    apply_in_thread = sync_to_async(
        lambda report: cti_event_apply(adapter=AsteriskAmiAdapter.name, report=report, routes_calls=False),
        thread_sensitive=True)
    adapter = AsteriskAmiAdapter(apply=apply_in_thread)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    manager = Manager(loop=loop, host=host, port=port, username=username, secret=secret, ping_delay=10)
    adapter.register(manager)
    manager.connect(run_forever=True)
