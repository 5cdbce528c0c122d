"""Every read of the contact center, with the access check inside.

Record scopes (from ``access_matrix.csv``): a call is "own" when the actor is its agent;
team and territory follow the agent's team and territory. An agent's state and profile
are "own" for the agent themself.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.contactcenter.models import (
    LIVE_CALL_STATES, AgentProfile, AgentStateChange, AgentStateKind, Call, CallEndReason, CallEvent, CallState,
    CtiEventLog, Disposition, IvrCredential, IvrMenu, Queue, Script, Skill,
)
from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.events import customer_glance_requested
from guanxi.core.models import Account, Contact, User, Visibility


def _require(actor: User, object_name: str, action: str) -> str:
    scope = scope_for(actor, object_name, action)
    if scope == Visibility.NONE:
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} {object_name}")
    return scope


def _get(queryset: QuerySet, object_id, label: str):
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} {object_id}") from None


def _all_or_nothing(actor: User, object_name: str, action: str) -> None:
    """Objects without owners (configuration): any scope grants the whole table."""
    _require(actor, object_name, action)


# ======================================================================================
# Configuration: skills, queues, dispositions, scripts, IVR menus
# ======================================================================================
def skill_list(actor: User) -> QuerySet[Skill]:
    _all_or_nothing(actor, "queue", "view")
    return Skill.objects.order_by("name", "code")


def access_skill_by_id(actor: User, skill_id, action: str = "view") -> Skill:
    _all_or_nothing(actor, "queue", action)
    return _get(Skill.objects.all(), skill_id, "skill")


def queue_list(actor: User, action: str = "view", *, active_only: bool = False) -> QuerySet[Queue]:
    _all_or_nothing(actor, "queue", action)
    queryset = Queue.objects.select_related("overflow_queue")
    if active_only:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("name", "id")


def access_queue_by_id(actor: User, queue_id, action: str = "view") -> Queue:
    return _get(queue_list(actor, action), queue_id, "queue")


def disposition_list(actor: User, action: str = "view", *, active_only: bool = False) -> QuerySet[Disposition]:
    _all_or_nothing(actor, "disposition", action)
    queryset = Disposition.objects.all()
    return queryset.filter(is_active=True) if active_only else queryset


def access_disposition_by_id(actor: User, disposition_id, action: str = "view") -> Disposition:
    return _get(disposition_list(actor, action), disposition_id, "disposition")


def script_list(actor: User, action: str = "view", *, active_only: bool = False) -> QuerySet[Script]:
    _all_or_nothing(actor, "script", action)
    queryset = Script.objects.select_related("queue")
    return queryset.filter(is_active=True) if active_only else queryset


def access_script_by_id(actor: User, script_id, action: str = "view") -> Script:
    return _get(script_list(actor, action), script_id, "script")


def ivr_menu_list(actor: User, action: str = "view") -> QuerySet[IvrMenu]:
    _all_or_nothing(actor, "ivr_menu", action)
    return IvrMenu.objects.order_by("name", "id")


def access_ivr_menu_by_id(actor: User, menu_id, action: str = "view") -> IvrMenu:
    return _get(ivr_menu_list(actor, action), menu_id, "IVR menu")


def ivr_menu_for_number(dnis: str) -> IvrMenu | None:
    """The active menu answering ``dnis`` (for the telephony side, before any user is involved)."""
    if not dnis:
        return None
    for menu in IvrMenu.objects.filter(is_active=True).order_by("id"):
        if dnis in (menu.numbers or []):
            return menu
    return None


def queue_for_number(dnis: str) -> Queue | None:
    if not dnis:
        return None
    for queue in Queue.objects.filter(is_active=True).order_by("id"):
        if dnis in (queue.numbers or []):
            return queue
    return None


def queue_for_route(code: str | None, skills: dict[str, int] | None) -> Queue | None:
    """The active queue an IVR ``queue`` node names: by code, or the first whose required
    skills cover the requested ones at the requested levels."""
    queues = Queue.objects.filter(is_active=True).order_by("id")
    if code:
        return queues.filter(code=code).first()
    wanted = skills or {}
    for queue in queues:
        required = queue.required_skills or {}
        if wanted and all(required.get(skill, 0) >= level for skill, level in wanted.items()):
            return queue
    return None


def credential_for_number(account_number: str) -> IvrCredential | None:
    return IvrCredential.objects.filter(account_number=account_number).select_related("contact", "account").first()


def customer_for_account_number(account_number: str) -> tuple[Contact | None, Account | None]:
    """The customer an account number keyed in the IVR belongs to: an IVR credential,
    else an account or contact whose external ID it is (no user scope: the caller is
    not a user; the screen pop later shows only what the agent may see)."""
    if not account_number:
        return None, None
    credential = credential_for_number(account_number)
    if credential is not None:
        return credential.contact, credential.account or (credential.contact.account if credential.contact else None)
    account = Account.objects.filter(external_id=account_number).first()
    if account is not None:
        return account.contacts.order_by("id").first() if hasattr(account, "contacts") else None, account
    contact = Contact.objects.filter(external_id=account_number).select_related("account").first()
    if contact is not None:
        return contact, contact.account
    return None, None


# ======================================================================================
# Agents
# ======================================================================================
def _agent_scope_q(actor: User, scope: str) -> Q | None:
    return core_selectors.scope_q(actor, scope, owner="user", team="user__team", territory="user__territory")


def visible_agents(actor: User, action: str = "view", object_name: str = "agent_profile") -> QuerySet[AgentProfile]:
    scope = _require(actor, object_name, action)
    condition = _agent_scope_q(actor, scope)
    queryset = AgentProfile.objects.select_related("user").prefetch_related("skills__skill", "memberships__queue")
    return queryset if condition is None else queryset.filter(condition)


def access_agent_by_id(actor: User, agent_id, action: str = "view") -> AgentProfile:
    try:
        return visible_agents(actor, action).get(pk=agent_id)
    except (AgentProfile.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_agents(actor, "view").filter(pk=agent_id).exists():
            raise PermissionDenied(f"may not {action} agent {agent_id}") from None
        raise NotFound(f"agent {agent_id}") from None


def access_agent_state(actor: User, agent_id, action: str = "view") -> AgentProfile:
    """The agent whose state the actor may see (or change): their own, or wider by scope."""
    try:
        return visible_agents(actor, action, "agent_state").get(pk=agent_id)
    except (AgentProfile.DoesNotExist, ValueError, TypeError):
        if action != "view" and scope_for(actor, "agent_state", "view") != Visibility.NONE and \
                visible_agents(actor, "view", "agent_state").filter(pk=agent_id).exists():
            raise PermissionDenied(f"may not {action} the state of agent {agent_id}") from None
        raise NotFound(f"agent {agent_id}") from None


def own_agent_profile(actor: User) -> AgentProfile | None:
    return AgentProfile.objects.filter(user_id=actor.pk).select_related("user").first()


def agent_state_history(actor: User, agent_id, *, since: datetime.datetime | None = None) -> QuerySet:
    agent = access_agent_state(actor, agent_id)
    queryset = AgentStateChange.objects.filter(agent=agent)
    if since is not None:
        queryset = queryset.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
    return queryset.order_by("-started_at", "-id")


# ======================================================================================
# Calls
# ======================================================================================
def visible_calls(actor: User, action: str = "view") -> QuerySet[Call]:
    scope = _require(actor, "call", action)
    condition = core_selectors.scope_q(actor, scope, owner="agent", team="agent__team",
                                       territory="agent__territory")
    queryset = Call.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def access_call_by_id(actor: User, call_id, action: str = "view") -> Call:
    """The call if ``actor`` may ``action`` it. A call ringing at the actor counts as theirs."""
    try:
        call = (Call.objects.select_related("queue", "contact", "account", "agent", "disposition", "script",
                                            "ivr_menu").get(pk=call_id))
    except (Call.DoesNotExist, ValueError, TypeError):
        _require(actor, "call", action)
        raise NotFound(f"call {call_id}") from None
    scope = _require(actor, "call", action)
    if scope == Visibility.ALL or actor.pk in (call.offered_to or []):
        return call
    if visible_calls(actor, action).filter(pk=call.pk).exists():
        return call
    if action != "view" and scope_for(actor, "call", "view") != Visibility.NONE and \
            visible_calls(actor, "view").filter(pk=call.pk).exists():
        raise PermissionDenied(f"may not {action} call {call_id}")
    raise NotFound(f"call {call_id}")


@dataclass(frozen=True)
class CallFilters:
    state: str = ""
    queue_id: int | None = None
    agent_id: int | None = None
    contact_id: int | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def call_list(actor: User, filters: CallFilters | None = None, action: str = "view") -> QuerySet[Call]:
    filters = filters or CallFilters()
    queryset = visible_calls(actor, action).select_related("queue", "contact", "agent", "disposition")
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    if filters.queue_id:
        queryset = queryset.filter(queue_id=filters.queue_id)
    if filters.agent_id:
        queryset = queryset.filter(agent_id=filters.agent_id)
    if filters.contact_id:
        queryset = queryset.filter(contact_id=filters.contact_id)
    if filters.since:
        queryset = queryset.filter(arrived_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(arrived_at__lt=filters.until)
    return queryset.order_by("-arrived_at", "-id")


def call_events(actor: User, call_id) -> QuerySet[CallEvent]:
    call = access_call_by_id(actor, call_id)
    return call.events.select_related("agent").order_by("at", "id")


def contact_calls(actor: User, contact_id: int, limit: int = 10) -> list[Call]:
    """The contact's latest calls that the actor may see (360° panel)."""
    core_selectors.access_contact_by_id(actor, contact_id)
    return list(visible_calls(actor).filter(contact_id=contact_id).select_related("queue", "agent", "disposition")
                .order_by("-arrived_at", "-id")[:limit])


