"""Sales expenses: a rep claims, a manager approves or rejects, finance reimburses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.sales import selectors
from guanxi.sales.models import Expense, ExpenseStatus
from guanxi.sales.services.common import (
    check_version, full_clean_into, place, raise_if, require, snapshot, touch, visible_account_or_error,
)

EXPENSE_FIELDS = ("spent_on", "category", "amount", "currency", "description")
TRACKED = EXPENSE_FIELDS + ("status", "account_id", "opportunity_id", "owner_id")


def _expense_apply(expense: Expense, data: dict, actor: User, errors: dict) -> None:
    for field in EXPENSE_FIELDS:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(expense, field, value.strip() if isinstance(value, str) else value)
    if "account_id" in data:
        expense.account = visible_account_or_error(actor, data["account_id"], errors)
    if "opportunity_id" in data:
        expense.opportunity = (selectors.visible_opportunities(actor).filter(pk=data["opportunity_id"]).first()
                               if data["opportunity_id"] else None)
        if data["opportunity_id"] and expense.opportunity is None:
            errors.setdefault("opportunity_id", []).append(_("Unknown opportunity."))
    if expense.spent_on and expense.spent_on > timezone.localdate():
        errors.setdefault("spent_on", []).append(_("An expense cannot be in the future."))
    full_clean_into(expense, errors, exclude=["owner", "team", "territory", "account", "opportunity", "decided_by"])


@transaction.atomic
def expense_create(*, actor: User, data: dict) -> Expense:
    require(actor, "expense", "create", _("You may not claim expenses."))
    expense = Expense()
    errors: dict[str, list[str]] = {}
    _expense_apply(expense, data, actor, errors)
    place(expense, actor=actor, object_name="expense", data={}, errors=errors)
    raise_if(errors)
    expense.save()
    if data.get("submit"):
        expense.status, expense.submitted_at = ExpenseStatus.SUBMITTED, timezone.now()
        expense.save(update_fields=["status", "submitted_at"])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=expense, changes=diff({}, snapshot(expense, TRACKED)))
    return expense


def _locked(actor: User, expense_id: int, action: str = "change") -> Expense:
    expense = selectors.access_expense_by_id(actor, expense_id, action)
    return Expense.objects.select_for_update().get(pk=expense.pk)


@transaction.atomic
def expense_update(*, actor: User, expense_id: int, data: dict, expected_version: int | None = None) -> Expense:
    expense = _locked(actor, expense_id)
    check_version(expense, expected_version)
    if expense.status not in (ExpenseStatus.DRAFT, ExpenseStatus.REJECTED):
        raise Conflict(_("This expense is %(status)s; it can no longer be edited.")
                       % {"status": expense.get_status_display().lower()})
    before = snapshot(expense, TRACKED)
    errors: dict[str, list[str]] = {}
    _expense_apply(expense, data, actor, errors)
    raise_if(errors)
    touch(expense)
    expense.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=expense, changes=diff(before, snapshot(expense, TRACKED)))
    return expense


@transaction.atomic
def expense_submit(*, actor: User, expense_id: int) -> Expense:
    expense = _locked(actor, expense_id)
    if expense.owner_id != actor.pk:
        raise PermissionDenied(_("Only the person who claims an expense submits it."))
    if expense.status not in (ExpenseStatus.DRAFT, ExpenseStatus.REJECTED):
        raise Conflict(_("This expense is already %(status)s.") % {"status": expense.get_status_display().lower()})
    before = expense.status
    expense.status, expense.submitted_at = ExpenseStatus.SUBMITTED, timezone.now()
    expense.decided_by, expense.decided_at, expense.decision_note = None, None, ""
    touch(expense)
    expense.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=expense, changes={"status": [before, expense.status]})
    return expense


@transaction.atomic
def expense_decide(*, actor: User, expense_id: int, approve: bool, note: str = "") -> Expense:
    """Approve or reject a submitted claim; nobody decides on their own claim."""
    expense = _locked(actor, expense_id)
    if expense.owner_id == actor.pk:
        raise PermissionDenied(_("Someone else decides on your own expense claim."))
    if expense.status != ExpenseStatus.SUBMITTED:
        raise Conflict(_("Only submitted expenses are approved or rejected; this one is %(status)s.")
                       % {"status": expense.get_status_display().lower()})
    if not approve and not (note or "").strip():
        raise ValidationError({"note": [_("Say why the expense is rejected.")]})
    before = expense.status
    expense.status = ExpenseStatus.APPROVED if approve else ExpenseStatus.REJECTED
    expense.decided_by, expense.decided_at = actor, timezone.now()
    expense.decision_note = (note or "").strip()[:300]
    touch(expense)
    expense.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=expense, changes={"status": [before, expense.status]})
    return expense


@transaction.atomic
def expense_mark_reimbursed(*, actor: User, expense_id: int) -> Expense:
    expense = _locked(actor, expense_id)
    if expense.owner_id == actor.pk:
        raise PermissionDenied(_("Someone else pays out your own expense claim."))
    if expense.status != ExpenseStatus.APPROVED:
        raise Conflict(_("Only approved expenses are reimbursed."))
    expense.status = ExpenseStatus.REIMBURSED
    touch(expense)
    expense.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=expense,
                 changes={"status": [ExpenseStatus.APPROVED, ExpenseStatus.REIMBURSED]})
    return expense


@transaction.atomic
def expense_delete(*, actor: User, expense_id: int) -> None:
    expense = _locked(actor, expense_id, "delete")
    if expense.status not in (ExpenseStatus.DRAFT, ExpenseStatus.REJECTED):
        raise Conflict(_("A submitted or approved claim stays on record."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=expense, changes={"amount": [expense.amount, None]})
    expense.delete()
