"""Every write of the contact center: configuration, agent states, calls and what the
routing engine decides.

Routing goes through the process's ``RoutingService`` (``routing.py``): a service asks it
to run one engine step and passes ``_store_decisions`` to write the engine's offers and
events, under the engine's lock and inside the caller's transaction. A finished call
becomes an interaction on the customer's timeline (``interaction_record`` with
``source_type="call"``, so repeating it is harmless).

Telephony adapters report calls through ``cti_event_apply`` (see ``cti.py``); the agent
desktop acts through ``call_answer``, ``call_hold``, ``call_transfer``, ``call_hangup`` …
(simulated media); the IVR runs through ``call_ivr_start`` / ``call_ivr_input``.
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, field

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from guanxi.contactcenter import live, selectors
from guanxi.contactcenter.acd import (
    EnqueueResult, Event, EventKind, InvalidTransition, Offer, RoutingError, UnknownAgent, UnknownItem, UnknownOffer,
)
from guanxi.contactcenter.ivr import Enqueue, Gather, Hangup, IvrSession, MenuInvalid, Say, Transfer, parse_menu
from guanxi.contactcenter.models import (
    LIVE_CALL_STATES, AgentProfile, AgentSkill, AgentStateChange, AgentStateKind, AwayReason, Call, CallEndReason,
    CallEvent, CallEventKind, CallState, CtiEventLog, CtiOutcome, Disposition, IvrCredential, IvrMenu, IvrSession as
    StoredIvrSession, MemberConditionChoice, Queue, QueueMembership, Script, Skill, WorkMedia,
)
from guanxi.contactcenter.routing import BUSY_PAUSE, engine_state, queue_config, routing_service, work_item
from guanxi.core import selectors as core_selectors
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.models import AuditAction, Contact, User, ValueTier
from guanxi.core.normalize import PhoneError, normalize_phone

logger = logging.getLogger(__name__)

# Gold customers first (SPEC §5): the priority a caller gets from the value tier when the
# IVR gives none higher.
TIER_PRIORITY = {ValueTier.PLATINUM: 20, ValueTier.GOLD: 10, ValueTier.SILVER: 5}


def _now() -> datetime.datetime:
    return routing_service().now()


def _require(actor: User | None, object_name: str, action: str) -> None:
    if actor is None:
        return
    from guanxi.core.access import can

    if not can(actor, object_name, action):
        raise PermissionDenied(_("You may not do this."))


def _full_clean(instance, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def _set_fields(instance, data: dict, fields: tuple[str, ...]) -> dict:
    before = {name: getattr(instance, name) for name in fields}
    for name in fields:
        if name in data:
            setattr(instance, name, data[name])
    return before


def _after_configuration_change() -> None:
    """Queues, agents or skills changed: the engine is rebuilt from the database, at once
    (later steps of this transaction see the change) and again after the commit (for
    other threads, which could have rebuilt from the old configuration meanwhile)."""
    routing_service().invalidate("configuration changed")
    transaction.on_commit(lambda: routing_service().invalidate("configuration committed"))
    live.wallboard_changed()


# ======================================================================================
# Skills
# ======================================================================================
@transaction.atomic
def skill_create(*, actor: User | None, data: dict) -> Skill:
    _require(actor, "queue", "create")
    skill = Skill(code=data.get("code", ""), name=data.get("name", ""))
    _full_clean(skill)
    skill.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=skill, changes={"code": [None, skill.code]})
    return skill


@transaction.atomic
def skill_delete(*, actor: User | None, skill_id: int) -> None:
    _require(actor, "queue", "delete")
    skill = selectors.access_skill_by_id(actor, skill_id, "delete") if actor else Skill.objects.get(pk=skill_id)
    users = [queue.code for queue in Queue.objects.all() if skill.code in (queue.required_skills or {})]
    if users:
        raise Conflict(_("Skill “%(skill)s” is required by queues %(queues)s.") % {
            "skill": skill.code, "queues": ", ".join(users)})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=skill, changes={"code": [skill.code, None]})
    skill.delete()
    _after_configuration_change()


# ======================================================================================
# Queues
# ======================================================================================
QUEUE_FIELDS = (
    "code", "name", "media", "strategy", "numbers", "required_skills", "penalty_from_skill_level", "weight",
    "ring_timeout_seconds", "wrapup_seconds", "max_wait_seconds", "max_waiting", "overflow_after_seconds",
    "penalty_rules", "initial_max_penalty", "priority_aging_per_second", "most_skilled_from_priority",
    "join_empty", "leave_when_empty", "service_level_seconds", "service_level_goal", "short_abandon_seconds",
    "callback_offer_estimate_over", "callback_offer_after", "is_active",
)
_DIALLED_NUMBER = re.compile(r"^\+?[0-9]{2,20}$")


def _clean_numbers(numbers, errors: dict, key: str = "numbers") -> list[str]:
    if numbers in (None, ""):
        return []
    if not isinstance(numbers, list) or not all(isinstance(number, str) for number in numbers):
        errors[key] = [_("A list of dialled numbers, e.g. [\"+861095555\", \"95555\"].")]
        return []
    cleaned = [number.replace(" ", "").replace("-", "") for number in numbers]
    bad = [number for number in cleaned if not _DIALLED_NUMBER.match(number)]
    if bad:
        errors[key] = [_("Not a dialled number: %(numbers)s.") % {"numbers": ", ".join(bad)}]
    return cleaned


def _validate_queue(queue: Queue, errors: dict) -> None:
    known_skills = set(Skill.objects.values_list("code", flat=True))
    skills = queue.required_skills
    if not isinstance(skills, dict):
        errors["required_skills"] = [_("A mapping of skill code to minimum level.")]
    else:
        unknown = sorted(set(skills) - known_skills)
        if unknown:
            errors["required_skills"] = [_("Unknown skills: %(skills)s.") % {"skills": ", ".join(unknown)}]
        elif any(not isinstance(level, int) or not 1 <= level <= 10 for level in skills.values()):
            errors["required_skills"] = [_("Skill levels run from 1 to 10.")]
    rules = queue.penalty_rules
    if not isinstance(rules, list) or not all(
            isinstance(rule, dict) and isinstance(rule.get("after_seconds"), (int, float))
            and rule["after_seconds"] >= 0
            and all(isinstance(rule.get(bound), int) and rule[bound] >= 0 for bound in ("max_penalty", "min_penalty")
                    if rule.get(bound) is not None)
            and set(rule) <= {"after_seconds", "max_penalty", "min_penalty"}
            for rule in rules):
        errors["penalty_rules"] = [_("A list of {after_seconds, max_penalty, min_penalty}, seconds at least 0, "
                                     "penalties whole numbers at least 0.")]
    for key in ("join_empty", "leave_when_empty"):
        value = getattr(queue, key)
        if not isinstance(value, list) or not set(value) <= set(MemberConditionChoice.values):
            errors[key] = [_("Choose among: %(choices)s.") % {"choices": ", ".join(MemberConditionChoice.values)}]
    queue.numbers = _clean_numbers(queue.numbers, errors)
    if queue.overflow_queue_id and queue.pk and queue.overflow_queue_id == queue.pk:
        errors["overflow_queue_id"] = [_("A queue cannot overflow into itself.")]
    if bool(queue.overflow_queue_id) != bool(queue.overflow_after_seconds):
        errors["overflow_after_seconds"] = [_("Give both the overflow queue and the wait before overflowing.")]
    if not 1 <= queue.service_level_goal <= 99:
        errors["service_level_goal"] = [_("A percentage between 1 and 99.")]
    taken = {number for other in Queue.objects.exclude(pk=queue.pk) for number in (other.numbers or [])}
    clash = sorted(set(queue.numbers) & taken)
    if clash:
        errors["numbers"] = [_("Already used by another queue: %(numbers)s.") % {"numbers": ", ".join(clash)}]
    if not errors:
        try:
            queue_config(queue)
        except ValueError as error:
            errors["__all__"] = [str(error)]


def _queue_save(*, actor, queue: Queue, data: dict, creating: bool) -> Queue:
    before = _set_fields(queue, data, QUEUE_FIELDS)
    errors: dict[str, list[str]] = {}
    if "overflow_queue_id" in data:
        target_id = data["overflow_queue_id"]
        if target_id and not Queue.objects.filter(pk=target_id).exists():
            errors["overflow_queue_id"] = [_("Unknown queue.")]
        else:
            queue.overflow_queue_id = target_id or None
    for key, default in (("numbers", []), ("required_skills", {}), ("penalty_rules", []), ("join_empty", []),
                         ("leave_when_empty", [])):
        if getattr(queue, key) is None:
            setattr(queue, key, default)
    try:
        queue.full_clean(exclude=["overflow_queue"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if not errors:
        _validate_queue(queue, errors)
    if errors:
        raise ValidationError(errors)
    queue.updated_at = _now()
    queue.save()
    if not creating and queue.overflow_queue_id:
        # A cycle of overflows would send callers round for ever.
        seen, current = {queue.pk}, queue.overflow_queue
        while current is not None and current.overflow_queue_id:
            if current.overflow_queue_id in seen:
                raise ValidationError({"overflow_queue_id": [_("These overflows form a cycle.")]})
            seen.add(current.overflow_queue_id)
            current = current.overflow_queue
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=queue,
                 changes=diff({} if creating else before, {name: getattr(queue, name) for name in QUEUE_FIELDS}))
    _after_configuration_change()
    return queue


@transaction.atomic
def queue_create(*, actor: User | None, data: dict) -> Queue:
    _require(actor, "queue", "create")
    return _queue_save(actor=actor, queue=Queue(), data=data, creating=True)


@transaction.atomic
def queue_update(*, actor: User | None, queue_id: int, data: dict) -> Queue:
    queue = selectors.access_queue_by_id(actor, queue_id, "change") if actor else Queue.objects.get(pk=queue_id)
    queue = Queue.objects.select_for_update().get(pk=queue.pk)
    if data.get("code") not in (None, queue.code) and queue.calls.exists():
        raise ValidationError({"code": [_("The code of a queue that has taken calls cannot change.")]})
    return _queue_save(actor=actor, queue=queue, data=data, creating=False)


@transaction.atomic
def queue_delete(*, actor: User | None, queue_id: int) -> None:
    queue = selectors.access_queue_by_id(actor, queue_id, "delete") if actor else Queue.objects.get(pk=queue_id)
    if queue.calls.exists():
        raise Conflict(_("This queue has taken calls; deactivate it instead, so its history stays."))
    if queue.overflow_sources.exists():
        raise Conflict(_("Other queues overflow into this one."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=queue, changes={"code": [queue.code, None]})
    queue.delete()
    _after_configuration_change()


# ======================================================================================
# Agent profiles (skills and memberships)
# ======================================================================================
AGENT_FIELDS = ("extension", "capacity", "max_missed_offers", "missed_offer_delay_seconds",
                "declined_offer_delay_seconds", "is_active")


def _save_agent_links(agent: AgentProfile, data: dict, errors: dict) -> None:
    if "skills" in data:
        skills = data["skills"] or {}
        known = {skill.code: skill for skill in Skill.objects.all()}
        if not isinstance(skills, dict):
            errors["skills"] = [_("A mapping of skill code to level.")]
        else:
            unknown = sorted(set(skills) - set(known))
            if unknown:
                errors["skills"] = [_("Unknown skills: %(skills)s.") % {"skills": ", ".join(unknown)}]
            elif any(not isinstance(level, int) or not 1 <= level <= 10 for level in skills.values()):
                errors["skills"] = [_("Skill levels run from 1 to 10.")]
            elif not errors:
                AgentSkill.objects.filter(agent=agent).delete()
                AgentSkill.objects.bulk_create([AgentSkill(agent=agent, skill=known[code], level=level)
                                                for code, level in sorted(skills.items())])
    if "memberships" in data:
        memberships = data["memberships"] or []
        queues = {queue.pk: queue for queue in Queue.objects.all()}
        rows, seen = [], set()
        for index, membership in enumerate(memberships):
            queue_id = membership.get("queue_id")
            penalty = membership.get("penalty", 0)
            position = membership.get("position")
            if queue_id not in queues:
                errors.setdefault("memberships", []).append(_("Row %(row)d: unknown queue.") % {"row": index + 1})
            elif queue_id in seen:
                errors.setdefault("memberships", []).append(_("Row %(row)d: the queue is listed twice.")
                                                            % {"row": index + 1})
            elif not isinstance(penalty, int) or penalty < 0 or (position is not None and (
                    not isinstance(position, int) or position < 0)):
                errors.setdefault("memberships", []).append(
                    _("Row %(row)d: penalty and position are whole numbers, at least 0.") % {"row": index + 1})
            else:
                seen.add(queue_id)
                rows.append(QueueMembership(agent=agent, queue=queues[queue_id], penalty=penalty, position=position))
        if not errors:
            QueueMembership.objects.filter(agent=agent).delete()
            QueueMembership.objects.bulk_create(rows)


@transaction.atomic
def agent_profile_create(*, actor: User | None, data: dict) -> AgentProfile:
    _require(actor, "agent_profile", "create")
    errors: dict[str, list[str]] = {}
    user = User.objects.filter(pk=data.get("user_id"), is_active=True).first()
    if user is None:
        errors["user_id"] = [_("Unknown or inactive user.")]
    elif AgentProfile.objects.filter(user=user).exists():
        errors["user_id"] = [_("This user is already a contact-center agent.")]
    if errors:
        raise ValidationError(errors)
    agent = AgentProfile(user=user, state_since=_now())
    _set_fields(agent, data, AGENT_FIELDS)
    try:
        agent.full_clean(exclude=["user"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    agent.save()
    _save_agent_links(agent, data, errors)
    if errors:
        raise ValidationError(errors)
    AgentStateChange.objects.create(agent=agent, state=agent.state, started_at=agent.state_since, changed_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=agent, changes={"user_id": [None, user.pk]})
    _after_configuration_change()
    return agent


@transaction.atomic
def agent_profile_update(*, actor: User | None, agent_id: int, data: dict) -> AgentProfile:
    agent = selectors.access_agent_by_id(actor, agent_id, "change") if actor else AgentProfile.objects.get(pk=agent_id)
    agent = AgentProfile.objects.select_for_update().get(pk=agent.pk)
    before = _set_fields(agent, data, AGENT_FIELDS)
    errors: dict[str, list[str]] = {}
    if "user_id" in data and data["user_id"] != agent.user_id:
        errors["user_id"] = [_("The user of an agent cannot change.")]
    try:
        agent.full_clean(exclude=["user"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if not errors:
        _save_agent_links(agent, data, errors)
    if errors:
        raise ValidationError(errors)
    agent.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=agent,
                 changes=diff(before, {name: getattr(agent, name) for name in AGENT_FIELDS}))
    _after_configuration_change()
    return agent


@transaction.atomic
def agent_profile_delete(*, actor: User | None, agent_id: int) -> None:
    agent = selectors.access_agent_by_id(actor, agent_id, "delete") if actor else AgentProfile.objects.get(pk=agent_id)
    if agent.state != AgentStateKind.LOGGED_OUT:
        raise Conflict(_("The agent is logged in; log them out first."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=agent, changes={"user_id": [agent.user_id, None]})
    agent.delete()
    _after_configuration_change()


# ======================================================================================
# Dispositions, scripts
# ======================================================================================
DISPOSITION_FIELDS = ("code", "label", "outcome", "requires_notes", "position", "is_active")
SCRIPT_FIELDS = ("name", "body", "is_active")


def _simple_save(*, actor, instance, data: dict, fields: tuple[str, ...], creating: bool, extra_clean=None):
    before = _set_fields(instance, data, fields)
    errors: dict[str, list[str]] = {}
    if extra_clean is not None:
        extra_clean(instance, data, errors)
    try:
        instance.full_clean()
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if hasattr(instance, "updated_at"):
        instance.updated_at = _now()
    instance.save()
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=instance,
                 changes=diff({} if creating else before, {name: getattr(instance, name) for name in fields}))
    return instance


@transaction.atomic
def disposition_create(*, actor: User | None, data: dict) -> Disposition:
    _require(actor, "disposition", "create")
    return _simple_save(actor=actor, instance=Disposition(), data=data, fields=DISPOSITION_FIELDS, creating=True)


@transaction.atomic
def disposition_update(*, actor: User | None, disposition_id: int, data: dict) -> Disposition:
    disposition = selectors.access_disposition_by_id(actor, disposition_id, "change") if actor \
        else Disposition.objects.get(pk=disposition_id)
    return _simple_save(actor=actor, instance=disposition, data=data, fields=DISPOSITION_FIELDS, creating=False)


@transaction.atomic
def disposition_delete(*, actor: User | None, disposition_id: int) -> None:
    disposition = selectors.access_disposition_by_id(actor, disposition_id, "delete") if actor \
        else Disposition.objects.get(pk=disposition_id)
    if disposition.calls.exists():
        raise Conflict(_("Calls carry this disposition; deactivate it instead."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=disposition,
                 changes={"code": [disposition.code, None]})
    disposition.delete()


def _script_queue(instance: Script, data: dict, errors: dict) -> None:
    if "queue_id" in data:
        if data["queue_id"] and not Queue.objects.filter(pk=data["queue_id"]).exists():
            errors["queue_id"] = [_("Unknown queue.")]
        else:
            instance.queue_id = data["queue_id"] or None


@transaction.atomic
def script_create(*, actor: User | None, data: dict) -> Script:
    _require(actor, "script", "create")
    return _simple_save(actor=actor, instance=Script(), data=data, fields=SCRIPT_FIELDS, creating=True,
                        extra_clean=_script_queue)


@transaction.atomic
def script_update(*, actor: User | None, script_id: int, data: dict) -> Script:
    script = selectors.access_script_by_id(actor, script_id, "change") if actor else Script.objects.get(pk=script_id)
    return _simple_save(actor=actor, instance=script, data=data, fields=SCRIPT_FIELDS, creating=False,
                        extra_clean=_script_queue)


@transaction.atomic
def script_delete(*, actor: User | None, script_id: int) -> None:
    script = selectors.access_script_by_id(actor, script_id, "delete") if actor else Script.objects.get(pk=script_id)
    audit_record(actor=actor, action=AuditAction.DELETE, obj=script, changes={"name": [script.name, None]})
    script.delete()


# ======================================================================================
# IVR menus and credentials
# ======================================================================================
def ivr_menu_problems(source: str) -> list:
    """Everything wrong with a menu's text, including queues and skills that do not exist."""
    from guanxi.contactcenter.ivr import Problem, check_menu
    from guanxi.contactcenter.ivr.definition import line_in

    problems = check_menu(source)
    if problems:
        return problems
    menu = parse_menu(source)
    known_queues = set(Queue.objects.values_list("code", flat=True))
    known_skills = set(Skill.objects.values_list("code", flat=True))
    for node_id, node in menu.nodes.items():
        if node["type"] != "queue":
            continue
        if "queue" not in node and "skills" not in node:
            problems.append(Problem("queue_or_skills", menu.lines.get(node_id), ("nodes", node_id),
                                    {"node": node_id}))
        if node.get("queue") and node["queue"] not in known_queues:
            path = ("nodes", node_id, "queue")
            problems.append(Problem("unknown_queue", line_in(source, path), path,
                                    {"node": node_id, "queue": node["queue"]}))
        for skill in node.get("skills", {}):
            if skill not in known_skills:
                path = ("nodes", node_id, "skills", skill)
                problems.append(Problem("unknown_skill", line_in(source, path), path,
                                        {"node": node_id, "skill": skill}))
    return problems