def cti_event_list(actor: User, *, outcome: str = "") -> QuerySet[CtiEventLog]:
    """The telephony event log: for those who see every call."""
    if _require(actor, "call", "view") != Visibility.ALL:
        raise PermissionDenied("the telephony log covers every call")
    queryset = CtiEventLog.objects.select_related("call")
    if outcome:
        queryset = queryset.filter(outcome=outcome)
    return queryset.order_by("-received_at", "-id")


# ======================================================================================
# Screen pop and agent desktop
# ======================================================================================
def _tier_label(tier: str) -> str:
    from guanxi.core.models import ValueTier

    return str(ValueTier(tier).label) if tier in ValueTier.values else ""


def customer_card(viewer: User, call: Call) -> dict:
    """What the agent sees of the caller: the 360° summary when the caller is known and
    visible to them, else a "create contact" card with the number filled in."""
    from guanxi.interactions.selectors import contact_summary, contact_timeline_queryset

    contact = None
    if call.contact_id:
        try:
            contact = core_selectors.access_contact_by_id(viewer, call.contact_id)
        except (NotFound, PermissionDenied):
            contact = None
    if contact is None:
        others = call.caller_matches if not call.contact_id else 0
        return {
            "known": False,
            "phone": call.ani_e164 or call.ani,
            "matches": others,
            "create_url": _create_contact_url(call),
            "title": _("Unknown caller"),
        }
    account = contact.account
    tier = contact.value_tier or (account.value_tier if account else "")
    summary = contact_summary(contact)
    recent = [{"at": interaction.occurred_at.isoformat(), "channel": str(interaction.get_channel_display()),
               "subject": interaction.subject or interaction.reason, "outcome": interaction.outcome}
              for interaction in contact_timeline_queryset(viewer, contact.pk)[:3]]
    sections = []
    for _receiver, section in customer_glance_requested.send(sender=Contact, contact=contact, actor=viewer):
        if section:
            sections.append(section)
    return {
        "known": True,
        "contact_id": contact.pk,
        "name": contact.full_name,
        "account": account.name if account else "",
        "account_id": account.pk if account else None,
        "phone": call.ani_e164 or call.ani,
        "value_tier": tier,
        "value_tier_label": _tier_label(tier),
        "lifecycle_stage": str(contact.get_lifecycle_stage_display()),
        "url": _contact_url(contact.pk),
        "interactions": sum(row["count"] for row in summary["by_channel"]),
        "last_contact_at": summary["last_at"].isoformat() if summary["last_at"] else None,
        "recent": recent,
        "sections": sections,
    }


