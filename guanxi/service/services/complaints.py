"""Complaints as a tracked process: received → investigating (root cause) → corrective
action → verifying → closed, each step recorded with what was found or done."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.service import selectors
from guanxi.service.models import (
    COMPLAINT_FLOW, Complaint, ComplaintSeverity, ComplaintStatus, ComplaintStep,
)
from guanxi.service.services.cases import next_number, notify

EDITABLE = ("subject", "description", "severity", "root_cause", "corrective_action", "preventive_action", "due_on")
# What must be written down before a complaint may enter each step.
REQUIRED_FOR = {
    ComplaintStatus.ACTION: ("root_cause",),
    ComplaintStatus.VERIFYING: ("root_cause", "corrective_action"),
    ComplaintStatus.CLOSED: ("root_cause", "corrective_action"),
}
DUE_DAYS = {ComplaintSeverity.CRITICAL: 2, ComplaintSeverity.HIGH: 5, ComplaintSeverity.MEDIUM: 10,
            ComplaintSeverity.LOW: 15}


@transaction.atomic
def complaint_create(*, actor: User, data: dict) -> Complaint:
    """Record a complaint, from a case (its customer is taken over) or on its own."""
    if scope_for(actor, "complaint", "create") == "none":
        raise PermissionDenied(_("You may not record complaints."))
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    complaint = Complaint(received_at=now, status=ComplaintStatus.RECEIVED)
    for field in EDITABLE:
        if field in data and data[field] is not None:
            setattr(complaint, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if data.get("case_id"):
        try:
            case = selectors.access_case_by_id(actor, data["case_id"])
        except NotFound:
            errors["case_id"] = [_("Unknown case.")]
        else:
            complaint.case, complaint.contact_id, complaint.account_id = case, case.contact_id, case.account_id
            complaint.territory_id = case.territory_id
    if data.get("contact_id") and not complaint.contact_id:
        contact = core_selectors.visible_contacts(actor).filter(pk=data["contact_id"]).first()
        if contact is None:
            errors["contact_id"] = [_("Unknown contact.")]
        else:
            complaint.contact, complaint.account_id = contact, contact.account_id
            complaint.territory_id = contact.territory_id
    if not complaint.contact_id and not complaint.account_id and not errors:
        errors["contact_id"] = [_("Name the case or the contact who complains.")]
    owner = actor
    if data.get("owner_id"):
        owner = User.objects.filter(pk=data["owner_id"], is_active=True).first()
        if owner is None or scope_for(owner, "complaint", "change") == "none":
            errors["owner_id"] = [_("This person cannot handle complaints.")]
            owner = actor
    complaint.owner, complaint.team_id = owner, owner.team_id
    if complaint.territory_id is None:
        complaint.territory_id = owner.territory_id
    if not complaint.due_on:
        complaint.due_on = timezone.localdate(now) + dt.timedelta(days=DUE_DAYS.get(complaint.severity, 10))
    try:
        complaint.full_clean(exclude=["number", "case", "contact", "account", "owner", "team", "territory",
                                      "version"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    complaint.number = next_number("CP", now)
    complaint.save()
    ComplaintStep.objects.create(complaint=complaint, to_status=ComplaintStatus.RECEIVED, actor=actor, at=now,
                                 note=complaint.description[:2000])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=complaint, changes=diff({}, {
        "number": complaint.number, "severity": complaint.severity, "contact_id": complaint.contact_id}))
    if owner.pk != actor.pk:
        notify(owner, complaint.case, "complaint", "Complaint %(number)s was given to you: %(subject)s",
               number=complaint.number, subject=complaint.subject)
    return complaint


@transaction.atomic
def complaint_update(*, actor: User, complaint_id: int, data: dict, expected_version: int | None = None
                     ) -> Complaint:
    """Write down findings (root cause, actions) and/or move the complaint to its next step
    (``status``); a step needs its findings first, e.g. a root cause before action."""
    complaint = selectors.access_complaint_by_id(actor, complaint_id, "change")
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if expected_version is not None and complaint.version != expected_version:
        raise Conflict(_("This complaint was changed by someone else; reload and try again."))
    before = {field: getattr(complaint, field) for field in EDITABLE + ("status", "owner_id")}
    errors: dict[str, list[str]] = {}
    for field in EDITABLE:
        if field in data and data[field] is not None:
            setattr(complaint, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if data.get("owner_id") and data["owner_id"] != complaint.owner_id:
        owner = User.objects.filter(pk=data["owner_id"], is_active=True).first()
        if owner is None or scope_for(owner, "complaint", "change") == "none":
            errors["owner_id"] = [_("This person cannot handle complaints.")]
        else:
            complaint.owner, complaint.team_id = owner, owner.team_id
    new_status = data.get("status")
    now = timezone.now()
    if new_status and new_status != complaint.status:
        if new_status not in COMPLAINT_FLOW.get(complaint.status, ()):
            errors["status"] = [_("A complaint cannot go from “%(from)s” to “%(to)s”.") % {
                "from": complaint.get_status_display(),
                "to": ComplaintStatus(new_status).label if new_status in ComplaintStatus.values else new_status}]
        else:
            for field in REQUIRED_FOR.get(new_status, ()):
                if not getattr(complaint, field):
                    errors.setdefault(field, []).append(_("Write this down before moving on."))
    try:
        complaint.full_clean(exclude=["number", "case", "contact", "account", "owner", "team", "territory",
                                      "version"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if new_status and new_status != complaint.status:
        ComplaintStep.objects.create(complaint=complaint, from_status=complaint.status, to_status=new_status,
                                     note=(data.get("note") or "").strip()[:5000], actor=actor, at=now)
        complaint.status = new_status
        complaint.closed_at = now if new_status == ComplaintStatus.CLOSED else None
    complaint.version = F("version") + 1
    complaint.save()
    complaint.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=complaint, changes=diff(
        before, {field: getattr(complaint, field) for field in EDITABLE + ("status", "owner_id")}))
    return complaint


@transaction.atomic
def complaint_delete(*, actor: User, complaint_id: int) -> None:
    complaint = selectors.access_complaint_by_id(actor, complaint_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=complaint, changes={"number": [complaint.number, None]})
    complaint.delete()