def _ivr_menu_clean(menu: IvrMenu, data: dict, errors: dict) -> None:
    if "source" in data:
        problems = ivr_menu_problems(menu.source or "")
        if problems:
            errors["source"] = [problem_message(problem) for problem in problems]
    menu.numbers = _clean_numbers(menu.numbers, errors)
    taken = {number for other in IvrMenu.objects.exclude(pk=menu.pk).filter(is_active=True)
             for number in (other.numbers or [])}
    clash = sorted(set(menu.numbers) & taken) if menu.is_active else []
    if clash:
        errors["numbers"] = [_("Already answered by another menu: %(numbers)s.") % {"numbers": ", ".join(clash)}]


PROBLEM_MESSAGES = {
    "syntax": _("The text is not valid YAML or JSON: %(detail)s"),
    "not_mapping": _("A menu is a mapping with “start” and “nodes”."),
    "duplicate_key": _("“%(key)s” appears twice here."),
    "required": _("“%(field)s” is missing."),
    "unknown_field": _("“%(field)s” is not a field of this %(where)s."),
    "type": _("Expected %(expected)s here."),
    "enum": _("Use one of: %(allowed)s."),
    "const": _("Must be %(allowed)s."),
    "pattern": _("“%(value)s” is not allowed here."),
    "range": _("%(value)s is outside %(minimum)s…%(maximum)s."),
    "length": _("Too short or too long."),
    "empty": _("Must not be empty."),
    "text": _("Expected text, or text per language (en, zh-hans)."),
    "invalid": _("Invalid value."),
    "unknown_start": _("The start node “%(node)s” is not defined."),
    "missing_target": _("“%(field)s” of node “%(node)s” goes to “%(target)s”, which is not defined."),
    "unreachable": _("Node “%(node)s” cannot be reached from the start node."),
    "digits_range": _("min_digits (%(minimum)s) is larger than max_digits (%(maximum)s)."),
    "loop_without_input": _("Nodes %(nodes)s form a loop that never waits for the caller."),
    "queue_or_skills": _("Queue node “%(node)s” needs a queue or skills."),
    "unknown_queue": _("Queue node “%(node)s” names queue “%(queue)s”, which does not exist."),
    "unknown_skill": _("Queue node “%(node)s” asks for skill “%(skill)s”, which does not exist."),
}