def _contact_url(contact_id: int) -> str:
    from django.urls import reverse

    return reverse("core:contact_360", args=[contact_id])


def _create_contact_url(call: Call) -> str:
    from django.urls import reverse

    return reverse("contactcenter:call_new_contact", args=[call.pk])


IVR_LABELS = {
    "account_number": _("Account number"), "pin_verified": _("PIN verified"), "choices": _("Keys pressed"),
    "balance": _("Balance"), "order_status": _("Order status"), "ticket_status": _("Ticket status"),
}


def ivr_display(ivr_data: dict) -> list[dict]:
    """The IVR's captured data as label/value rows (internal flags left out)."""
    rows = []
    for key, value in (ivr_data or {}).items():
        if key.endswith("_found"):
            continue
        if isinstance(value, bool):
            value = _("yes") if value else _("no")
        elif isinstance(value, list):
            value = " ".join(str(item) for item in value)
        rows.append({"key": key, "label": str(IVR_LABELS.get(key, key.replace("_", " ").capitalize())),
                     "value": str(value)})
    return rows


def screen_pop(viewer: User, call: Call) -> dict:
    """The payload pushed to an agent's desktop when a call reaches them."""
    from guanxi.contactcenter.routing import routing_service

    waited = None
    if call.queued_at:
        end = call.answered_at or routing_service().now()
        waited = max(0.0, (end - call.queued_at).total_seconds())
    return {
        "call_id": call.pk,
        "state": call.state,
        "state_label": str(call.get_state_display()),
        "media": call.media,
        "ani": call.ani_e164 or call.ani,
        "dnis": call.dnis,
        "queue": call.queue.name if call.queue_id else "",
        "priority": call.priority,
        "waited_seconds": waited,
        "ivr": ivr_display(call.ivr_data),
        "customer": customer_card(viewer, call),
        "scripts": [{"id": script.pk, "name": script.name,
                     "body": script.body.replace("{name}", call.contact.full_name if call.contact_id else "")}
                    for script in scripts_for_call(call)],
    }


