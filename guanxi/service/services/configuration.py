"""Writes to the service desk's configuration: business calendars, SLA policies and their
escalation rules (access-matrix object ``sla_policy``), queues and agents
(``service_queue``). Configuration has no owner, so the matrix grants it all or nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.service import selectors
from guanxi.service.business_time import WEEKDAY_NAMES, BusinessCalendar, CalendarError, parse_hours
from guanxi.service.case_routing import valid_skills
from guanxi.service.models import (
    CalendarDay, CalendarDayKind, EscalationRule, QueueMembership, ServiceAgent, ServiceCalendar, ServiceQueue,
    SlaPolicy,
)


def _require(actor: User, object_name: str, action: str) -> None:
    if scope_for(actor, object_name, action) == "none":
        raise PermissionDenied(_("You may not change the service desk's configuration."))


def _merge(errors: dict, error: ValidationError) -> None:
    for field, messages in error.message_dict.items():
        errors.setdefault(field, []).extend(messages)


def _snapshot(instance, fields) -> dict:
    return {field: getattr(instance, field) for field in fields}


# ======================================================================================
# Business calendars
# ======================================================================================
CALENDAR_FIELDS = ("name", "time_zone", "weekly_hours")


def _validate_calendar(calendar: ServiceCalendar, days: list[dict] | None, errors: dict) -> list[CalendarDay]:
    weekly = calendar.weekly_hours or {}
    if not isinstance(weekly, dict):
        errors["weekly_hours"] = [_("Give the hours per weekday, e.g. {\"mon\": \"09:00-18:00\"}.")]
        weekly = {}
    for name, text in weekly.items():
        if name not in WEEKDAY_NAMES:
            errors.setdefault("weekly_hours", []).append(
                _("Unknown weekday “%(day)s”; use mon, tue, wed, thu, fri, sat or sun.") % {"day": name})
            continue
        try:
            parse_hours(str(text))
        except CalendarError as error:
            errors.setdefault(f"weekly_hours.{name}", []).append(str(error))
    try:
        BusinessCalendar(calendar.time_zone, {})
    except CalendarError:
        errors["time_zone"] = [_("Unknown time zone “%(zone)s”.") % {"zone": calendar.time_zone}]
    rows: list[CalendarDay] = []
    seen = set()
    for index, item in enumerate(days or []):
        day = CalendarDay(calendar=calendar, date=item.get("date"), kind=item.get("kind", CalendarDayKind.HOLIDAY),
                          hours=item.get("hours", "") or "", name=item.get("name", "") or "")
        try:
            day.full_clean(exclude=["calendar"])
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(f"days.{index}.{field}", []).extend(messages)
            continue
        if day.date in seen:
            errors.setdefault(f"days.{index}.date", []).append(_("This date is listed twice."))
        seen.add(day.date)
        if day.kind == CalendarDayKind.SPECIAL:
            try:
                if not parse_hours(day.hours):
                    raise CalendarError(_("Give the opening hours of a special day."))
            except CalendarError as error:
                errors.setdefault(f"days.{index}.hours", []).append(str(error))
        rows.append(day)
    return rows


def _save_calendar(actor: User, calendar: ServiceCalendar, data: dict, creating: bool) -> ServiceCalendar:
    before = {} if creating else _snapshot(calendar, CALENDAR_FIELDS)
    for field in CALENDAR_FIELDS:
        if field in data and data[field] is not None:
            setattr(calendar, field, data[field].strip() if isinstance(data[field], str) else data[field])
    errors: dict[str, list[str]] = {}
    try:
        calendar.full_clean(exclude=["weekly_hours"])
    except ValidationError as error:
        _merge(errors, error)
    rows = _validate_calendar(calendar, data.get("days"), errors)
    if errors:
        raise ValidationError(errors)
    calendar.save()
    if "days" in data and data["days"] is not None:
        calendar.days.all().delete()
        for row in rows:
            row.calendar = calendar
            row.save()
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=calendar,
                 changes=diff(before, _snapshot(calendar, CALENDAR_FIELDS)))
    if not creating:
        _refresh_open_case_deadlines(SlaPolicy.objects.filter(calendar=calendar))
    return calendar


@transaction.atomic
def calendar_create(*, actor: User, data: dict) -> ServiceCalendar:
    _require(actor, "sla_policy", "create")
    return _save_calendar(actor, ServiceCalendar(), data, creating=True)


@transaction.atomic
def calendar_update(*, actor: User, calendar_id: int, data: dict) -> ServiceCalendar:
    calendar = selectors.access_calendar_by_id(actor, calendar_id, "change")
    return _save_calendar(actor, ServiceCalendar.objects.select_for_update().get(pk=calendar.pk), data,
                          creating=False)


@transaction.atomic
def calendar_delete(*, actor: User, calendar_id: int) -> None:
    calendar = selectors.access_calendar_by_id(actor, calendar_id, "delete")
    if calendar.policies.exists():
        raise ValidationError({"__all__": [_("SLA policies use this calendar; change them first.")]})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=calendar, changes={"name": [calendar.name, None]})
    calendar.delete()


# ======================================================================================
# SLA policies and escalation rules
# ======================================================================================
POLICY_FIELDS = ("name", "priority", "customer_tier", "first_response_minutes", "resolution_minutes",
                 "warning_percent", "position", "is_active")
RULE_FIELDS = ("trigger", "raise_priority", "mark_escalated", "notify_assignee")


def _rules(policy: SlaPolicy, items: list[dict], errors: dict) -> list[tuple[EscalationRule, list[User]]]:
    rules = []
    for index, item in enumerate(items):
        rule = EscalationRule(policy=policy, **{field: item[field] for field in RULE_FIELDS if field in item})
        if item.get("reassign_queue_id"):
            rule.reassign_queue = ServiceQueue.objects.filter(pk=item["reassign_queue_id"]).first()
            if rule.reassign_queue is None:
                errors.setdefault(f"escalation_rules.{index}.reassign_queue_id", []).append(_("Unknown queue."))
        if item.get("reassign_to_id"):
            rule.reassign_to = User.objects.filter(pk=item["reassign_to_id"], is_active=True).first()
            if rule.reassign_to is None:
                errors.setdefault(f"escalation_rules.{index}.reassign_to_id", []).append(_("Unknown user."))
        users = list(User.objects.filter(pk__in=item.get("notify_user_ids") or [], is_active=True))
        if len(users) != len(set(item.get("notify_user_ids") or [])):
            errors.setdefault(f"escalation_rules.{index}.notify_user_ids", []).append(_("Unknown user."))
        try:
            rule.full_clean(exclude=["policy", "reassign_queue", "reassign_to"])
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(f"escalation_rules.{index}.{field}", []).extend(messages)
        rules.append((rule, users))
    return rules


def _save_policy(actor: User, policy: SlaPolicy, data: dict, creating: bool) -> SlaPolicy:
    before = {} if creating else _snapshot(policy, POLICY_FIELDS + ("calendar_id",))
    for field in POLICY_FIELDS:
        if field in data and data[field] is not None:
            setattr(policy, field, data[field].strip() if isinstance(data[field], str) else data[field])
    errors: dict[str, list[str]] = {}
    if "calendar_id" in data:
        calendar = ServiceCalendar.objects.filter(pk=data["calendar_id"]).first()
        if calendar is None:
            errors["calendar_id"] = [_("Unknown calendar.")]
        else:
            policy.calendar = calendar
    elif creating:
        errors["calendar_id"] = [_("Choose the business calendar the targets count in.")]
    if policy.warning_percent is not None and not 1 <= int(policy.warning_percent) <= 100:
        errors["warning_percent"] = [_("Give a share from 1 to 100.")]
    try:
        policy.full_clean(exclude=["calendar"])
    except ValidationError as error:
        _merge(errors, error)
    if (policy.first_response_minutes or 0) < 1:
        errors.setdefault("first_response_minutes", []).append(_("Give at least one minute."))
    if (policy.resolution_minutes or 0) < 1:
        errors.setdefault("resolution_minutes", []).append(_("Give at least one minute."))
    rules = _rules(policy, data.get("escalation_rules") or [], errors)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise ValidationError({"name": [_("An SLA policy with this name already exists.")]}) from None
    if data.get("escalation_rules") is not None:
        policy.escalation_rules.all().delete()
        for rule, users in rules:
            rule.policy = policy
            rule.save()
            rule.notify_users.set(users)
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=policy,
                 changes=diff(before, _snapshot(policy, POLICY_FIELDS + ("calendar_id",))))
    if not creating:
        _refresh_open_case_deadlines(SlaPolicy.objects.filter(pk=policy.pk))
    return policy


def _refresh_open_case_deadlines(policies) -> None:
    """Open cases under changed targets or hours get their deadlines recomputed."""
    from django.utils import timezone

    from guanxi.service import sla
    from guanxi.service.models import OPEN_STATUSES, Case

    now = timezone.now()
    for case in Case.objects.filter(sla_policy__in=policies, status__in=OPEN_STATUSES).select_related(
            "sla_policy__calendar", "account", "contact", "service_contract"):
        sla.apply_policy(case, case.sla_policy, now, opening=False)
        Case.objects.filter(pk=case.pk).update(
            first_response_target_seconds=case.first_response_target_seconds,
            resolution_target_seconds=case.resolution_target_seconds,
            first_response_due_at=case.first_response_due_at,
            first_response_warning_at=case.first_response_warning_at,
            resolution_due_at=case.resolution_due_at, resolution_warning_at=case.resolution_warning_at)


@transaction.atomic
def sla_policy_create(*, actor: User, data: dict) -> SlaPolicy:
    _require(actor, "sla_policy", "create")
    return _save_policy(actor, SlaPolicy(), data, creating=True)


@transaction.atomic
def sla_policy_update(*, actor: User, policy_id: int, data: dict) -> SlaPolicy:
    policy = selectors.access_sla_policy_by_id(actor, policy_id, "change")
    return _save_policy(actor, SlaPolicy.objects.select_for_update().get(pk=policy.pk), data, creating=False)


@transaction.atomic
def sla_policy_delete(*, actor: User, policy_id: int) -> None:
    """Deactivating keeps history; deleting is for a policy no case ever used."""
    policy = selectors.access_sla_policy_by_id(actor, policy_id, "delete")
    if policy.cases.exists():
        raise ValidationError({"__all__": [_("Cases were measured against this policy; deactivate it instead.")]})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=policy, changes={"name": [policy.name, None]})
    policy.delete()


# ======================================================================================
# Queues, agents, memberships
# ======================================================================================
QUEUE_FIELDS = ("code", "name", "strategy", "required_skills", "categories", "experts_from_priority", "is_active")
AGENT_FIELDS = ("skills", "max_open_cases", "accepting_cases", "is_technician")


def _skills_errors(skills, field: str, errors: dict) -> None:
    if not isinstance(skills, dict):
        errors[field] = [_("Give skills as name → level from 1 to 10.")]
        return
    if valid_skills(skills) != skills:
        bad = sorted(name for name in skills if name not in valid_skills(skills))
        errors[field] = [_("Levels must be whole numbers from 1 to 10 (check: %(skills)s).") % {
            "skills": ", ".join(bad)}]


def _save_queue(actor: User, queue: ServiceQueue, data: dict, creating: bool) -> ServiceQueue:
    from guanxi.service.models import CaseCategory

    before = {} if creating else _snapshot(queue, QUEUE_FIELDS + ("supervisor_id",))
    for field in QUEUE_FIELDS:
        if field in data and data[field] is not None:
            setattr(queue, field, data[field].strip() if isinstance(data[field], str) else data[field])
    errors: dict[str, list[str]] = {}
    if "supervisor_id" in data:
        queue.supervisor = User.objects.filter(pk=data["supervisor_id"], is_active=True).first() \
            if data["supervisor_id"] else None
        if data["supervisor_id"] and queue.supervisor is None:
            errors["supervisor_id"] = [_("Unknown user.")]
    _skills_errors(queue.required_skills, "required_skills", errors)
    if not isinstance(queue.categories, list) or any(item not in CaseCategory.values for item in queue.categories):
        errors["categories"] = [_("Choose categories from: %(choices)s.") % {
            "choices": ", ".join(CaseCategory.values)}]
    try:
        queue.full_clean(exclude=["required_skills", "categories", "supervisor", "last_assigned"])
    except ValidationError as error:
        _merge(errors, error)
    if errors:
        raise ValidationError(errors)
    queue.save()
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=queue,
                 changes=diff(before, _snapshot(queue, QUEUE_FIELDS + ("supervisor_id",))))
    return queue


@transaction.atomic
def queue_create(*, actor: User, data: dict) -> ServiceQueue:
    _require(actor, "service_queue", "create")
    return _save_queue(actor, ServiceQueue(), data, creating=True)


@transaction.atomic
def queue_update(*, actor: User, queue_id: int, data: dict) -> ServiceQueue:
    queue = selectors.access_queue_by_id(actor, queue_id, "change")
    queue = _save_queue(actor, ServiceQueue.objects.select_for_update().get(pk=queue.pk), data, creating=False)
    from guanxi.service.services.cases import queue_route

    queue_route(queue_id=queue.pk)
    return queue


@transaction.atomic
def queue_delete(*, actor: User, queue_id: int) -> None:
    queue = selectors.access_queue_by_id(actor, queue_id, "delete")
    if queue.cases.filter(status__in=("new", "open", "pending_customer", "escalated", "reopened")).exists():
        raise ValidationError({"__all__": [_("Open cases are in this queue; move them or deactivate the queue.")]})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=queue, changes={"code": [queue.code, None]})
    queue.delete()


@transaction.atomic
def agent_save(*, actor: User, user_id: int, data: dict) -> ServiceAgent:
    """Create or change a person's agent profile: skills, capacity, availability, queues."""
    _require(actor, "service_queue", "change")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound(f"user {user_id}")
    agent = ServiceAgent.objects.select_for_update().filter(user=user).first()
    creating = agent is None
    agent = agent or ServiceAgent(user=user)
    before = {} if creating else _snapshot(agent, AGENT_FIELDS + ("calendar_id",))
    for field in AGENT_FIELDS:
        if field in data and data[field] is not None:
            setattr(agent, field, data[field])
    errors: dict[str, list[str]] = {}
    _skills_errors(agent.skills, "skills", errors)
    if "calendar_id" in data:
        agent.calendar = ServiceCalendar.objects.filter(pk=data["calendar_id"]).first() if data["calendar_id"] else None
        if data["calendar_id"] and agent.calendar is None:
            errors["calendar_id"] = [_("Unknown calendar.")]
    if agent.max_open_cases is not None and int(agent.max_open_cases) < 1:
        errors["max_open_cases"] = [_("At least one case.")]
    memberships = []
    for index, item in enumerate(data.get("queues") or []):
        queue = ServiceQueue.objects.filter(pk=item.get("queue_id")).first()
        if queue is None:
            errors.setdefault(f"queues.{index}.queue_id", []).append(_("Unknown queue."))
        memberships.append((queue, int(item.get("penalty", 0) or 0)))
    try:
        agent.full_clean(exclude=["user", "skills", "calendar"])
    except ValidationError as error:
        _merge(errors, error)
    if errors:
        raise ValidationError(errors)
    agent.save()
    if data.get("queues") is not None:
        agent.memberships.all().delete()
        for queue, penalty in memberships:
            QueueMembership.objects.create(queue=queue, agent=agent, penalty=penalty)
    audit_record(actor=actor, action=AuditAction.CREATE if creating else AuditAction.UPDATE, obj=agent,
                 changes=diff(before, _snapshot(agent, AGENT_FIELDS + ("calendar_id",))))
    from guanxi.service.services.cases import route_after_capacity_freed

    route_after_capacity_freed(user.pk)
    return agent


@transaction.atomic
def agent_set_availability(*, actor: User, accepting: bool) -> ServiceAgent:
    """An agent starts or stops taking new cases (no configuration right needed)."""
    agent = ServiceAgent.objects.select_for_update().filter(user_id=actor.pk).first()
    if agent is None:
        raise NotFound(f"service agent {actor.pk}")
    if agent.accepting_cases != accepting:
        agent.accepting_cases = accepting
        agent.save(update_fields=["accepting_cases"])
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=agent,
                     changes={"accepting_cases": [not accepting, accepting]})
    if accepting:
        from guanxi.service.services.cases import route_after_capacity_freed

        route_after_capacity_freed(actor.pk)
    return agent
