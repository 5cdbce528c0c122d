"""Contracts: made from an order or on their own, signed, renewed — with a reminder and a
renewal opportunity opened automatically before the end date."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import AuditAction, User
from guanxi.sales import selectors
from guanxi.sales.models import (
    ActivityKind, ActivityPriority, Contract, ContractStatus, Opportunity, OrderStatus, StageKind,
)
from guanxi.sales.services.common import (
    check_version, full_clean_into, next_number, place, raise_if, require, snapshot, touch, visible_account_or_error,
    visible_contact_or_error,
)

CONTRACT_FIELDS = ("title", "value", "currency", "start_date", "end_date", "auto_renew", "renewal_notice_days",
                   "terms")
TRACKED = CONTRACT_FIELDS + ("status", "owner_id", "account_id", "contact_id", "signed_by_name")


def _contract_apply(contract: Contract, data: dict, actor: User | None, errors: dict) -> None:
    for field in CONTRACT_FIELDS:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(contract, field, value.strip() if isinstance(value, str) else value)
    if "account_id" in data:
        contract.account = visible_account_or_error(actor, data["account_id"], errors)
    if "contact_id" in data:
        contract.contact = visible_contact_or_error(actor, data["contact_id"], errors)
    if contract.start_date and contract.end_date and contract.end_date < contract.start_date:
        errors.setdefault("end_date", []).append(_("The contract cannot end before it starts."))
    if not contract.start_date:
        errors.setdefault("start_date", []).append(_("Give the first day of the contract."))
    if not contract.end_date:
        errors.setdefault("end_date", []).append(_("Give the last day of the contract."))
    full_clean_into(contract, errors, exclude=["number", "owner", "team", "territory", "account", "contact", "order",
                                               "opportunity", "renewed_from", "start_date", "end_date"])


@transaction.atomic
def contract_create(*, actor: User, data: dict) -> Contract:
    """A contract on its own, or from an order (``order_id``): then customer, value and
    currency come from the order unless given."""
    require(actor, "contract", "create", _("You may not create contracts."))
    errors: dict[str, list[str]] = {}
    contract = Contract()
    order = None
    if data.get("order_id"):
        order = selectors.visible_orders(actor).filter(pk=data["order_id"]).select_related(
            "account", "contact", "opportunity").first()
        if order is None:
            raise ValidationError({"order_id": [_("Choose an order you can see.")]})
        if order.status == OrderStatus.CANCELLED:
            raise Conflict(_("Order %(number)s was cancelled; it gets no contract.") % {"number": order.number})
        contract.order, contract.opportunity = order, order.opportunity
        contract.account, contract.contact = order.account, order.contact
        contract.value, contract.currency = order.subtotal, order.currency
        contract.owner, contract.team_id, contract.territory_id = order.owner, order.team_id, order.territory_id
        contract.title = _("Contract for order %(number)s") % {"number": order.number}
    if data.get("opportunity_id") and order is None:
        contract.opportunity = selectors.visible_opportunities(actor).filter(pk=data["opportunity_id"]).first()
        if contract.opportunity is None:
            errors["opportunity_id"] = [_("Choose an opportunity you can see.")]
    _contract_apply(contract, data, actor, errors)
    if not contract.account_id and not contract.contact_id:
        errors.setdefault("account_id", []).append(_("Name the customer: an account or a contact."))
    place(contract, actor=actor, object_name="contract", data=data, errors=errors)
    raise_if(errors)
    contract.number = next_number("CT")
    contract.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=contract,
                 changes=diff({}, snapshot(contract, TRACKED)))
    send_on_commit(record_changed, Contract, instance=contract, action="create", actor=actor)
    return contract


@transaction.atomic
def contract_update(*, actor: User, contract_id: int, data: dict, expected_version: int | None = None) -> Contract:
    contract = selectors.access_contract_by_id(actor, contract_id, "change")
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    check_version(contract, expected_version)
    if contract.status in (ContractStatus.RENEWED, ContractStatus.TERMINATED, ContractStatus.EXPIRED):
        raise Conflict(_("Contract %(number)s is %(status)s and can no longer change.")
                       % {"number": contract.number, "status": contract.get_status_display().lower()})
    before = snapshot(contract, TRACKED)
    errors: dict[str, list[str]] = {}
    if contract.status == ContractStatus.ACTIVE:
        fixed = [field for field in ("value", "currency", "start_date") if field in data
                 and data[field] is not None and data[field] != getattr(contract, field)]
        for field in fixed:
            errors[field] = [_("A signed contract keeps its value, currency and start date; renew it instead.")]
    _contract_apply(contract, data, actor, errors)
    place(contract, actor=actor, object_name="contract", data=data, errors=errors)
    raise_if(errors)
    if "end_date" in data or "renewal_notice_days" in data:
        contract.renewal_reminded_at = None  # a new end date deserves a new reminder
    touch(contract)
    contract.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contract,
                 changes=diff(before, snapshot(contract, TRACKED)))
    return contract


@transaction.atomic
def contract_sign(*, actor: User, contract_id: int, signed_by_name: str,
                  signed_at: datetime.datetime | None = None) -> Contract:
    contract = selectors.access_contract_by_id(actor, contract_id, "change")
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status != ContractStatus.DRAFT:
        raise Conflict(_("Contract %(number)s is %(status)s; only a draft is signed.")
                       % {"number": contract.number, "status": contract.get_status_display().lower()})
    name = (signed_by_name or "").strip()
    if not name:
        raise ValidationError({"signed_by_name": [_("Give the name of the customer's signatory.")]})
    if contract.end_date < timezone.localdate():
        raise Conflict(_("Contract %(number)s ended on %(date)s; change its dates before signing.")
                       % {"number": contract.number, "date": contract.end_date.isoformat()})
    before = snapshot(contract, TRACKED)
    contract.status, contract.signed_by_name = ContractStatus.ACTIVE, name[:200]
    contract.signed_at = signed_at or timezone.now()
    touch(contract)
    contract.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contract,
                 changes=diff(before, snapshot(contract, TRACKED)))
    if contract.contact_id or contract.account_id:
        from guanxi.interactions.services import interaction_record

        interaction_record(actor=None, check_access=False, data={
            "contact_id": contract.contact_id, "account_id": contract.account_id, "channel": "letter",
            "direction": "in", "subject": _("Contract %(number)s signed") % {"number": contract.number},
            "reason": contract.title, "outcome": _("signed by %(name)s") % {"name": contract.signed_by_name},
            "agent_id": contract.owner_id, "source_type": "sales.contract.signed", "source_id": str(contract.pk),
            "documents": [{"name": contract.number, "url": f"/sales/contracts/{contract.pk}/"}]})
    send_on_commit(record_changed, Contract, instance=contract, action="update", actor=actor)
    return contract


@transaction.atomic
def contract_terminate(*, actor: User, contract_id: int, reason: str) -> Contract:
    contract = selectors.access_contract_by_id(actor, contract_id, "change")
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise Conflict(_("Contract %(number)s is already %(status)s.")
                       % {"number": contract.number, "status": contract.get_status_display().lower()})
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the contract ends early.")]})
    before = contract.status
    contract.status = ContractStatus.TERMINATED
    touch(contract)
    contract.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contract,
                 changes={"status": [before, contract.status], "reason": [None, reason.strip()[:300]]})
    return contract


@transaction.atomic
def contract_renew(*, actor: User, contract_id: int, end_date: datetime.date | None = None,
                   value=None) -> Contract:
    """The next term as a new draft contract starting the day after this one ends; this one
    is marked renewed."""
    contract = selectors.access_contract_by_id(actor, contract_id, "change")
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.EXPIRED):
        raise Conflict(_("Contract %(number)s is %(status)s; only active or expired contracts are renewed.")
                       % {"number": contract.number, "status": contract.get_status_display().lower()})
    start = contract.end_date + datetime.timedelta(days=1)
    term = contract.end_date - contract.start_date
    new_end = end_date or start + term
    if new_end < start:
        raise ValidationError({"end_date": [_("The renewal cannot end before it starts (%(start)s).")
                                            % {"start": start.isoformat()}]})
    renewal = Contract(number=next_number("CT"), title=contract.title, account=contract.account,
                       contact=contract.contact, opportunity=contract.renewal_opportunities.order_by("-id").first()
                       or contract.opportunity, value=contract.value if value is None else value,
                       currency=contract.currency, start_date=start, end_date=new_end,
                       auto_renew=contract.auto_renew, renewal_notice_days=contract.renewal_notice_days,
                       terms=contract.terms, renewed_from=contract, owner=contract.owner, team_id=contract.team_id,
                       territory_id=contract.territory_id)
    errors: dict[str, list[str]] = {}
    full_clean_into(renewal, errors, exclude=["owner", "team", "territory", "account", "contact", "order",
                                              "opportunity", "renewed_from"])
    raise_if(errors)
    renewal.save()
    before = contract.status
    contract.status = ContractStatus.RENEWED
    touch(contract)
    contract.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=renewal, changes={"renews": [None, contract.number]})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contract, changes={"status": [before, contract.status]})
    return renewal


def _renewal_reminder(contract: Contract, opportunity: Opportunity | None) -> None:
    from guanxi.sales.services.activities import activity_create

    if not contract.owner_id:
        return
    activity_create(actor=None, data={
        "kind": ActivityKind.TASK, "subject": _("Renew contract %(number)s") % {"number": contract.number},
        "description": _("The contract ends on %(date)s.") % {"date": contract.end_date.isoformat()},
        "start_at": timezone.now() + datetime.timedelta(hours=1), "priority": ActivityPriority.HIGH,
        "owner_id": contract.owner_id, "account_id": contract.account_id, "contact_id": contract.contact_id,
        "opportunity_id": opportunity.pk if opportunity else None, "contract_id": contract.pk,
        "reminder_at": timezone.now()})


def contract_open_renewal(contract: Contract) -> Opportunity | None:
    """The renewal opportunity of a contract coming up for renewal, opened once."""
    from guanxi.sales.services.opportunities import default_pipeline, opportunity_create

    existing = contract.renewal_opportunities.filter(is_closed=False).first()
    if existing is not None:
        return existing
    pipeline = contract.opportunity.pipeline if contract.opportunity_id else default_pipeline()
    if pipeline is None:
        return None
    first_stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id").first()
    data = {"name": _("Renewal: %(title)s") % {"title": contract.title}, "account_id": contract.account_id,
            "contact_id": contract.contact_id, "amount": contract.value, "currency": contract.currency,
            "close_date": contract.end_date, "pipeline_id": pipeline.pk,
            "stage_id": first_stage.pk if first_stage else None,
            "next_step": _("Agree the renewal before %(date)s") % {"date": contract.end_date.isoformat()}}
    if contract.owner_id:
        data["owner_id"] = contract.owner_id
    opportunity = opportunity_create(actor=None, data=data)
    Opportunity.objects.filter(pk=opportunity.pk).update(renewal_of=contract, territory_id=contract.territory_id)
    return opportunity


def contracts_process_renewals(*, today: datetime.date | None = None) -> dict:
    """The daily contract run: for contracts whose notice period has begun, remind the
    owner (a high-priority task) and, for contracts that renew automatically, open the
    renewal opportunity; expire contracts past their end date. Idempotent: a contract is
    reminded once per end date."""
    today = today or timezone.localdate()
    opened = expired = 0
    due = [contract for contract in Contract.objects.filter(status=ContractStatus.ACTIVE,
                                                            renewal_reminded_at__isnull=True,
                                                            end_date__gte=today).select_related("opportunity")
           if contract.renewal_due_on <= today]
    for contract in due:
        with transaction.atomic():
            locked = Contract.objects.select_for_update().get(pk=contract.pk)
            if locked.renewal_reminded_at is not None:
                continue
            opportunity = contract_open_renewal(locked) if locked.auto_renew else None
            opened += int(opportunity is not None)
            _renewal_reminder(locked, opportunity)
            locked.renewal_reminded_at = timezone.now()
            locked.save(update_fields=["renewal_reminded_at"])
            audit_record(actor=None, action=AuditAction.UPDATE, obj=locked,
                         changes={"renewal_reminded_at": [None, locked.renewal_reminded_at]})
    for contract in Contract.objects.filter(status=ContractStatus.ACTIVE, end_date__lt=today):
        with transaction.atomic():
            Contract.objects.filter(pk=contract.pk, status=ContractStatus.ACTIVE).update(status=ContractStatus.EXPIRED)
            audit_record(actor=None, action=AuditAction.UPDATE, obj=contract,
                         changes={"status": [ContractStatus.ACTIVE, ContractStatus.EXPIRED]})
            expired += 1
    return {"renewals_opened": opened, "expired": expired}
