"""Service contracts and their entitlements: what a customer is covered for, how much of it
is left, and time logged against hour-based entitlements."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
    CaseCategory, Entitlement, EntitlementStatus, EntitlementUnit, EntitlementUsage, ServiceContract, SlaPolicy,
)
from guanxi.service.services.cases import next_number

CONTRACT_FIELDS = ("name", "starts_on", "ends_on", "sales_contract_ref", "notes")


def _entitlements(contract: ServiceContract, items: list[dict], errors: dict) -> list[Entitlement]:
    rows = []
    for index, item in enumerate(items):
        entitlement = Entitlement(contract=contract, name=(item.get("name") or "").strip(),
                                  unit=item.get("unit", EntitlementUnit.INCIDENTS),
                                  categories=item.get("categories") or [], products=item.get("products") or [])
        try:
            entitlement.quantity = Decimal(str(item.get("quantity")))
            if entitlement.quantity <= 0:
                raise InvalidOperation
        except (InvalidOperation, TypeError, ValueError):
            errors.setdefault(f"entitlements.{index}.quantity", []).append(_("Give a positive number."))
            entitlement.quantity = Decimal("0")
        if any(category not in CaseCategory.values for category in entitlement.categories):
            errors.setdefault(f"entitlements.{index}.categories", []).append(
                _("Choose categories from: %(choices)s.") % {"choices": ", ".join(CaseCategory.values)})
        try:
            entitlement.full_clean(exclude=["contract", "categories", "products"])
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(f"entitlements.{index}.{field}", []).extend(messages)
        rows.append(entitlement)
    return rows


def _apply(actor: User, contract: ServiceContract, data: dict, creating: bool) -> tuple[dict, list[Entitlement]]:
    errors: dict[str, list[str]] = {}
    for field in CONTRACT_FIELDS:
        if field in data and data[field] is not None:
            setattr(contract, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "account_id" in data or creating:
        try:
            contract.account = core_selectors.visible_accounts(actor).get(pk=data.get("account_id"))
        except Exception:
            errors["account_id"] = [_("Unknown account.")]
    if data.get("contact_id"):
        contact = core_selectors.visible_contacts(actor).filter(pk=data["contact_id"]).first()
        if contact is None or (contract.account_id and contact.account_id != contract.account_id):
            errors["contact_id"] = [_("Unknown contact of this account.")]
        else:
            contract.contact = contact
    if "sla_policy_id" in data:
        contract.sla_policy = SlaPolicy.objects.filter(pk=data["sla_policy_id"]).first() if data["sla_policy_id"] \
            else None
        if data["sla_policy_id"] and contract.sla_policy is None:
            errors["sla_policy_id"] = [_("Unknown SLA policy.")]
    if contract.starts_on and contract.ends_on and contract.ends_on < contract.starts_on:
        errors["ends_on"] = [_("The contract must end on or after its first day.")]
    try:
        contract.full_clean(exclude=["number", "account", "contact", "sla_policy", "version"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    rows = _entitlements(contract, data.get("entitlements") or [], errors)
    return errors, rows


@transaction.atomic
def contract_create(*, actor: User, data: dict) -> ServiceContract:
    if scope_for(actor, "service_contract", "create") == "none":
        raise PermissionDenied(_("You may not create service contracts."))
    contract = ServiceContract()
    errors, rows = _apply(actor, contract, data, creating=True)
    if errors:
        raise ValidationError(errors)
    contract.number = next_number("SC")
    contract.save()
    for row in rows:
        row.contract = contract
        row.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=contract, changes=diff({}, {
        "number": contract.number, "account_id": contract.account_id, "ends_on": contract.ends_on}))
    return contract


@transaction.atomic
def contract_update(*, actor: User, contract_id: int, data: dict, expected_version: int | None = None
                    ) -> ServiceContract:
    """Change dates, terms and SLA; ``entitlements`` given adds entitlements (existing ones,
    with their usage, stay)."""
    contract = selectors.access_contract_by_id(actor, contract_id, "change")
    contract = ServiceContract.objects.select_for_update().get(pk=contract.pk)
    if expected_version is not None and contract.version != expected_version:
        raise Conflict(_("This contract was changed by someone else; reload and try again."))
    before = {field: getattr(contract, field) for field in CONTRACT_FIELDS + ("sla_policy_id",)}
    errors, rows = _apply(actor, contract, data, creating=False)
    if errors:
        raise ValidationError(errors)
    contract.version = F("version") + 1
    contract.save()
    contract.refresh_from_db()
    for row in rows:
        row.contract = contract
        row.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contract, changes=diff(
        before, {field: getattr(contract, field) for field in CONTRACT_FIELDS + ("sla_policy_id",)}))
    return contract


@transaction.atomic
def contract_delete(*, actor: User, contract_id: int) -> None:
    contract = selectors.access_contract_by_id(actor, contract_id, "delete")
    if contract.cases.exists():
        raise ValidationError({"__all__": [_("Cases were charged to this contract; end it instead.")]})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=contract, changes={"number": [contract.number, None]})
    contract.delete()


@transaction.atomic
def case_log_time(*, actor: User, case_id: int, hours, note: str = "") -> EntitlementUsage:
    """Charge working hours on a case to its hour-based entitlement; more than is left is
    refused (the contract needs topping up first)."""
    case = selectors.access_case_by_id(actor, case_id, "change")
    try:
        amount = Decimal(str(hours))
        if amount <= 0 or amount.as_tuple().exponent < -2:
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"hours": [_("Give a positive number of hours, e.g. 1.5.")]}) from None
    if case.entitlement_id is None or case.entitlement.unit != EntitlementUnit.HOURS:
        raise ValidationError({"hours": [_("The case is not covered by an hour-based entitlement.")]})
    entitlement = Entitlement.objects.select_for_update().get(pk=case.entitlement_id)
    if amount > entitlement.remaining:
        raise ValidationError({"hours": [_("Only %(left)s hours are left on “%(name)s”.") % {
            "left": entitlement.remaining, "name": entitlement.name}]})
    Entitlement.objects.filter(pk=entitlement.pk).update(used=F("used") + amount)
    usage = EntitlementUsage.objects.create(entitlement=entitlement, case=case, quantity=amount, note=note[:200],
                                            actor=actor, at=timezone.now())
    audit_record(actor=actor, action=AuditAction.CREATE, obj=usage, changes={"hours": [None, str(amount)],
                                                                             "case": [None, case.number]})
    return usage


def entitlement_check(*, actor: User, account_id: int, category: str = CaseCategory.OTHER, product: str = ""
                      ) -> dict:
    """What a new case for this customer would find: covered, expired, used up… (no write)."""
    from guanxi.service.models import Case
    from guanxi.service.services.cases import check_entitlement

    try:
        account = core_selectors.access_account_by_id(actor, account_id)
    except NotFound:
        raise ValidationError({"account_id": [_("Unknown account.")]}) from None
    probe = Case(account=account, category=category, product=product)
    check_entitlement(probe, timezone.localdate())
    return {"status": probe.entitlement_status or EntitlementStatus.NO_CONTRACT,
            "status_label": str(EntitlementStatus(probe.entitlement_status or "no_contract").label),
            "contract_id": probe.service_contract_id, "entitlement_id": probe.entitlement_id,
            "remaining": str(probe.entitlement.remaining) if probe.entitlement else None,
            "unit": probe.entitlement.unit if probe.entitlement else None}
