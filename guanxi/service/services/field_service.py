"""Field service: visits booked on a technician's calendar (within working hours, clear of
time off and other visits), dispatched, done and recorded on the customer's timeline."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.interactions.models import Direction
from guanxi.interactions.services import interaction_record
from guanxi.service import selectors, sla
from guanxi.service.models import (
    ACTIVE_VISIT_STATUSES, VISIT_FLOW, CaseEvent, CaseEventKind, FieldVisit, ServiceAgent, TechnicianTimeOff,
    VisitStatus,
)
from guanxi.service.services.cases import next_number, notify

MAX_VISIT = dt.timedelta(hours=12)


def _technician(user_id) -> ServiceAgent | None:
    return (ServiceAgent.objects.select_for_update(of=("self",)).select_related("user", "calendar")
            .filter(user_id=user_id, is_technician=True, user__is_active=True).first())


def _slot_errors(agent: ServiceAgent, starts_at: dt.datetime, ends_at: dt.datetime,
                 exclude_visit: int | None = None) -> dict[str, list[str]]:
    """Why the technician cannot take [starts_at, ends_at), if they cannot."""
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        return {"starts_at": [_("Give times with a time zone.")]}
    if ends_at <= starts_at:
        return {"ends_at": [_("The visit must end after it starts.")]}
    if ends_at - starts_at > MAX_VISIT:
        return {"ends_at": [_("A visit lasts at most 12 hours.")]}
    if agent.calendar_id:
        calendar = sla.business_calendar(agent.calendar)
        if calendar.business_seconds_between(starts_at, ends_at) < (ends_at - starts_at).total_seconds():
            return {"starts_at": [_("%(name)s does not work at that time.") % {"name": agent.user}]}
    off = TechnicianTimeOff.objects.filter(technician_id=agent.user_id, starts_at__lt=ends_at, ends_at__gt=starts_at)
    if off.exists():
        return {"starts_at": [_("%(name)s is off at that time.") % {"name": agent.user}]}
    clash = FieldVisit.objects.filter(technician_id=agent.user_id, status__in=ACTIVE_VISIT_STATUSES,
                                      starts_at__lt=ends_at, ends_at__gt=starts_at)
    if exclude_visit:
        clash = clash.exclude(pk=exclude_visit)
    other = clash.first()
    if other is not None:
        return {"starts_at": [_("%(name)s already has visit %(number)s then.") % {"name": agent.user,
                                                                                 "number": other.number}]}
    return {}


@transaction.atomic
def visit_schedule(*, actor: User, case_id: int, technician_id: int, starts_at: dt.datetime,
                   ends_at: dt.datetime, address: str = "", notes: str = "") -> FieldVisit:
    """Book a technician for a case. The slot must be within the technician's working
    hours and clear of their time off and other visits (checked under a lock, so two
    dispatchers cannot book the same hour)."""
    if scope_for(actor, "field_visit", "create") == "none":
        raise PermissionDenied(_("You may not book field visits."))
    case = selectors.access_case_by_id(actor, case_id)
    if not case.is_open:
        raise Conflict(_("Visits are booked for open cases."))
    agent = _technician(technician_id)
    if agent is None:
        raise ValidationError({"technician_id": [_("Unknown technician.")]})
    address = (address or "").strip() or _customer_address(case)
    errors = _slot_errors(agent, starts_at, ends_at)
    if not address:
        errors.setdefault("address", []).append(_("Where should the technician go?"))
    if errors:
        raise ValidationError(errors)
    visit = FieldVisit.objects.create(number=next_number("FV"), case=case, technician=agent.user, starts_at=starts_at,
                                      ends_at=ends_at, address=address[:300], notes=notes, created_by=actor)
    CaseEvent.objects.create(case=case, actor=actor, kind=CaseEventKind.VISIT, detail=_(
        "Field visit %(number)s booked with %(name)s for %(when)s.") % {
        "number": visit.number, "name": agent.user, "when": timezone.localtime(starts_at).strftime("%Y-%m-%d %H:%M")})
    audit_record(actor=actor, action=AuditAction.CREATE, obj=visit, changes=diff({}, {
        "case": case.number, "technician_id": agent.user_id, "starts_at": starts_at}))
    if agent.user_id != actor.pk:
        notify(agent.user, case, "visit", "Field visit %(number)s on %(when)s: %(address)s", number=visit.number,
               when=timezone.localtime(starts_at).strftime("%Y-%m-%d %H:%M"), address=visit.address)
    return visit


def _customer_address(case) -> str:
    for owner in (case.contact, case.account):
        if owner is not None:
            address = owner.addresses.order_by("-is_primary", "id").first()
            if address is not None:
                return str(address)
    return ""


@transaction.atomic
def visit_update(*, actor: User, visit_id: int, data: dict, expected_version: int | None = None) -> FieldVisit:
    """Reschedule, reassign, dispatch, start, complete (with the outcome) or cancel a visit.
    A completed visit is a visit on the customer's timeline."""
    visit = selectors.access_visit_by_id(actor, visit_id, "change")
    visit = FieldVisit.objects.select_for_update(of=("self",)).select_related("case").get(pk=visit.pk)
    if expected_version is not None and visit.version != expected_version:
        raise Conflict(_("This visit was changed by someone else; reload and try again."))
    tracked = ("status", "starts_at", "ends_at", "technician_id", "address", "notes", "outcome")
    before = {field: getattr(visit, field) for field in tracked}
    errors: dict[str, list[str]] = {}
    for field in ("address", "notes", "outcome"):
        if data.get(field) is not None:
            setattr(visit, field, data[field].strip())
    moved = any(data.get(field) is not None for field in ("starts_at", "ends_at", "technician_id"))
    if moved:
        if visit.status not in (VisitStatus.SCHEDULED, VisitStatus.DISPATCHED):
            errors["starts_at"] = [_("Only visits not yet under way can be moved.")]
        else:
            visit.starts_at = data.get("starts_at") or visit.starts_at
            visit.ends_at = data.get("ends_at") or visit.ends_at
            agent = _technician(data.get("technician_id") or visit.technician_id)
            if agent is None:
                errors["technician_id"] = [_("Unknown technician.")]
            else:
                visit.technician = agent.user
                errors.update(_slot_errors(agent, visit.starts_at, visit.ends_at, exclude_visit=visit.pk))
    status = data.get("status")
    now = timezone.now()
    if status and status != visit.status:
        if status not in VISIT_FLOW.get(visit.status, ()):
            errors["status"] = [_("A visit cannot go from “%(from)s” to “%(to)s”.") % {
                "from": visit.get_status_display(),
                "to": VisitStatus(status).label if status in VisitStatus.values else status}]
        elif status == VisitStatus.COMPLETED and not visit.outcome:
            errors["outcome"] = [_("Say what was done before completing the visit.")]
        else:
            visit.status = status
            if status == VisitStatus.COMPLETED:
                visit.completed_at = now
    if errors:
        raise ValidationError(errors)
    visit.version = F("version") + 1
    visit.save()
    visit.refresh_from_db()
    if visit.status == VisitStatus.COMPLETED and before["status"] != VisitStatus.COMPLETED:
        case = visit.case
        if case.contact_id or case.account_id:
            interaction_record(actor=None, check_access=False, data={
                "contact_id": case.contact_id, "account_id": case.account_id, "channel": "visit",
                "direction": Direction.OUTBOUND, "occurred_at": visit.starts_at,
                "duration_seconds": int((visit.ends_at - visit.starts_at).total_seconds()),
                "subject": _("Field visit %(number)s") % {"number": visit.number}, "outcome": visit.outcome[:120],
                "notes": visit.outcome, "agent_id": visit.technician_id, "episode_id": case.episode_id,
                "source_type": "field_visit", "source_id": str(visit.pk)})
    if visit.status != before["status"] or moved:
        CaseEvent.objects.create(case=visit.case, actor=actor, kind=CaseEventKind.VISIT, detail=_(
            "Field visit %(number)s: %(status)s, %(when)s.") % {
            "number": visit.number, "status": visit.get_status_display(),
            "when": timezone.localtime(visit.starts_at).strftime("%Y-%m-%d %H:%M")})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=visit, changes=diff(
        before, {field: getattr(visit, field) for field in tracked}))
    return visit