def problem_message(problem) -> str:
    """``Line N: message`` in the user's language."""
    from guanxi.contactcenter.ivr.definition import _show

    template = PROBLEM_MESSAGES.get(problem.code)
    text = template % {key: _show(value) for key, value in problem.params.items()} if template else problem.message
    return _("Line %(line)s: %(message)s") % {"line": problem.line, "message": text} if problem.line else text


IVR_MENU_FIELDS = ("name", "numbers", "source", "is_active")


@transaction.atomic
def ivr_menu_create(*, actor: User | None, data: dict) -> IvrMenu:
    _require(actor, "ivr_menu", "create")
    return _simple_save(actor=actor, instance=IvrMenu(), data=data, fields=IVR_MENU_FIELDS, creating=True,
                        extra_clean=lambda menu, values, errors: _ivr_menu_clean(menu, {"source": True, **values},
                                                                                 errors))


@transaction.atomic
def ivr_menu_update(*, actor: User | None, menu_id: int, data: dict) -> IvrMenu:
    menu = selectors.access_ivr_menu_by_id(actor, menu_id, "change") if actor else IvrMenu.objects.get(pk=menu_id)
    menu = IvrMenu.objects.select_for_update().get(pk=menu.pk)
    if any(name in data and data[name] != getattr(menu, name) for name in IVR_MENU_FIELDS):
        menu.version += 1
    return _simple_save(actor=actor, instance=menu, data=data, fields=IVR_MENU_FIELDS, creating=False,
                        extra_clean=_ivr_menu_clean)


@transaction.atomic
def ivr_menu_delete(*, actor: User | None, menu_id: int) -> None:
    menu = selectors.access_ivr_menu_by_id(actor, menu_id, "delete") if actor else IvrMenu.objects.get(pk=menu_id)
    if menu.calls.filter(state=CallState.IVR).exists():
        raise Conflict(_("Callers are in this menu right now; deactivate it instead."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=menu, changes={"name": [menu.name, None]})
    menu.delete()


@transaction.atomic
def ivr_credential_set(*, actor: User | None, account_number: str, pin: str, contact_id: int | None = None,
                       account_id: int | None = None) -> IvrCredential:
    """Set the PIN a customer proves ``account_number`` with in the IVR."""
    if actor is not None:
        target = (core_selectors.access_contact_by_id(actor, contact_id, "change") if contact_id
                  else core_selectors.access_account_by_id(actor, account_id, "change") if account_id else None)
    else:
        target = None
    errors = {}
    if not re.fullmatch(r"[0-9]{4,30}", account_number or ""):
        errors["account_number"] = [_("4 to 30 digits.")]
    if not re.fullmatch(r"[0-9]{4,12}", pin or ""):
        errors["pin"] = [_("A PIN is 4 to 12 digits.")]
    if not contact_id and not account_id:
        errors["contact_id"] = [_("Name the contact or the account.")]
    if errors:
        raise ValidationError(errors)
    credential, _created = IvrCredential.objects.update_or_create(
        account_number=account_number,
        defaults={"contact_id": contact_id, "account_id": account_id or (target.account_id if isinstance(
            target, Contact) else None), "pin_hash": make_password(pin), "failed_attempts": 0, "updated_at": _now()})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=credential, changes={"pin": ["…", "…"]})
    return credential


MAX_PIN_FAILURES = 5


def ivr_pin_verify(account_number: str, pin: str) -> bool:
    """Check a PIN; five wrong PINs in a row lock the account number until a new PIN is set."""
    with transaction.atomic():
        credential = IvrCredential.objects.select_for_update().filter(account_number=account_number).first()
        if credential is None or credential.failed_attempts >= MAX_PIN_FAILURES:
            return False
        if check_password(pin, credential.pin_hash):
            if credential.failed_attempts:
                credential.failed_attempts = 0
                credential.save(update_fields=["failed_attempts"])
            return True
        credential.failed_attempts += 1
        credential.save(update_fields=["failed_attempts"])
        return False


# ======================================================================================
# Agent states
# ======================================================================================
def _record_state(agent: AgentProfile, state: str, reason: str, actor: User | None, now: datetime.datetime) -> bool:
    """Store the agent's state and its history row; False when nothing changed."""
    if agent.state == state and agent.away_reason == reason:
        return False
    AgentStateChange.objects.filter(agent=agent, ended_at__isnull=True).update(ended_at=now)
    AgentStateChange.objects.create(agent=agent, state=state, away_reason=reason, started_at=now, changed_by=actor)
    previous = agent.state
    agent.state, agent.away_reason, agent.state_since = state, reason, now
    agent.save(update_fields=["state", "away_reason", "state_since"])
    if previous == AgentStateKind.WRAP_UP and state != AgentStateKind.WRAP_UP:
        _close_wrap_up(agent.user_id, now)
    live.desktop_changed(agent.user_id, "state", state=state)
    live.wallboard_changed()
    return True


def _close_wrap_up(user_id: int, now: datetime.datetime) -> None:
    call = (Call.objects.filter(agent_id=user_id, state=CallState.ENDED, answered_at__isnull=False,
                                wrapup_seconds=0).order_by("-ended_at").first())
    if call is not None and call.ended_at and now > call.ended_at:
        call.wrapup_seconds = (now - call.ended_at).total_seconds()
        call.save(update_fields=["wrapup_seconds"])


def _sync_agents(engine, changed_at: dict[str, datetime.datetime], actor: User | None = None) -> None:
    """Copy the engine's view of these agents' states to the database, each as of the
    moment its last change happened (``changed_at``: agent id → time)."""
    for agent in AgentProfile.objects.filter(user_id__in=[int(user_id) for user_id in changed_at]):
        try:
            status = engine.agent_status(str(agent.user_id))
        except UnknownAgent:
            continue
        state, reason = engine_state(status)
        _record_state(agent, state, reason, actor, changed_at[str(agent.user_id)])


@transaction.atomic
def agent_state_set(*, actor: User | None, agent_id: int, state: str, reason: str = "") -> AgentProfile:
    """Set an agent available, away (with a reason) or logged out.

    Ringing, busy and wrap-up follow from calls. "Away" while on a call means away once the
    call is over; logging out with a call in hand is refused.
    """
    if actor is not None:
        agent = selectors.access_agent_state(actor, agent_id, "change")
    else:
        agent = AgentProfile.objects.get(pk=agent_id)
    routing_service().ensure_built()
    errors = {}
    if state not in (AgentStateKind.AVAILABLE, AgentStateKind.AWAY, AgentStateKind.LOGGED_OUT):
        errors["state"] = [_("Choose available, away or logged out; the other states follow from calls.")]
    if state == AgentStateKind.AWAY and reason not in AwayReason.values:
        errors["reason"] = [_("Say why the agent is away.")]
    if not agent.is_active:
        errors["state"] = [_("This agent is inactive.")]
    if errors:
        raise ValidationError(errors)
    user_id = str(agent.user_id)

    def step(engine):
        status = engine.agent_status(user_id)
        engine_now = status.state
        from guanxi.contactcenter.acd import AgentState

        if state == AgentStateKind.LOGGED_OUT:
            if status.active_item_ids:
                raise Conflict(_("Finish or transfer your calls before logging out."))
            if engine_now != AgentState.LOGGED_OUT:
                engine.agent_logout(user_id)
            return
        if engine_now == AgentState.LOGGED_OUT:
            engine.agent_login(user_id)
            status = engine.agent_status(user_id)
        if state == AgentStateKind.AWAY:
            if status.state == AgentState.PAUSED:
                engine.agent_unpause(user_id)
            engine.agent_pause(user_id, reason)
            return
        # available
        if status.state == AgentState.PAUSED and status.pause_reason != BUSY_PAUSE:
            engine.agent_unpause(user_id)
            status = engine.agent_status(user_id)
        if status.state == AgentState.WRAP_UP:
            engine.wrap_up_finished(user_id)

    routing_service().run(step, lambda engine, offers, events: _store_decisions(
        engine, offers, events, actor=actor, also_agents=[user_id]))
    agent.refresh_from_db()
    return agent


def agent_finish_wrap_up(*, actor: User, agent_id: int) -> AgentProfile:
    return agent_state_set(actor=actor, agent_id=agent_id, state=AgentStateKind.AVAILABLE)


# ======================================================================================
# Calls: arrival, IVR, queueing
# ======================================================================================
def _call_event(call: Call, kind: str, *, agent_id: int | None = None, at: datetime.datetime | None = None,
                **detail) -> CallEvent:
    return CallEvent.objects.create(call=call, kind=kind, agent_id=agent_id, at=at or _now(), detail=detail)


def _identify_caller(call: Call) -> None:
    """Normalize the ANI to E.164 and look the caller up among all contacts."""
    try:
        call.ani_e164 = normalize_phone(call.ani) if call.ani else ""
    except PhoneError:
        call.ani_e164 = ""
    matches = core_selectors.contacts_by_phone(call.ani_e164) if call.ani_e164 else []
    call.caller_matches = len(matches)
    if len(matches) == 1:
        call.contact = matches[0]
        call.account = matches[0].account
    elif matches:
        # Several people share the number (a household line): the agent picks on the card.
        accounts = {contact.account_id for contact in matches}
        if len(accounts) == 1 and None not in accounts:
            call.account = matches[0].account


