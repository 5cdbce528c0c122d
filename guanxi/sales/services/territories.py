"""Territories on the sales side: named accounts, reassignment of open leads and
opportunities (logged), and quotas."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import NotFound
from guanxi.core.models import Account, AuditAction, Territory, User
from guanxi.sales import selectors
from guanxi.sales.models import Lead, NamedAccount, Opportunity, Quota, TerritoryReassignment
from guanxi.sales.services.common import full_clean_into, raise_if, require, snapshot


@transaction.atomic
def named_account_set(*, actor: User, territory_id: int, account_id: int) -> NamedAccount:
    """Make ``account`` a named account of the territory (moving it from another one)."""
    require(actor, "territory", "change", _("You may not change territories."))
    errors: dict[str, list[str]] = {}
    territory = Territory.objects.filter(pk=territory_id).first()
    if territory is None:
        raise NotFound(f"territory {territory_id}")
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        errors["account_id"] = [_("Unknown account.")]
    raise_if(errors)
    named, _created = NamedAccount.objects.update_or_create(account=account, defaults={"territory": territory})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=named, changes={"territory_id": [None, territory.pk]})
    return named


@transaction.atomic
def named_account_remove(*, actor: User, territory_id: int, account_id: int) -> None:
    require(actor, "territory", "change", _("You may not change territories."))
    named = NamedAccount.objects.filter(territory_id=territory_id, account_id=account_id).first()
    if named is None:
        raise NotFound(f"named account {account_id}")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=named, changes={"territory_id": [territory_id, None]})
    named.delete()


@transaction.atomic
def territory_reassign(*, actor: User, from_territory_id: int | None = None, to_territory_id: int | None = None,
                       from_owner_id: int | None = None, to_owner_id: int | None = None,
                       reason: str = "") -> TerritoryReassignment:
    """Move the open leads and opportunities of a territory (and/or of one owner) to another
    territory and/or owner, in one logged step. Closed deals and converted leads stay where
    they were: their history belongs to who did the work."""
    require(actor, "territory", "change", _("You may not reassign territories."))
    errors: dict[str, list[str]] = {}
    territories = {territory.pk: territory for territory in Territory.objects.filter(
        pk__in=[pk for pk in (from_territory_id, to_territory_id) if pk])}
    users = {user.pk: user for user in User.objects.filter(
        pk__in=[pk for pk in (from_owner_id, to_owner_id) if pk])}
    if from_territory_id and from_territory_id not in territories:
        errors["from_territory_id"] = [_("Unknown territory.")]
    if to_territory_id and to_territory_id not in territories:
        errors["to_territory_id"] = [_("Unknown territory.")]
    if from_owner_id and from_owner_id not in users:
        errors["from_owner_id"] = [_("Unknown user.")]
    if to_owner_id and (to_owner_id not in users or not users[to_owner_id].is_active):
        errors["to_owner_id"] = [_("Unknown user.")]
    if not from_territory_id and not from_owner_id:
        errors["from_territory_id"] = [_("Say what to move: the records of a territory, of an owner, or both.")]
    if not to_territory_id and not to_owner_id:
        errors["to_territory_id"] = [_("Say where to move them: another territory, another owner, or both.")]
    if from_territory_id and from_territory_id == to_territory_id and (not to_owner_id or from_owner_id == to_owner_id):
        errors["to_territory_id"] = [_("The records are already there.")]
    raise_if(errors)
    leads = Lead.objects.filter(status__in=Lead.OPEN_STATUSES)
    opportunities = Opportunity.objects.filter(is_closed=False)
    if from_territory_id:
        leads, opportunities = leads.filter(territory_id=from_territory_id), \
            opportunities.filter(territory_id=from_territory_id)
    if from_owner_id:
        leads, opportunities = leads.filter(owner_id=from_owner_id), opportunities.filter(owner_id=from_owner_id)
    changes: dict = {"updated_at": timezone.now()}
    if to_territory_id:
        changes["territory_id"] = to_territory_id
    if to_owner_id:
        changes["owner_id"] = to_owner_id
        changes["team_id"] = users[to_owner_id].team_id
    lead_ids = list(leads.values_list("pk", flat=True))
    opportunity_ids = list(opportunities.values_list("pk", flat=True))
    Lead.objects.filter(pk__in=lead_ids).update(**changes)
    Opportunity.objects.filter(pk__in=opportunity_ids).update(**changes)
    log = TerritoryReassignment.objects.create(
        from_territory_id=from_territory_id, to_territory_id=to_territory_id, from_owner_id=from_owner_id,
        to_owner_id=to_owner_id, leads_moved=len(lead_ids), opportunities_moved=len(opportunity_ids),
        reason=(reason or "").strip()[:300], actor=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=log, changes={
        "from": [from_territory_id, to_territory_id], "owner": [from_owner_id, to_owner_id],
        "lead_ids": [None, lead_ids[:200]], "opportunity_ids": [None, opportunity_ids[:200]]})
    return log


# ======================================================================================
# Quotas
# ======================================================================================
QUOTA_FIELDS = ("user_id", "period", "period_start", "period_end", "amount", "currency")


def _quota_apply(quota: Quota, data: dict, actor: User, errors: dict) -> None:
    for field in QUOTA_FIELDS:
        if field in data and data[field] is not None:
            setattr(quota, field, data[field])
    if quota.user_id:
        if not selectors.quota_users(actor, "change" if quota.pk else "create").filter(pk=quota.user_id).exists():
            errors.setdefault("user_id", []).append(_("You may not set quotas for this user."))
    else:
        errors.setdefault("user_id", []).append(_("Choose the sales rep."))
    if quota.period_start and quota.period_end and quota.period_end < quota.period_start:
        errors.setdefault("period_end", []).append(_("The period cannot end before it starts."))
    if quota.amount is not None and Decimal(quota.amount) < 0:
        errors.setdefault("amount", []).append(_("A target cannot be negative."))
    full_clean_into(quota, errors, exclude=["user"])
    if quota.user_id and quota.period_start and quota.period_end and Quota.objects.filter(
            user_id=quota.user_id, period_start=quota.period_start, period_end=quota.period_end).exclude(
            pk=quota.pk).exists():
        errors.setdefault("period_start", []).append(_("This rep already has a quota for this period."))


@transaction.atomic
def quota_create(*, actor: User, data: dict) -> Quota:
    require(actor, "quota", "create", _("You may not set quotas."))
    quota = Quota()
    errors: dict[str, list[str]] = {}
    _quota_apply(quota, data, actor, errors)
    raise_if(errors)
    quota.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=quota, changes=diff({}, snapshot(quota, QUOTA_FIELDS)))
    return quota


@transaction.atomic
def quota_update(*, actor: User, quota_id: int, data: dict) -> Quota:
    quota = selectors.access_quota_by_id(actor, quota_id, "change")
    quota = Quota.objects.select_for_update().get(pk=quota.pk)
    before = snapshot(quota, QUOTA_FIELDS)
    errors: dict[str, list[str]] = {}
    _quota_apply(quota, data, actor, errors)
    raise_if(errors)
    quota.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quota, changes=diff(before, snapshot(quota, QUOTA_FIELDS)))
    return quota


@transaction.atomic
def quota_delete(*, actor: User, quota_id: int) -> None:
    quota = selectors.access_quota_by_id(actor, quota_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=quota, changes={"amount": [quota.amount, None]})
    quota.delete()