@transaction.atomic
def visit_delete(*, actor: User, visit_id: int) -> None:
    visit = selectors.access_visit_by_id(actor, visit_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=visit, changes={"number": [visit.number, None]})
    visit.delete()


@transaction.atomic
def time_off_add(*, actor: User, technician_id: int, starts_at: dt.datetime, ends_at: dt.datetime,
                 reason: str = "") -> TechnicianTimeOff:
    """Block a technician's time (leave, training). Technicians block their own; booking
    others' time needs the right to change every visit."""
    if actor.pk != technician_id and scope_for(actor, "field_visit", "change") != "all":
        raise PermissionDenied(_("You may not change other technicians' calendars."))
    agent = _technician(technician_id)
    if agent is None:
        raise NotFound(f"technician {technician_id}")
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("The time off must end after it starts.")]})
    clash = FieldVisit.objects.filter(technician_id=technician_id, status__in=ACTIVE_VISIT_STATUSES,
                                      starts_at__lt=ends_at, ends_at__gt=starts_at).first()
    if clash is not None:
        raise ValidationError({"starts_at": [_("Visit %(number)s is booked then; move it first.") % {
            "number": clash.number}]})
    time_off = TechnicianTimeOff.objects.create(technician_id=technician_id, starts_at=starts_at, ends_at=ends_at,
                                                reason=(reason or "").strip()[:200])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=time_off,
                 changes={"technician_id": [None, technician_id], "starts_at": [None, starts_at.isoformat()]})
    return time_off