def _customer_tier(call: Call) -> str:
    if call.contact_id and call.contact.value_tier:
        return call.contact.value_tier
    if call.account_id and call.account.value_tier:
        return call.account.value_tier
    return ""


@transaction.atomic
def call_arrive(*, adapter: str, external_id: str, ani: str = "", dnis: str = "", media: str = WorkMedia.VOICE,
                routed_by_engine: bool = True, at: datetime.datetime | None = None) -> Call:
    """A new call reaches the contact center: identify the caller and store it. The caller
    decides what comes next (``call_route_from_number``, or the telephony system's own queue)."""
    now = at or _now()
    # Until it joins a queue the caller is in the IVR (ours or the telephony system's).
    call = Call(adapter=adapter, external_id=external_id, ani=(ani or "")[:40], dnis=(dnis or "")[:40], media=media,
                routed_by_engine=routed_by_engine, arrived_at=now, state=CallState.IVR)
    _identify_caller(call)
    try:
        with transaction.atomic():
            call.save()
    except IntegrityError:
        raise Conflict(_("This call is already known.")) from None
    _call_event(call, CallEventKind.ARRIVED, at=now, ani=call.ani, dnis=call.dnis,
                identified=bool(call.contact_id), matches=call.caller_matches)
    live.wallboard_changed()
    return call


@dataclass
class IvrStep:
    """What one IVR step produced, for the adapter to play."""

    call: Call
    actions: list = field(default_factory=list)
    finished: bool = False
    enqueue: EnqueueResult | None = None


def call_route_from_number(call: Call) -> IvrStep:
    """Send a new engine-routed call where its DNIS leads: the menu answering it, else a
    queue taking it directly; otherwise it ends with a logged reason (no route)."""
    menu = selectors.ivr_menu_for_number(call.dnis)
    if menu is not None:
        return call_ivr_start(call=call, menu=menu)
    queue = selectors.queue_for_number(call.dnis)
    if queue is not None:
        result = call_enqueue(call=call, queue=queue, priority=0, data={})
        return IvrStep(call=call, finished=True, enqueue=result)
    with transaction.atomic():
        _end_call(call, CallEndReason.NO_ROUTE, _now(), note=f"no IVR menu or queue answers {call.dnis!r}")
    logger.warning("call %s to %r ended: no IVR menu or queue answers that number", call.pk, call.dnis)
    return IvrStep(call=call, finished=True)


class CrmLookups:
    """Self-service lookups of the IVR (``ivr.Lookups``) over the CRM's records.

    ``account`` and ``balance`` read the customer an account number belongs to (the
    balance from the account's ``balance`` custom field, which billing feeds write);
    order and ticket status come from the domain that holds them, registered in
    ``STATUS_LOOKUPS`` (e.g. by the sales and service apps); with none registered the
    menu takes its not-found branch.
    """

    def lookup(self, kind: str, key: str, data) -> dict | None:
        if kind in STATUS_LOOKUPS:
            return STATUS_LOOKUPS[kind](key)
        contact, account = selectors.customer_for_account_number(key)
        if contact is None and account is None:
            return None
        if kind == "account":
            return {"customer_name": contact.full_name if contact else account.name,
                    "account_name": account.name if account else ""}
        if kind == "balance":
            balance = (account.custom_data or {}).get("balance") if account else None
            if balance is None and contact is not None:
                balance = (contact.custom_data or {}).get("balance")
            if balance is None:
                return None
            currency = account.currency if account else "CNY"
            return {"balance": f"{balance} {currency}"}
        return None

    def verify_pin(self, account_number: str, pin: str) -> bool:
        return ivr_pin_verify(account_number, pin)


# kind ("order_status", "ticket_status") → function(key) → {"order_status": "..."} or None.
STATUS_LOOKUPS: dict = {}


def register_status_lookup(kind: str, function) -> None:
    """Let a domain answer an IVR status lookup (``order_status``, ``ticket_status``)."""
    STATUS_LOOKUPS[kind] = function


def _session_for(call: Call, stored: StoredIvrSession) -> IvrSession:
    menu = parse_menu(stored.menu.source)
    return IvrSession(menu, CrmLookups(), state=stored.state)


def _transcript_entries(actions) -> list[dict]:
    entries = []
    for action in actions:
        if isinstance(action, Say):
            entries.append({"say": action.text, "language": action.language})
        elif isinstance(action, Gather):
            entries.extend({"say": prompt.text, "language": prompt.language} for prompt in action.prompt)
            entries.append({"gather": action.node, "max_digits": action.max_digits})
    return entries


@transaction.atomic
def call_ivr_start(*, call: Call, menu: IvrMenu) -> IvrStep:
    try:
        parsed = parse_menu(menu.source)
    except MenuInvalid as invalid:
        # A stored menu is checked on save; one that fails now (e.g. edited in the database)
        # must not drop the caller: route them like a call without a menu.
        logger.error("IVR menu %s cannot run (%s); call %s goes to the default route", menu.pk, invalid, call.pk)
        queue = selectors.queue_for_number(call.dnis)
        if queue is None:
            _end_call(call, CallEndReason.NO_ROUTE, _now(), note=f"IVR menu {menu.pk} is invalid")
            return IvrStep(call=call, finished=True)
        return IvrStep(call=call, finished=True, enqueue=call_enqueue(call=call, queue=queue, priority=0, data={}))
    caller = {"tier": _customer_tier(call), "language": (call.contact.preferred_language if call.contact_id else "")}
    session = IvrSession(parsed, CrmLookups(), caller=caller)
    actions = session.start()
    call.state = CallState.IVR
    call.ivr_menu = menu
    call.save(update_fields=["state", "ivr_menu"])
    stored = StoredIvrSession.objects.create(call=call, menu=menu, menu_version=menu.version, state=session.state,
                                             transcript=_transcript_entries(actions), updated_at=_now())
    _call_event(call, CallEventKind.IVR, menu=menu.name, node=session.node_id)
    return _after_ivr_step(call, stored, session, actions)


@transaction.atomic
def call_ivr_input(*, call_id: int, digits: str | None = None, no_input: bool = False) -> IvrStep:
    """The caller keyed ``digits`` (or let the gather time out) in the IVR."""
    call = Call.objects.select_for_update(of=("self",)).select_related("contact", "account").get(pk=call_id)
    if call.state != CallState.IVR:
        raise Conflict(_("The call is no longer in the IVR."))
    stored = StoredIvrSession.objects.select_related("menu").get(call=call)
    session = _session_for(call, stored)
    if no_input:
        actions = session.no_input()
    else:
        if digits is not None and not re.fullmatch(r"[0-9*#]{1,40}", digits):
            raise ValidationError({"digits": [_("Keys are 0-9, * and #.")]})
        actions = session.digits(digits or "")
    stored.transcript = [*stored.transcript, {"keys": "" if no_input else digits}, *_transcript_entries(actions)]
    _call_event(call, CallEventKind.IVR, node=session.node_id, keys="" if no_input else "•" * len(digits or ""))
    return _after_ivr_step(call, stored, session, actions)


def _after_ivr_step(call: Call, stored: StoredIvrSession, session: IvrSession, actions) -> IvrStep:
    stored.state = session.state
    stored.finished = session.finished
    stored.updated_at = _now()
    stored.save(update_fields=["state", "transcript", "finished", "updated_at"])
    call.ivr_data = {key: value for key, value in session.data.items()}
    call.save(update_fields=["ivr_data"])
    step = IvrStep(call=call, actions=actions, finished=session.finished)
    if not session.finished:
        return step
    result = session.result
    if isinstance(result, Enqueue):
        queue = selectors.queue_for_route(result.queue, dict(result.skills))
        if queue is None:
            _end_call(call, CallEndReason.NO_ROUTE, _now(),
                      note=f"IVR queue {result.queue or dict(result.skills)!r} is not an active queue")
            logger.warning("call %s: IVR named queue %r / skills %r, none active", call.pk, result.queue,
                           dict(result.skills))
            return step
        step.enqueue = call_enqueue(call=call, queue=queue, priority=result.priority, data=dict(result.data),
                                    reason=result.reason)
        announcement = queue_announcement(step.enqueue, session.state.get("language") or "zh-hans")
        if announcement is not None:
            step.actions = [*step.actions[:-1], announcement, step.actions[-1]]
            stored.transcript = [*stored.transcript, {"say": announcement.text, "language": announcement.language}]
            stored.save(update_fields=["transcript"])
    elif isinstance(result, Transfer):
        _end_call(call, CallEndReason.TRANSFERRED_OUT, _now(), note=f"IVR transfer to {result.number}")
    elif isinstance(result, Hangup):
        _end_call(call, CallEndReason.SELF_SERVICE, _now())
    return step


def queue_announcement(result: EnqueueResult | None, language: str) -> Say | None:
    """app_queue's position and hold-time announcement, in the caller's language."""
    from django.utils import translation

    if result is None or not result.accepted or not result.position:
        return None
    minutes = max(1, round((result.estimated_wait or 0) / 60))
    with translation.override(language):
        if result.estimated_wait:
            text = _("You are number %(position)d in line. The estimated wait is %(minutes)d minutes.") % {
                "position": result.position, "minutes": minutes}
        else:
            text = _("You are number %(position)d in line.") % {"position": result.position}
    return Say(text=text, language=language)


def _identify_by_account_number(call: Call) -> None:
    if call.contact_id or not call.ivr_data.get("account_number"):
        return
    contact, account = selectors.customer_for_account_number(str(call.ivr_data["account_number"]))
    if contact is not None or account is not None:
        call.contact, call.account = contact, account or (contact.account if contact else None)
        _call_event(call, CallEventKind.CONTACT_LINKED, by="account_number",
                    contact_id=contact.pk if contact else None)


