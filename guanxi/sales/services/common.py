"""Pieces every sales service shares: field errors, optimistic locking, document numbers,
money in the base currency, and who a record is placed with (owner, team, territory)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import Territory, User, Visibility
from guanxi.sales.models import DocumentSequence, ExchangeRate

CENT = Decimal("0.01")


def base_currency() -> str:
    return getattr(settings, "GUANXI_BASE_CURRENCY", "CNY")


def money(value) -> Decimal:
    """Round to cents, half up, as invoices do."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_base(amount: Decimal, currency: str) -> Decimal:
    """``amount`` in the base currency at the stored rate."""
    if currency == base_currency():
        return money(amount)
    rate = ExchangeRate.objects.filter(currency=currency).values_list("rate_to_base", flat=True).first()
    if rate is None:
        raise ValidationError({"currency": [_("There is no exchange rate for %(currency)s; an administrator "
                                              "sets one under Sales settings.") % {"currency": currency}]})
    return money(Decimal(amount) * rate)


def snapshot(instance, fields) -> dict[str, Any]:
    return {field: getattr(instance, field) for field in fields}


def merge_errors(errors: dict[str, list[str]], error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    else:
        errors.setdefault("__all__", []).extend(error.messages)


def full_clean_into(instance, errors: dict[str, list[str]], exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude or [], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        merge_errors(errors, error)


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def check_version(instance, expected_version: int | None) -> None:
    if expected_version is not None and instance.version != expected_version:
        raise Conflict(_("This record was changed by someone else (version %(current)d, you edited %(yours)d). "
                         "Reload and try again.") % {"current": instance.version, "yours": expected_version})


def touch(instance) -> None:
    """Mark a change: a new version and a new change time (saved by the caller)."""
    instance.version = (instance.version or 0) + 1
    instance.updated_at = timezone.now()


def require(actor: User, object_name: str, action: str, message: str) -> str:
    scope = scope_for(actor, object_name, action)
    if scope == Visibility.NONE:
        raise PermissionDenied(message)
    return scope


def next_number(prefix: str) -> str:
    """``Q-2026-00042``: per kind and year, gap-free within a committed transaction."""
    year = timezone.localdate().year
    key = f"{prefix}-{year}"
    sequence, _created = DocumentSequence.objects.select_for_update().get_or_create(key=key)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"{key}-{sequence.last_value:05d}"


def _may_place_with(actor: User, object_name: str, owner: User) -> bool:
    """May ``actor`` hand a record of ``object_name`` to ``owner``? The "all" scope may give
    it to anybody; a team scope to the actor's teams; a territory scope within the actor's
    territories; everybody to themselves."""
    if owner.pk == actor.pk:
        return True
    scope = scope_for(actor, object_name, "change")
    if scope == Visibility.ALL:
        return True
    if scope == Visibility.TEAM:
        team_ids = {actor.team_id} | set(actor.managed_teams.values_list("id", flat=True))
        return owner.team_id is not None and owner.team_id in team_ids
    if scope == Visibility.TERRITORY:
        return owner.territory_id in core_selectors.territory_ids_under(actor.territory_id)
    return False


def place(record, *, actor: User | None, object_name: str, data: dict, errors: dict[str, list[str]],
          default_owner: User | None = None) -> None:
    """Owner, team and territory of a new or moved record.

    Without ``owner_id`` a new record belongs to ``default_owner`` (the actor unless told
    otherwise); the team follows the owner, and the territory the owner's unless given.
    """
    if "owner_id" in data and data["owner_id"] != record.owner_id:
        owner = User.objects.filter(pk=data["owner_id"], is_active=True).first() if data["owner_id"] else None
        if data["owner_id"] and owner is None:
            errors.setdefault("owner_id", []).append(_("Unknown user."))
            return
        if owner is not None and actor is not None and not _may_place_with(actor, object_name, owner):
            errors.setdefault("owner_id", []).append(_("You may not give this record to %(user)s.")
                                                     % {"user": owner})
            return
        record.owner = owner
        record.team_id = owner.team_id if owner else None
        if owner is not None and "territory_id" not in data and owner.territory_id:
            record.territory_id = owner.territory_id
    elif record.pk is None and record.owner_id is None:
        owner = default_owner if default_owner is not None else actor
        if owner is not None:
            record.owner = owner
            record.team_id = owner.team_id
    if "territory_id" in data:
        if data["territory_id"] and not Territory.objects.filter(pk=data["territory_id"]).exists():
            errors.setdefault("territory_id", []).append(_("Unknown territory."))
        else:
            record.territory_id = data["territory_id"] or None
    elif record.pk is None and record.territory_id is None and record.owner_id:
        record.territory_id = record.owner.territory_id


def visible_account_or_error(actor: User | None, account_id, errors: dict, key: str = "account_id"):
    if not account_id:
        return None
    try:
        accounts = core_selectors.visible_accounts(actor) if actor is not None else \
            core_selectors.Account.objects.all()
        account = accounts.filter(pk=account_id).first()
    except (PermissionDenied, ValueError, TypeError):
        account = None
    if account is None:
        errors.setdefault(key, []).append(_("Unknown account."))
    return account


def visible_contact_or_error(actor: User | None, contact_id, errors: dict, key: str = "contact_id"):
    if not contact_id:
        return None
    try:
        contacts = core_selectors.visible_contacts(actor) if actor is not None else \
            core_selectors.Contact.objects.all()
        contact = contacts.filter(pk=contact_id).first()
    except (PermissionDenied, ValueError, TypeError):
        contact = None
    if contact is None:
        errors.setdefault(key, []).append(_("Unknown contact."))
    return contact