def scripts_for_call(call: Call) -> list[Script]:
    scripts = list(Script.objects.filter(is_active=True).select_related("queue").order_by("name"))
    return sorted(scripts, key=lambda script: (script.queue_id != call.queue_id, script.name))


def agent_current_calls(user: User) -> list[Call]:
    """Calls ringing at, or in the hands of, this agent."""
    ringing = [call for call in Call.objects.filter(state=CallState.RINGING).select_related(
        "queue", "contact", "account").order_by("arrived_at") if user.pk in (call.offered_to or [])]
    held = list(Call.objects.filter(agent=user, state__in=[CallState.CONNECTED, CallState.HELD])
                .select_related("queue", "contact", "account").order_by("answered_at"))
    return ringing + held


def agent_calls_to_finish(user: User) -> list[Call]:
    """Ended calls of the agent still waiting for a disposition (today)."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return list(Call.objects.filter(agent=user, state=CallState.ENDED, disposition__isnull=True,
                                    answered_at__isnull=False, ended_at__gte=start)
                .select_related("queue", "contact").order_by("-ended_at")[:10])


def desktop(actor: User) -> dict:
    """Everything the agent desktop shows: own state, calls, dispositions, scripts."""
    profile = own_agent_profile(actor)
    if profile is None:
        raise NotFound("no contact-center agent profile for this user")
    access_agent_state(actor, profile.pk)
    calls = agent_current_calls(actor)
    return {
        "agent": profile,
        "calls": [screen_pop(actor, call) for call in calls],
        "to_finish": agent_calls_to_finish(actor),
        "dispositions": list(disposition_list(actor, active_only=True)),
    }


# ======================================================================================
# Wallboard and reports
# ======================================================================================
def start_of_today() -> datetime.datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Figures:
    """Service figures of a set of calls (a queue, an interval, an agent).

    ``service_level`` is Asterisk's SL (answered within the target / answered);
    ``service_level_2`` is Asterisk's SL2 ((answered + abandoned within the target) /
    (answered + abandoned)); ``service_level_offered`` counts every offered call but
    short abandons: answered within the target / (answered + abandoned + timed out −
    short abandons). Abandonment excludes short abandons from both sides.
    """

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    total_wait_answered: float = 0.0
    total_handle: float = 0.0
    handled: int = 0

    def add(self, call_row: dict, target: float, short: float) -> None:
        wait = call_row["wait_seconds"]
        reason = call_row["end_reason"]
        self.offered += 1
        if call_row["answered_at"] is not None:
            self.answered += 1
            self.total_wait_answered += wait or 0.0
            if (wait or 0.0) <= target:
                self.answered_within += 1
            if call_row["state"] == CallState.ENDED:
                self.handled += 1
                self.total_handle += call_row["talk_seconds"] + call_row["hold_seconds"] + call_row["wrapup_seconds"]
        elif reason == CallEndReason.ABANDONED:
            self.abandoned += 1
            if (wait or 0.0) <= target:
                self.abandoned_within += 1
            if (wait or 0.0) < short:
                self.short_abandoned += 1
        elif reason in (CallEndReason.TIMED_OUT, CallEndReason.LEFT_EMPTY):
            self.timed_out += 1

    def as_dict(self) -> dict:
        answered, abandoned = self.answered, self.abandoned
        counted_abandons = abandoned - self.short_abandoned
        offered_for_sl = answered + abandoned + self.timed_out - self.short_abandoned
        return {
            "offered": self.offered,
            "answered": answered,
            "abandoned": abandoned,
            "short_abandoned": self.short_abandoned,
            "timed_out": self.timed_out,
            "service_level": self.answered_within / answered if answered else None,
            "service_level_2": (self.answered_within + self.abandoned_within) / (answered + abandoned)
            if answered + abandoned else None,
            "service_level_offered": self.answered_within / offered_for_sl if offered_for_sl > 0 else None,
            "average_speed_of_answer": self.total_wait_answered / answered if answered else None,
            "abandon_rate": counted_abandons / (answered + counted_abandons) if answered + counted_abandons > 0
            else None,
            "average_handle_time": self.total_handle / self.handled if self.handled else None,
        }


_FIGURE_FIELDS = ("queue_id", "agent_id", "arrived_at", "queued_at", "answered_at", "state", "end_reason",
                  "wait_seconds", "talk_seconds", "hold_seconds", "wrapup_seconds")


def _queued_calls(since: datetime.datetime, until: datetime.datetime | None = None) -> QuerySet[Call]:
    """Calls that reached a queue in the period (IVR-only calls are not queue traffic)."""
    queryset = Call.objects.filter(queued_at__isnull=False, arrived_at__gte=since)
    if until is not None:
        queryset = queryset.filter(arrived_at__lt=until)
    return queryset


def occupancy(since: datetime.datetime, until: datetime.datetime, agent_ids=None) -> float | None:
    """Share of staffed time (logged in, not away) spent on calls: busy or in wrap-up."""
    queryset = AgentStateChange.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since),
                                               started_at__lt=until)
    if agent_ids is not None:
        queryset = queryset.filter(agent__user_id__in=agent_ids)
    staffed = working = 0.0
    for state, started_at, ended_at in queryset.values_list("state", "started_at", "ended_at"):
        start = max(started_at, since)
        end = min(ended_at or until, until)
        seconds = max(0.0, (end - start).total_seconds())
        if state in (AgentStateKind.AVAILABLE, AgentStateKind.RINGING, AgentStateKind.BUSY, AgentStateKind.WRAP_UP):
            staffed += seconds
            if state in (AgentStateKind.BUSY, AgentStateKind.WRAP_UP):
                working += seconds
    return working / staffed if staffed > 0 else None


def wallboard_snapshot(*, now: datetime.datetime | None = None, since: datetime.datetime | None = None) -> dict:
    """Live figures: per queue and overall since ``since`` (start of today), queue lengths,
    longest wait and agent states. No access check: callers check ``wallboard`` view
    (``wallboard``), or push to a group whose members were checked (the consumer)."""
    now = now or timezone.now()
    since = since or start_of_today()
    queues = list(Queue.objects.filter(is_active=True).order_by("name"))
    per_queue: dict[int, Figures] = {queue.pk: Figures() for queue in queues}
    overall = Figures()
    settings_by_queue = {queue.pk: (queue.service_level_seconds, queue.short_abandon_seconds) for queue in queues}
    for row in _queued_calls(since).values(*_FIGURE_FIELDS):
        target, short = settings_by_queue.get(row["queue_id"], (20, 5))
        if row["queue_id"] in per_queue:
            per_queue[row["queue_id"]].add(row, target, short)
        overall.add(row, target, short)
    waiting = defaultdict(list)
    for queue_id, queued_at in Call.objects.filter(state__in=[CallState.QUEUED, CallState.RINGING]).values_list(
            "queue_id", "queued_at"):
        waiting[queue_id].append(max(0.0, (now - (queued_at or now)).total_seconds()))
    in_ivr = Call.objects.filter(state=CallState.IVR).count()
    agents = list(AgentProfile.objects.filter(is_active=True).select_related("user").order_by("user__username"))
    states = Counter(agent.state for agent in agents)
    rows = []
    for queue in queues:
        figures = per_queue[queue.pk].as_dict()
        waits = waiting.get(queue.pk, [])
        figures.update(queue_id=queue.pk, code=queue.code, name=queue.name, waiting=len(waits),
                       longest_wait=max(waits, default=0.0), target_seconds=queue.service_level_seconds,
                       goal=queue.service_level_goal)
        rows.append(figures)
    total = overall.as_dict()
    all_waits = [wait for waits in waiting.values() for wait in waits]
    total.update(waiting=len(all_waits), longest_wait=max(all_waits, default=0.0), in_ivr=in_ivr,
                 occupancy=occupancy(since, now))
    return {
        "at": now.isoformat(),
        "since": since.isoformat(),
        "queues": rows,
        "total": total,
        "agent_states": {state: states.get(state, 0) for state in AgentStateKind.values},
        "agents": [{"id": agent.pk, "user_id": agent.user_id, "name": str(agent.user), "state": agent.state,
                    "state_label": str(agent.get_state_display()),
                    "away_reason": str(agent.get_away_reason_display()) if agent.away_reason else "",
                    "since": agent.state_since.isoformat()} for agent in agents],
    }


def wallboard(actor: User) -> dict:
    _require(actor, "wallboard", "view")
    return wallboard_snapshot()


REPORT_GROUPS = ("interval", "queue", "agent")


def call_report(actor: User, *, group_by: str, since: datetime.datetime, until: datetime.datetime,
                interval_minutes: int = 60, queue_id: int | None = None) -> list[dict]:
    """Historical figures by interval, queue or agent for calls that arrived in [since, until)."""
    from django.core.exceptions import ValidationError

    _require(actor, "wallboard", "view")
    errors = {}
    if group_by not in REPORT_GROUPS:
        errors["group_by"] = [_("Group by interval, queue or agent.")]
    if until <= since:
        errors["until"] = [_("The end must be after the start.")]
    elif until - since > datetime.timedelta(days=93):
        errors["until"] = [_("A report covers at most 93 days.")]
    if interval_minutes not in (15, 30, 60, 1440):
        errors["interval_minutes"] = [_("Intervals are 15, 30 or 60 minutes, or a day (1440).")]
    if errors:
        raise ValidationError(errors)
    calls = _queued_calls(since, until)
    if queue_id:
        calls = calls.filter(queue_id=queue_id)
    queues = {queue.pk: queue for queue in Queue.objects.all()}
    groups: dict[object, Figures] = defaultdict(Figures)
    for row in calls.values(*_FIGURE_FIELDS):
        queue = queues.get(row["queue_id"])
        target, short = (queue.service_level_seconds, queue.short_abandon_seconds) if queue else (20, 5)
        if group_by == "interval":
            local = timezone.localtime(row["arrived_at"])
            minutes = (local.hour * 60 + local.minute) // interval_minutes * interval_minutes
            key = local.replace(hour=minutes // 60 % 24, minute=minutes % 60, second=0, microsecond=0) \
                if interval_minutes < 1440 else local.replace(hour=0, minute=0, second=0, microsecond=0)
        elif group_by == "queue":
            key = row["queue_id"]
        else:
            if row["agent_id"] is None:
                continue
            key = row["agent_id"]
        groups[key].add(row, target, short)
    users = {user.pk: str(user) for user in User.objects.filter(pk__in=[key for key in groups if group_by == "agent"])}
    rows = []
    for key in sorted(groups, key=lambda value: (value is None, value if group_by != "queue" else
                                                 (queues[value].name if value in queues else ""))):
        figures = groups[key].as_dict()
        if group_by == "interval":
            figures["interval_start"] = key.isoformat()
            figures["label"] = key.strftime("%Y-%m-%d %H:%M") if interval_minutes < 1440 else key.strftime("%Y-%m-%d")
        elif group_by == "queue":
            figures["queue_id"] = key
            figures["label"] = queues[key].name if key in queues else _("(no queue)")
        else:
            figures["agent_id"] = key
            figures["label"] = users.get(key, str(key))
            figures["occupancy"] = occupancy(since, until, agent_ids=[key])
        rows.append(figures)
    return rows