@transaction.atomic
def call_enqueue(*, call: Call, queue: Queue, priority: int = 0, data: dict | None = None,
                 reason: str = "", at: datetime.datetime | None = None) -> EnqueueResult:
    """The call joins ``queue``: gold customers get their tier's priority; the engine decides
    at once whether an agent is free. ``at``: when the telephony system says it happened."""
    routing_service().ensure_built()
    now = at or _now()
    if data:
        call.ivr_data = {**(call.ivr_data or {}), **data}
    if reason:
        call.ivr_data["reason"] = reason
    _identify_by_account_number(call)
    call.queue = queue
    call.priority = max(priority, TIER_PRIORITY.get(_customer_tier(call), 0))
    call.state = CallState.QUEUED
    call.queued_at = now
    call.agent = None
    call.offered_to = []
    call.engine_item_id = str(call.pk) if not call.transfer_count else f"{call.pk}-t{call.transfer_count}"
    call.save()
    if not call.routed_by_engine:
        _call_event(call, CallEventKind.QUEUED, at=now, queue=queue.code, priority=call.priority)
        live.wallboard_changed()
        return EnqueueResult(accepted=True)
    item = work_item(call)
    queued = _call_event(call, CallEventKind.QUEUED, at=now, queue=queue.code, priority=call.priority)
    result = routing_service().run(lambda engine: engine.enqueue(item), _store_decisions)
    if not result.accepted:
        call.refresh_from_db()
        _end_call(call, CallEndReason.REFUSED, now, note=f"queue {queue.code}: {result.refused_reason}")
        return result
    queued.detail.update(position=result.position, estimated_wait=result.estimated_wait)
    queued.save(update_fields=["detail"])
    if result.callback_offered:
        _call_event(call, CallEventKind.CALLBACK_OFFERED, at=now, estimated_wait=result.estimated_wait)
    live.wallboard_changed()
    return result


# ======================================================================================
# Calls: what the routing engine decided
# ======================================================================================
def _call_of_item(item_id: str | None) -> Call | None:
    if not item_id:
        return None
    try:
        call_id = int(item_id.split("-", 1)[0])
    except ValueError:
        return None
    return Call.objects.select_related("queue").filter(pk=call_id).first()


def _store_decisions(engine, offers: list[Offer], events: list[Event], *, actor: User | None = None,
                     also_agents=()) -> None:
    """Write what the engine decided: offers (ringing, screen pop), missed and withdrawn
    offers, timeouts, overflows, escalations; then the touched agents' states."""
    current = _now()
    touched = {str(agent_id): current for agent_id in also_agents}
    offers_by_id = {offer.offer_id: offer for offer in offers}
    stored_offers: set[int] = set()
    for event in events:
        kind = event.kind
        # Timers fire at their own time, which may be before the clock's "now".
        now = min(current, _moment(event.at))
        if event.agent_id:
            touched[event.agent_id] = max(now, touched.get(event.agent_id, now))
        if kind == EventKind.OFFERED:
            offer = next((candidate for candidate in offers_by_id.values() if candidate.item_id == event.item_id
                          and event.agent_id in candidate.agent_ids and candidate.offer_id not in stored_offers),
                         None)
            if offer is not None:
                stored_offers.add(offer.offer_id)
                _store_offer(offer, now)
            continue
        call = _call_of_item(event.item_id)
        if call is None:
            continue
        agent_id = int(event.agent_id) if event.agent_id else None
        if kind in (EventKind.OFFER_MISSED, EventKind.OFFER_DECLINED, EventKind.OFFER_WITHDRAWN):
            call_kind = {EventKind.OFFER_MISSED: CallEventKind.OFFER_MISSED,
                         EventKind.OFFER_DECLINED: CallEventKind.OFFER_DECLINED,
                         EventKind.OFFER_WITHDRAWN: CallEventKind.OFFER_WITHDRAWN}[kind]
            _call_event(call, call_kind, agent_id=agent_id, at=now, detail=event.detail)
            if call.state == CallState.RINGING and agent_id in (call.offered_to or []):
                call.offered_to = [user_id for user_id in call.offered_to if user_id != agent_id]
                if not call.offered_to:
                    call.state, call.agent, call.engine_offer_id = CallState.QUEUED, None, None
                call.save(update_fields=["offered_to", "state", "agent", "engine_offer_id"])
            if agent_id:
                live.desktop_changed(agent_id, "offer_gone", call_id=call.pk)
        elif kind == EventKind.TIMED_OUT:
            _end_call(call, CallEndReason.TIMED_OUT, now, engine_done=True)
        elif kind == EventKind.LEFT_EMPTY:
            _end_call(call, CallEndReason.LEFT_EMPTY, now, engine_done=True)
        elif kind == EventKind.OVERFLOWED:
            target_code = event.detail.removeprefix("to ").strip()
            target = Queue.objects.filter(code=target_code).first()
            _call_event(call, CallEventKind.OVERFLOWED, at=now, source=call.queue.code if call.queue_id else "",
                        target=target_code)
            if target is not None:
                call.queue = target
                call.save(update_fields=["queue"])
        elif kind == EventKind.ESCALATED:
            _call_event(call, CallEventKind.ESCALATED, at=now, detail=event.detail)
        elif kind == EventKind.CALLBACK_OFFERED:
            _call_event(call, CallEventKind.CALLBACK_OFFERED, at=now, detail=event.detail)
    for offer in offers:
        offered_at = min(current, _moment(offer.offered_at))
        if offer.offer_id not in stored_offers:
            _store_offer(offer, offered_at)
        for agent_id in offer.agent_ids:
            touched[agent_id] = max(offered_at, touched.get(agent_id, offered_at))
    if touched:
        _sync_agents(engine, touched, actor)
    live.wallboard_changed()


def _moment(engine_time: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(engine_time, tz=datetime.timezone.utc)


def _store_offer(offer: Offer, now: datetime.datetime) -> None:
    call = _call_of_item(offer.item_id)
    if call is None:
        logger.error("the routing engine offered item %s, which is no stored call", offer.item_id)
        return
    agent_ids = [int(agent_id) for agent_id in offer.agent_ids]
    call.state = CallState.RINGING
    call.offered_to = agent_ids
    call.engine_offer_id = offer.offer_id
    call.agent_id = agent_ids[0] if len(agent_ids) == 1 else None
    call.save(update_fields=["state", "offered_to", "engine_offer_id", "agent"])
    for user_id in agent_ids:
        _call_event(call, CallEventKind.OFFERED, agent_id=user_id, at=now, waited=round(offer.waited, 3))
        live.offer_to_agent(user_id, call.pk)


def store_decisions_of_build(engine, offers: list[Offer], events: list[Event]) -> None:
    _store_decisions(engine, offers, events)


def routing_tick() -> None:
    """Run the engine's due timers (ring timeouts, wrap-up ends, escalations, overflows)."""
    with transaction.atomic():
        routing_service().tick(_store_decisions)


# ======================================================================================
# Calls: the agent desktop (simulated media)
# ======================================================================================
def _call_for_update(actor: User | None, call_id: int, action: str = "change") -> Call:
    routing_service().ensure_built()
    if actor is not None:
        selectors.access_call_by_id(actor, call_id, action)
    try:
        return (Call.objects.select_for_update(of=("self",)).select_related("queue", "contact", "account", "agent")
                .get(pk=call_id))
    except Call.DoesNotExist:
        raise NotFound(f"call {call_id}") from None


def _engine_step(step, *, actor: User | None = None, also_agents=()) -> object:
    return routing_service().run(step, lambda engine, offers, events: _store_decisions(
        engine, offers, events, actor=actor, also_agents=also_agents))


@transaction.atomic
def call_answer(*, actor: User, call_id: int) -> Call:
    """The agent picks up a call ringing at them."""
    call = _call_for_update(actor, call_id)
    if call.state != CallState.RINGING or actor.pk not in (call.offered_to or []):
        raise Conflict(_("This call is not ringing at you (answered elsewhere, missed or ended)."))
    if not call.routed_by_engine:
        raise Conflict(_("Answer this call on your phone; the telephony system reports it."))
    offer_id = call.engine_offer_id
    agent_key = str(actor.pk)
    try:
        _engine_step(lambda engine: engine.offer_accepted(offer_id, agent_key), actor=actor, also_agents=[agent_key])
    except (UnknownOffer, InvalidTransition) as error:
        raise Conflict(_("The offer is no longer pending: %(reason)s") % {"reason": error}) from None
    now = _now()
    call.refresh_from_db()
    _mark_answered(call, actor.pk, now)
    return call


def _mark_answered(call: Call, user_id: int, now: datetime.datetime) -> None:
    call.state = CallState.CONNECTED
    call.agent_id = user_id
    call.answered_at = now
    call.talking_since = now
    call.wait_seconds = max(0.0, (now - (call.queued_at or call.arrived_at)).total_seconds())
    call.offered_to = []
    call.engine_offer_id = None
    call.save(update_fields=["state", "agent", "answered_at", "talking_since", "wait_seconds", "offered_to",
                             "engine_offer_id"])
    _call_event(call, CallEventKind.ANSWERED, agent_id=user_id, at=now, waited=round(call.wait_seconds, 3))
    live.desktop_changed(user_id, "answered", call_id=call.pk)
    live.wallboard_changed()


@transaction.atomic
def call_decline(*, actor: User, call_id: int) -> Call:
    call = _call_for_update(actor, call_id)
    if call.state != CallState.RINGING or actor.pk not in (call.offered_to or []):
        raise Conflict(_("This call is not ringing at you."))
    offer_id, agent_key = call.engine_offer_id, str(actor.pk)
    try:
        _engine_step(lambda engine: engine.offer_rejected(offer_id, agent_key), actor=actor, also_agents=[agent_key])
    except (UnknownOffer, InvalidTransition) as error:
        raise Conflict(_("The offer is no longer pending: %(reason)s") % {"reason": error}) from None
    call.refresh_from_db()
    return call


def _require_in_hand(actor: User | None, call: Call, states=(CallState.CONNECTED, CallState.HELD)) -> None:
    if call.state not in states:
        raise Conflict(_("The call is %(state)s.") % {"state": call.get_state_display()})
    if actor is not None and call.agent_id != actor.pk:
        from guanxi.core.access import scope_for

        if scope_for(actor, "call", "change") != "all":
            raise PermissionDenied(_("Only the agent on the call may do this."))


@transaction.atomic
def call_hold(*, actor: User | None, call_id: int) -> Call:
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call, (CallState.CONNECTED,))
    now = _now()
    _close_talk(call, now)
    call.state, call.held_since = CallState.HELD, now
    call.save(update_fields=["state", "held_since", "talking_since", "talk_seconds"])
    _call_event(call, CallEventKind.HELD, agent_id=call.agent_id, at=now)
    live.desktop_changed(call.agent_id, "held", call_id=call.pk)
    return call


def _release_hold(call: Call, now: datetime.datetime) -> None:
    if call.held_since is not None:
        call.hold_seconds += max(0.0, (now - call.held_since).total_seconds())
        call.held_since = None


def _close_talk(call: Call, now: datetime.datetime) -> None:
    """Add the current stretch of conversation to the talk time."""
    if call.talking_since is not None:
        call.talk_seconds += max(0.0, (now - call.talking_since).total_seconds())
        call.talking_since = None


def _close_segments(call: Call, now: datetime.datetime) -> None:
    _close_talk(call, now)
    _release_hold(call, now)


@transaction.atomic
def call_unhold(*, actor: User | None, call_id: int) -> Call:
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call, (CallState.HELD,))
    now = _now()
    _release_hold(call, now)
    call.state, call.talking_since = CallState.CONNECTED, now
    call.save(update_fields=["state", "held_since", "hold_seconds", "talking_since"])
    _call_event(call, CallEventKind.UNHELD, agent_id=call.agent_id, at=now)
    live.desktop_changed(call.agent_id, "unheld", call_id=call.pk)
    return call


@transaction.atomic
def call_transfer(*, actor: User | None, call_id: int, queue_id: int | None = None, number: str = "") -> Call:
    """Blind transfer to another queue (the caller waits there) or to an outside number
    (the call leaves the contact center)."""
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call)
    if bool(queue_id) == bool(number):
        raise ValidationError({"queue_id": [_("Transfer to a queue or to a number, not both.")]})
    target = None
    if queue_id:
        target = Queue.objects.filter(pk=queue_id, is_active=True).first()
        if target is None:
            raise ValidationError({"queue_id": [_("Unknown or inactive queue.")]})
    elif not _DIALLED_NUMBER.match(number.replace(" ", "").replace("-", "")):
        raise ValidationError({"number": [_("Not a phone number.")]})
    now = _now()
    previous_agent = call.agent_id
    _call_event(call, CallEventKind.TRANSFERRED, agent_id=previous_agent, at=now,
                queue=target.code if target else "", number=number)
    if target is None:
        _end_call(call, CallEndReason.TRANSFERRED_OUT, now, note=f"transferred to {number}")
        return call
    _close_segments(call, now)
    _engine_release(call)
    call.transfer_count += 1
    call.save(update_fields=["talk_seconds", "hold_seconds", "held_since", "talking_since", "transfer_count"])
    call_enqueue(call=call, queue=target, priority=call.priority)
    if previous_agent:
        live.desktop_changed(previous_agent, "transferred", call_id=call.pk)
    call.refresh_from_db()
    return call


@transaction.atomic
def call_conference(*, actor: User | None, call_id: int, number: str = "", user_id: int | None = None) -> Call:
    """Bring a third party into the call (a colleague or an outside number); simulated media
    only records who joined."""
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call, (CallState.CONNECTED,))
    if bool(number) == bool(user_id):
        raise ValidationError({"number": [_("Add a colleague or a number, not both.")]})
    if user_id and not User.objects.filter(pk=user_id, is_active=True).exists():
        raise ValidationError({"user_id": [_("Unknown user.")]})
    if number and not _DIALLED_NUMBER.match(number.replace(" ", "").replace("-", "")):
        raise ValidationError({"number": [_("Not a phone number.")]})
    _call_event(call, CallEventKind.CONFERENCED, agent_id=call.agent_id, number=number, user_id=user_id)
    return call


def _engine_release(call: Call) -> None:
    """Tell the engine the call no longer needs its agent (completed) or its place (abandoned)."""
    if not call.routed_by_engine or not call.engine_item_id:
        if call.agent_id:
            _unpause_busy_elsewhere(call.agent_id)
        return
    item_id = call.engine_item_id
    agent_key = str(call.agent_id) if call.agent_id else None

    def step(engine):
        try:
            if call.state in (CallState.CONNECTED, CallState.HELD):
                engine.work_completed(item_id)
            else:
                engine.abandon(item_id)
        except UnknownItem:
            # Not in this engine (rebuilt while the call was connected): the agent was
            # paused as busy; free them.
            if agent_key:
                status = engine.agent_status(agent_key)
                if status.pause_reason == BUSY_PAUSE:
                    engine.agent_unpause(agent_key)

    _engine_step(step, also_agents=[agent_key] if agent_key else [])


def _unpause_busy_elsewhere(user_id: int) -> None:
    agent_key = str(user_id)

    def step(engine):
        try:
            status = engine.agent_status(agent_key)
        except UnknownAgent:
            return
        if status.pause_reason == BUSY_PAUSE:
            engine.agent_unpause(agent_key)

    _engine_step(step, also_agents=[agent_key])


def _end_call(call: Call, reason: str, now: datetime.datetime, *, note: str = "", engine_done: bool = False) -> None:
    """End the call: times, reason, the engine told, the interaction recorded."""
    if call.state == CallState.ENDED:
        return
    was = call.state
    _close_segments(call, now)
    if was in (CallState.QUEUED, CallState.RINGING) and call.queued_at:
        call.wait_seconds = max(0.0, (now - call.queued_at).total_seconds())
    if not engine_done and was in (CallState.QUEUED, CallState.RINGING, CallState.CONNECTED, CallState.HELD):
        _engine_release(call)
    ringing_at = list(call.offered_to or [])
    if call.answered_at is None:
        call.agent = None  # it rang, nobody answered: no agent had the call
    call.state = CallState.ENDED
    call.end_reason = reason
    call.ended_at = now
    call.offered_to = []
    call.engine_offer_id = None
    call.save()
    _call_event(call, CallEventKind.ENDED, agent_id=call.agent_id, at=now, reason=reason,
                **({"note": note} if note else {}))
    for user_id in set(ringing_at) | ({call.agent_id} if call.agent_id else set()):
        live.desktop_changed(user_id, "ended", call_id=call.pk)
    _record_interaction(call)
    live.wallboard_changed()


@transaction.atomic
def call_hangup(*, actor: User | None, call_id: int) -> Call:
    """The agent ends the call; the queue's wrap-up time starts."""
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call)
    _end_call(call, CallEndReason.COMPLETED, _now())
    return call


@transaction.atomic
def call_caller_hangup(*, call_id: int, at: datetime.datetime | None = None) -> Call:
    """The caller hung up: abandoned while waiting, completed once answered."""
    call = Call.objects.select_for_update(of=("self",)).select_related("queue", "contact", "account").get(pk=call_id)
    if call.state == CallState.ENDED:
        raise Conflict(_("The call has already ended."))
    if call.state in (CallState.CONNECTED, CallState.HELD):
        reason = CallEndReason.COMPLETED
    elif call.state == CallState.IVR:
        reason = CallEndReason.SELF_SERVICE
    else:
        reason = CallEndReason.ABANDONED
    _end_call(call, reason, at or _now())
    return call


@transaction.atomic
def call_agent_disconnected(*, call_id: int, at: datetime.datetime | None = None, detail: str = "") -> Call:
    """The agent's phone or desktop dropped mid-call: the call is ended with that reason and
    kept; the agent is logged out so no new call rings at a dead device."""
    call = Call.objects.select_for_update(of=("self",)).select_related("queue", "contact", "account").get(pk=call_id)
    if call.state not in (CallState.CONNECTED, CallState.HELD, CallState.RINGING):
        raise Conflict(_("The call has no agent to lose."))
    now = at or _now()
    agent_id = call.agent_id
    _call_event(call, CallEventKind.AGENT_DISCONNECTED, agent_id=agent_id, at=now, detail=detail)
    if call.state == CallState.RINGING:
        # Only ringing: the caller keeps waiting; the offer goes to someone else.
        for user_id in list(call.offered_to or []):
            _agent_logout_forced(user_id)
        call.refresh_from_db()
        return call
    _end_call(call, CallEndReason.AGENT_DISCONNECTED, now, note=detail)
    if agent_id:
        _agent_logout_forced(agent_id)
    return call


def _agent_logout_forced(user_id: int) -> None:
    agent_key = str(user_id)

    def step(engine):
        try:
            status = engine.agent_status(agent_key)
        except UnknownAgent:
            return
        if status.state.value != "logged_out" and not status.active_item_ids:
            engine.agent_logout(agent_key)

    _engine_step(step, also_agents=[agent_key])
    agent = AgentProfile.objects.filter(user_id=user_id).first()
    if agent is not None and agent.state != AgentStateKind.LOGGED_OUT:
        _record_state(agent, AgentStateKind.LOGGED_OUT, "", None, _now())


# ======================================================================================
# Calls: disposition, notes, customer
# ======================================================================================
@transaction.atomic
def call_disposition(*, actor: User, call_id: int, disposition_id: int | None, notes: str | None = None,
                     script_id: int | None = None) -> Call:
    """The agent records how the call ended (during the call or in wrap-up); once ended, the
    customer's timeline entry is updated too."""
    call = _call_for_update(actor, call_id)
    _require_in_hand(actor, call, (CallState.CONNECTED, CallState.HELD, CallState.ENDED))
    if call.state == CallState.ENDED and call.answered_at is None:
        raise Conflict(_("Only answered calls take a disposition."))
    errors = {}
    disposition = None
    if disposition_id is not None:
        disposition = Disposition.objects.filter(pk=disposition_id, is_active=True).first()
        if disposition is None:
            errors["disposition_id"] = [_("Unknown disposition.")]
    text = call.notes if notes is None else notes.strip()
    if disposition is not None and disposition.requires_notes and not text:
        errors["notes"] = [_("This disposition needs notes.")]
    if script_id is not None and not Script.objects.filter(pk=script_id).exists():
        errors["script_id"] = [_("Unknown script.")]
    if len(text) > 10_000:
        errors["notes"] = [_("Notes are limited to 10,000 characters.")]
    if errors:
        raise ValidationError(errors)
    before = {"disposition": call.disposition_id, "notes": call.notes, "script": call.script_id}
    if disposition is not None:
        call.disposition = disposition
    call.notes = text
    if script_id is not None:
        call.script_id = script_id
    call.save(update_fields=["disposition", "notes", "script"])
    _call_event(call, CallEventKind.DISPOSITIONED, agent_id=actor.pk,
                disposition=disposition.code if disposition else "")
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=call,
                 changes=diff(before, {"disposition": call.disposition_id, "notes": call.notes,
                                       "script": call.script_id}))
    if call.state == CallState.ENDED:
        if call.interaction_id:
            from guanxi.interactions.services import interaction_update

            interaction_update(actor=actor, interaction_id=call.interaction_id, data=_interaction_results(call))
        else:
            _record_interaction(call)
    live.desktop_changed(call.agent_id or actor.pk, "dispositioned", call_id=call.pk)
    return call


@transaction.atomic
def call_link_contact(*, actor: User, call_id: int, contact_id: int) -> Call:
    """Attach the caller's record to the call (after picking among several matches, or
    creating the contact from the card); an ended call then lands on the timeline."""
    call = _call_for_update(actor, call_id)
    contact = core_selectors.access_contact_by_id(actor, contact_id)
    call.contact, call.account = contact, contact.account
    call.save(update_fields=["contact", "account"])
    _call_event(call, CallEventKind.CONTACT_LINKED, agent_id=actor.pk, contact_id=contact.pk, by="agent")
    if call.state == CallState.ENDED and not call.interaction_id:
        _record_interaction(call)
    if call.agent_id:
        live.desktop_changed(call.agent_id, "contact_linked", call_id=call.pk)
    return call


@transaction.atomic
def call_create_contact(*, actor: User, call_id: int, data: dict) -> Contact:
    """The "create contact" card: a new contact with the caller's number, linked to the call."""
    from guanxi.core.services import contact_create

    call = _call_for_update(actor, call_id)
    payload = {**data}
    if call.ani_e164 and not payload.get("phone"):
        payload["phone"] = call.ani_e164
    contact = contact_create(actor=actor, data=payload)
    call_link_contact(actor=actor, call_id=call.pk, contact_id=contact.pk)
    return contact


def _interaction_results(call: Call) -> dict:
    outcome = ""
    if call.disposition_id:
        outcome = call.disposition.outcome or call.disposition.label
    else:
        outcome = str(call.get_end_reason_display()) if call.end_reason else ""
    return {"outcome": outcome[:120], "notes": call.notes, "script": call.script.name if call.script_id else "",
            "duration_seconds": int(round(call.talk_seconds + call.hold_seconds))}


def _record_interaction(call: Call) -> None:
    """The finished call on the customer's timeline (idempotent: source call + id)."""
    if call.state != CallState.ENDED or not (call.contact_id or call.account_id):
        return
    from guanxi.interactions.services import interaction_record

    reason = str(call.ivr_data.get("reason") or (call.queue.name if call.queue_id else ""))
    channel = {WorkMedia.VOICE: "phone", WorkMedia.CHAT: "chat", WorkMedia.EMAIL: "email",
               WorkMedia.CALLBACK: "phone"}.get(call.media, "phone")
    data = {
        "contact_id": call.contact_id, "account_id": call.account_id, "channel": channel, "direction": "in",
        "occurred_at": call.arrived_at, "subject": _("Call from %(number)s") % {"number": call.ani_e164 or call.ani},
        "reason": reason[:120], "agent_id": call.agent_id, "source_type": "call", "source_id": str(call.pk),
        **_interaction_results(call),
    }
    interaction = interaction_record(actor=None, check_access=False, data=data)
    if call.interaction_id != interaction.pk:
        call.interaction_id = interaction.pk
        call.save(update_fields=["interaction_id"])


# ======================================================================================
# Telephony events (CTI)
# ======================================================================================
@dataclass(frozen=True)
class CallReport:
    """One call event from a telephony adapter, in the adapter-neutral vocabulary.

    ``kind``: offered, data (values captured by the telephony system's own IVR, in
    ``detail``), queued, ringing, answered, held, unheld, transferred, conferenced, ended,
    abandoned, agent_disconnected. ``call_ref`` is the adapter's call ID,
    ``event_id`` its ID of this event (repeats are duplicates), ``agent_ref`` an agent's
    extension or interface, ``target`` a transfer target (a queue code or a number).
    """

    kind: str
    call_ref: str
    event_id: str = ""
    at: datetime.datetime | None = None
    ani: str = ""
    dnis: str = ""
    queue: str = ""
    agent_ref: str = ""
    target: str = ""
    detail: dict = field(default_factory=dict)


REPORT_KINDS = ("offered", "data", "queued", "ringing", "answered", "held", "unheld", "transferred", "conferenced",
                "ended", "abandoned", "agent_disconnected")
# From which call states each report applies; anything else is out of order.
_APPLIES_FROM = {
    "data": LIVE_CALL_STATES,
    "queued": (CallState.IVR, CallState.QUEUED),
    "ringing": (CallState.IVR, CallState.QUEUED, CallState.RINGING),
    "answered": (CallState.IVR, CallState.QUEUED, CallState.RINGING),
    "held": (CallState.CONNECTED,),
    "unheld": (CallState.HELD,),
    "transferred": (CallState.CONNECTED, CallState.HELD),
    "conferenced": (CallState.CONNECTED, CallState.HELD),
    "ended": LIVE_CALL_STATES,
    "abandoned": (CallState.IVR, CallState.QUEUED, CallState.RINGING),
    "agent_disconnected": (CallState.RINGING, CallState.CONNECTED, CallState.HELD),
}
# Reports that repeat the state the call is already in: duplicates, not errors.
_ALREADY = {
    "answered": (CallState.CONNECTED, CallState.HELD),
    "held": (CallState.HELD,),
    "unheld": (CallState.CONNECTED,),
    "ended": (CallState.ENDED,),
    "abandoned": (CallState.ENDED,),
}
# An unknown call is recreated from these (they say enough about it); others are refused.
_RECOVERABLE = ("queued", "ringing", "answered", "ended", "abandoned")


def _agent_for_ref(agent_ref: str) -> AgentProfile | None:
    """The agent behind an interface (``PJSIP/1001``), an extension (``1001``) or a username."""
    if not agent_ref:
        return None
    from django.db.models import Q

    bare = agent_ref.split("/", 1)[-1]
    agents = AgentProfile.objects.select_related("user")
    return (agents.filter(Q(extension=agent_ref) | Q(extension=bare)).first()
            or agents.filter(extension__endswith="/" + bare).first()
            or agents.filter(user__username=agent_ref).first())


def _log_cti(adapter: str, report: CallReport, outcome: str, reason: str = "", call: Call | None = None) -> CtiEventLog:
    payload = {"kind": report.kind, "call_ref": report.call_ref, "ani": report.ani, "dnis": report.dnis,
               "queue": report.queue, "agent_ref": report.agent_ref, "target": report.target,
               "at": report.at.isoformat() if report.at else None, "detail": report.detail}
    if outcome != CtiOutcome.APPLIED and outcome != CtiOutcome.RECOVERED:
        logger.warning("telephony event %s %s for call %s from %s: %s (%s)", report.kind, report.event_id or "-",
                       report.call_ref, adapter, outcome, reason)
    return CtiEventLog.objects.create(adapter=adapter, event_id=report.event_id[:120], kind=report.kind[:30],
                                      call_ref=report.call_ref[:100], call=call, payload=payload, outcome=outcome,
                                      reason=reason[:300], received_at=_now())


def cti_event_apply(*, adapter: str, report: CallReport, routes_calls: bool = False) -> CtiEventLog:
    return cti_event_apply_with_step(adapter=adapter, report=report, routes_calls=routes_calls)[0]


def cti_event_apply_with_step(*, adapter: str, report: CallReport,
                              routes_calls: bool = False) -> tuple[CtiEventLog, IvrStep | None]:
    """Apply one telephony event to its call; every event ends up in ``CtiEventLog``.

    Duplicates (same event ID, or a state the call is already in) are logged and ignored;
    an event out of order (e.g. "answered" after "ended") is rejected with its reason; an
    event for an unknown call that says enough (queued, ringing, answered, ended) creates
    the call record so no call is lost; other events for unknown calls are rejected.
    ``routes_calls``: the adapter leaves routing to Guanxi (the simulator); otherwise the
    telephony system routes and Guanxi records (Asterisk app_queue).
    """
    if report.kind not in REPORT_KINDS:
        with transaction.atomic():
            return _log_cti(adapter, report, CtiOutcome.REJECTED, f"unknown event kind {report.kind!r}"), None
    if report.event_id and CtiEventLog.objects.filter(adapter=adapter, event_id=report.event_id).exclude(
            outcome=CtiOutcome.DUPLICATE).exists():
        with transaction.atomic():
            return _log_cti(adapter, report, CtiOutcome.DUPLICATE, "event already received"), None
    try:
        with transaction.atomic():
            return _apply_report(adapter, report, routes_calls)
    except (Conflict, ValidationError, RoutingError) as error:
        with transaction.atomic():
            call = Call.objects.filter(adapter=adapter, external_id=report.call_ref).first()
            return _log_cti(adapter, report, CtiOutcome.REJECTED, f"{type(error).__name__}: {error}", call), None
    except IntegrityError:
        # The same event delivered twice at the same moment: the first one won.
        with transaction.atomic():
            return (_log_cti(adapter, report, CtiOutcome.DUPLICATE, "event already received (concurrent delivery)"),
                    None)


def _apply_report(adapter: str, report: CallReport, routes_calls: bool) -> tuple[CtiEventLog, IvrStep | None]:
    routing_service().ensure_built()
    at = report.at or _now()
    call = Call.objects.select_for_update(of=("self",)).select_related("queue", "contact", "account").filter(
        adapter=adapter, external_id=report.call_ref).first()
    outcome = CtiOutcome.APPLIED
    if report.kind == "offered":
        if call is not None:
            return _log_cti(adapter, report, CtiOutcome.DUPLICATE, "call already known", call), None
        call = call_arrive(adapter=adapter, external_id=report.call_ref, ani=report.ani, dnis=report.dnis,
                           routed_by_engine=routes_calls, at=at)
        log = _log_cti(adapter, report, outcome, "", call)
        step = call_route_from_number(call) if routes_calls else None
        return log, step
    if call is None:
        if report.kind not in _RECOVERABLE or not (report.ani or report.queue or report.agent_ref):
            return _log_cti(adapter, report, CtiOutcome.REJECTED, "unknown call"), None
        call = call_arrive(adapter=adapter, external_id=report.call_ref, ani=report.ani, dnis=report.dnis,
                           routed_by_engine=routes_calls and report.kind == "queued", at=at)
        _call_event(call, CallEventKind.ARRIVED, at=at, recovered_from=report.kind)
        outcome = CtiOutcome.RECOVERED
    if call.state in _ALREADY.get(report.kind, ()):
        return _log_cti(adapter, report, CtiOutcome.DUPLICATE, f"call already {call.state}", call), None
    if call.state not in _APPLIES_FROM[report.kind]:
        return _log_cti(adapter, report, CtiOutcome.REJECTED,
                        f"out of order: {report.kind} while the call is {call.state}", call), None
    handler = _REPORT_HANDLERS[report.kind]
    reason = handler(call, report, at) or ""
    return _log_cti(adapter, report, outcome, reason, call), None


def _on_data(call: Call, report: CallReport, at) -> str:
    values = {str(key): str(value)[:200] for key, value in report.detail.items()}
    if "priority" in values:
        try:
            call.priority = int(values.pop("priority"))
        except ValueError:
            raise ValidationError({"priority": [f"not a whole number: {values.get('priority')!r}"]}) from None
    call.ivr_data = {**(call.ivr_data or {}), **values}
    call.save(update_fields=["ivr_data", "priority"])
    _identify_by_account_number(call)
    call.save(update_fields=["contact", "account"])
    return ""


def _on_queued(call: Call, report: CallReport, at) -> str:
    queue = Queue.objects.filter(code=report.queue).first() if report.queue else None
    if queue is None:
        queue = selectors.queue_for_number(call.dnis)
    if queue is None:
        raise ValidationError({"queue": [f"unknown queue {report.queue!r}"]})
    try:
        priority = int(report.detail.get("priority") or 0)
    except (TypeError, ValueError):
        priority = 0
    call_enqueue(call=call, queue=queue, priority=max(priority, call.priority), at=at)
    return ""


def _on_ringing(call: Call, report: CallReport, at) -> str:
    agent = _agent_for_ref(report.agent_ref)
    if agent is None:
        raise ValidationError({"agent_ref": [f"no agent with extension {report.agent_ref!r}"]})
    if call.routed_by_engine:
        return "ringing noted; Guanxi routes this call"
    if call.queued_at is None:
        call.queued_at = at
    call.state = CallState.RINGING
    call.offered_to = [agent.user_id]
    call.agent = agent.user
    call.save(update_fields=["state", "offered_to", "agent", "queued_at"])
    _call_event(call, CallEventKind.RINGING, agent_id=agent.user_id, at=at, interface=report.agent_ref)
    _record_state(agent, AgentStateKind.RINGING, "", None, at)
    live.offer_to_agent(agent.user_id, call.pk)
    return ""


def _on_answered(call: Call, report: CallReport, at) -> str:
    agent = _agent_for_ref(report.agent_ref) if report.agent_ref else None
    if call.routed_by_engine:
        if agent is None or call.state != CallState.RINGING:
            raise Conflict(f"answered by {report.agent_ref or 'nobody'} but the call is {call.state}")
        call_answer(actor=agent.user, call_id=call.pk)
        return ""
    user_id = agent.user_id if agent else call.agent_id
    if user_id is None:
        raise ValidationError({"agent_ref": [f"no agent with extension {report.agent_ref!r}"]})
    if call.queued_at is None:
        call.queued_at = at
    _mark_answered(call, user_id, at)
    if agent is not None:
        _record_state(agent, AgentStateKind.BUSY, "", None, at)
        _pause_busy_elsewhere(agent.user_id)
    return ""


def _pause_busy_elsewhere(user_id: int) -> None:
    """A call the telephony system routed is in this agent's hands: no engine offers meanwhile."""
    agent_key = str(user_id)

    def step(engine):
        try:
            status = engine.agent_status(agent_key)
        except UnknownAgent:
            return
        if status.state.value not in ("logged_out", "paused"):
            engine.agent_pause(agent_key, BUSY_PAUSE)

    _engine_step(step)


def _on_held(call: Call, report: CallReport, at) -> str:
    _close_talk(call, at)
    call.state, call.held_since = CallState.HELD, at
    call.save(update_fields=["state", "held_since", "talking_since", "talk_seconds"])
    _call_event(call, CallEventKind.HELD, agent_id=call.agent_id, at=at)
    return ""


def _on_unheld(call: Call, report: CallReport, at) -> str:
    _release_hold(call, at)
    call.state, call.talking_since = CallState.CONNECTED, at
    call.save(update_fields=["state", "held_since", "hold_seconds", "talking_since"])
    _call_event(call, CallEventKind.UNHELD, agent_id=call.agent_id, at=at)
    return ""


def _on_transferred(call: Call, report: CallReport, at) -> str:
    target = report.target
    queue = Queue.objects.filter(code=target, is_active=True).first() if target else None
    agent = _agent_for_ref(target) if target and queue is None else None
    if queue is not None:
        if call.routed_by_engine:
            call_transfer(actor=None, call_id=call.pk, queue_id=queue.pk)
            return ""
        _close_segments(call, at)
        _call_event(call, CallEventKind.TRANSFERRED, agent_id=call.agent_id, at=at, queue=queue.code)
        call.transfer_count += 1
        call.save()
        call_enqueue(call=call, queue=queue, priority=call.priority, at=at)
        return ""
    if agent is not None:
        # Attended or blind transfer to a colleague: the call stays, with a new agent.
        _close_segments(call, at)
        previous = call.agent_id
        _call_event(call, CallEventKind.TRANSFERRED, agent_id=previous, at=at, to_agent=agent.user_id,
                    transfer=report.detail.get("transfer", ""))
        call.agent = agent.user
        call.talking_since = at
        call.state = CallState.CONNECTED
        call.transfer_count += 1
        call.save()
        if previous:
            previous_agent = AgentProfile.objects.filter(user_id=previous).first()
            if previous_agent is not None:
                _record_state(previous_agent, AgentStateKind.AVAILABLE, "", None, at)
        _record_state(agent, AgentStateKind.BUSY, "", None, at)
        return ""
    if not target:
        raise ValidationError({"target": ["transfer without a target"]})
    _call_event(call, CallEventKind.TRANSFERRED, agent_id=call.agent_id, at=at, number=target)
    _end_call(call, CallEndReason.TRANSFERRED_OUT, at, note=f"transferred to {target}")
    return ""


def _on_conferenced(call: Call, report: CallReport, at) -> str:
    _call_event(call, CallEventKind.CONFERENCED, agent_id=call.agent_id, at=at, target=report.target)
    return ""


def _on_ended(call: Call, report: CallReport, at) -> str:
    previous_agent = call.agent_id if not call.routed_by_engine else None
    call_caller_hangup(call_id=call.pk, at=at)
    if previous_agent:
        agent = AgentProfile.objects.filter(user_id=previous_agent).first()
        if agent is not None and agent.state in (AgentStateKind.BUSY, AgentStateKind.RINGING):
            _record_state(agent, AgentStateKind.AVAILABLE, "", None, at)
    return ""


def _on_agent_disconnected(call: Call, report: CallReport, at) -> str:
    call_agent_disconnected(call_id=call.pk, at=at, detail=report.detail.get("reason", "") or report.agent_ref)
    return "agent disconnected"


_REPORT_HANDLERS = {
    "data": _on_data,
    "queued": _on_queued,
    "ringing": _on_ringing,
    "answered": _on_answered,
    "held": _on_held,
    "unheld": _on_unheld,
    "transferred": _on_transferred,
    "conferenced": _on_conferenced,
    "ended": _on_ended,
    "abandoned": _on_ended,
    "agent_disconnected": _on_agent_disconnected,
}


def calls_close_stale_ivr(*, minutes: int = 30) -> int:
    """End calls left in the IVR with no step for ``minutes`` (the caller is long gone but the
    telephony side never said so); each keeps its record with the reason."""
    cutoff = _now() - datetime.timedelta(minutes=minutes)
    stale = list(StoredIvrSession.objects.filter(call__state=CallState.IVR, updated_at__lt=cutoff)
                 .values_list("call_id", flat=True))
    for call_id in stale:
        with transaction.atomic():
            call = Call.objects.select_for_update(of=("self",)).select_related("queue", "contact", "account").get(pk=call_id)
            if call.state == CallState.IVR:
                _end_call(call, CallEndReason.ABANDONED, _now(), note=f"no IVR step for {minutes} minutes")
    return len(stale)


# ======================================================================================
# The built-in phone simulator (a telephony adapter that runs in the browser)
# ======================================================================================
SIMULATOR = "simulator"


def simulator_call_start(*, actor: User, ani: str, dnis: str) -> tuple[Call, IvrStep | None]:
    """A simulated customer dials ``dnis`` from ``ani``; Guanxi routes the call."""
    import uuid

    _require(actor, "call", "create")
    errors = {}
    if not (ani or "").strip():
        errors["ani"] = [_("Enter the caller's number.")]
    if not _DIALLED_NUMBER.match((dnis or "").replace(" ", "").replace("-", "")):
        errors["dnis"] = [_("Enter the number dialled, digits only.")]
    if errors:
        raise ValidationError(errors)
    log, step = cti_event_apply_with_step(
        adapter=SIMULATOR, routes_calls=True,
        report=CallReport(kind="offered", call_ref=f"sim-{uuid.uuid4().hex[:12]}", ani=ani.strip(),
                          dnis=dnis.replace(" ", "").replace("-", ""), event_id=f"sim-offer-{uuid.uuid4().hex}"))
    if log.call_id is None:
        raise Conflict(log.reason)
    return Call.objects.get(pk=log.call_id), step


def simulator_keys(*, actor: User, call_id: int, digits: str = "", no_input: bool = False) -> IvrStep:
    _require(actor, "call", "create")
    call = Call.objects.filter(pk=call_id, adapter=SIMULATOR).first()
    if call is None:
        raise NotFound(f"simulated call {call_id}")
    return call_ivr_input(call_id=call.pk, digits=None if no_input else digits, no_input=no_input)


def simulator_hang_up(*, actor: User, call_id: int) -> CtiEventLog:
    _require(actor, "call", "create")
    call = Call.objects.filter(pk=call_id, adapter=SIMULATOR).first()
    if call is None:
        raise NotFound(f"simulated call {call_id}")
    log = cti_event_apply(adapter=SIMULATOR, routes_calls=True,
                          report=CallReport(kind="ended", call_ref=call.external_id))
    if log.outcome == CtiOutcome.REJECTED:
        raise Conflict(log.reason)
    return log


def cti_event_receive(*, actor: User, adapter: str, report: CallReport) -> CtiEventLog:
    """A telephony event posted to the API by an integration (it needs "create call")."""
    _require(actor, "call", "create")
    if adapter not in ("simulator", "asterisk", "twilio", "external"):
        raise ValidationError({"adapter": [_("Use simulator, asterisk, twilio or external.")]})
    return cti_event_apply(adapter=adapter, report=report, routes_calls=adapter in ("simulator", "twilio"))
