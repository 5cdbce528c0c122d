"""Leads: capture (manual, web form, import), scoring, assignment, qualification and the
one-step conversion to account + contact + opportunity."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import services as core_services
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import Account, AuditAction, Contact, User
from guanxi.core.normalize import PhoneError, display_name, normalize_email, normalize_phone
from guanxi.sales import selectors
from guanxi.sales.assignment import choose_owner
from guanxi.sales.models import (
    Activity, ActivityStatus, DisqualifyReason, Lead, LeadBehaviour, LeadBehaviourKind, LeadScoringRule, LeadSource,
    LeadStatus, Opportunity, ScoringRuleKind,
)
from guanxi.sales.scoring import score_lead
from guanxi.sales.services.common import (
    check_version, full_clean_into, merge_errors, place, raise_if, require, snapshot, touch,
)

LEAD_FIELDS = ("family_name", "given_name", "full_name", "company", "job_title", "email", "phone", "industry",
               "country", "province", "city", "postcode", "source", "campaign_id", "campaign_name", "external_id",
               "estimated_amount", "currency", "description")
TRACKED = LEAD_FIELDS + ("status", "score", "owner_id", "territory_id", "disqualify_reason", "status_note")
SOURCE_CHANNELS = {LeadSource.WEB_FORM: "web", LeadSource.PHONE: "phone", LeadSource.EVENT: "visit"}


# ======================================================================================
# Capture and edit
# ======================================================================================
def _lead_apply(lead: Lead, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in LEAD_FIELDS:
        if field in data:
            value = data[field]
            if isinstance(value, str):
                value = value.strip()
            if field == "external_id" and value == "":
                value = None
            if field in ("phone", "email") and value is None:
                value = ""
            setattr(lead, field, value)
    if "full_name" not in data and ({"family_name", "given_name"} & data.keys()):
        lead.full_name = display_name(lead.family_name, lead.given_name)
    if not lead.full_name:
        lead.full_name = display_name(lead.family_name, lead.given_name)
    if not lead.full_name:
        errors["full_name"] = [_("Enter a name (family name, given name or full name).")]
    if "phone" in data and lead.phone:
        try:
            lead.phone = normalize_phone(lead.phone)
        except PhoneError as error:
            errors["phone"] = [str(error)]
    if "email" in data and lead.email:
        try:
            lead.email = normalize_email(lead.email)
        except ValidationError as error:
            errors["email"] = list(error.messages)
    if not lead.phone and not lead.email and "phone" not in errors and "email" not in errors:
        errors["email"] = [_("Give an email address or a phone number, so the lead can be reached.")]
    full_clean_into(lead, errors, exclude=["owner", "team", "territory", "converted_account", "converted_contact",
                                           "converted_opportunity", "phone", "email"])
    return errors


def _save_unique(lead: Lead) -> None:
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as error:
        raise ValidationError({"external_id": [_("A lead with this external ID already exists.")]}) from error


@transaction.atomic
def lead_create(*, actor: User | None, data: dict, auto_assign: bool = False,
                ip_address: str | None = None) -> Lead:
    """Record a new lead. ``actor`` None is the public web form, whose leads are always
    assigned by the territory and round-robin rules; staff get the lead themselves unless
    they name an owner or ask for ``auto_assign``."""
    if actor is not None:
        require(actor, "lead", "create", _("You may not create leads."))
    lead = Lead(status=LeadStatus.NEW, submitted_ip=ip_address if actor is None else None)
    errors = _lead_apply(lead, data)
    if actor is None or auto_assign:
        owner, territory = choose_owner(lead)
        lead.owner, lead.team_id = owner, (owner.team_id if owner else None)
        lead.territory = territory or (owner.territory if owner else None)
    else:
        place(lead, actor=actor, object_name="lead", data=data, errors=errors)
    raise_if(errors)
    lead.score = score_lead(lead)
    _save_unique(lead)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=lead, ip_address=ip_address,
                 changes=diff({}, snapshot(lead, TRACKED)))
    send_on_commit(record_changed, Lead, instance=lead, action="create", actor=actor)
    return lead


def _locked_lead(actor: User, lead_id: int, action: str = "change") -> Lead:
    lead = selectors.access_lead_by_id(actor, lead_id, action)
    return Lead.objects.select_for_update().get(pk=lead.pk)


def _refuse_if_converted(lead: Lead) -> None:
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("This lead was converted on %(date)s; work on its account, contact and opportunity "
                         "instead.") % {"date": timezone.localtime(lead.converted_at).strftime("%Y-%m-%d %H:%M")})


@transaction.atomic
def lead_update(*, actor: User, lead_id: int, data: dict, expected_version: int | None = None,
                ip_address: str | None = None) -> Lead:
    lead = _locked_lead(actor, lead_id)
    check_version(lead, expected_version)
    _refuse_if_converted(lead)
    before = snapshot(lead, TRACKED)
    errors = _lead_apply(lead, data)
    if "status" in data and data["status"] != lead.status:
        if data["status"] not in (LeadStatus.NEW, LeadStatus.WORKING):
            errors.setdefault("status", []).append(
                _("Use qualify, disqualify or convert for that; here a lead can only go back to new or working."))
        else:
            lead.status = data["status"]
            lead.disqualify_reason = ""
    place(lead, actor=actor, object_name="lead", data=data, errors=errors)
    raise_if(errors)
    lead.score = score_lead(lead)
    touch(lead)
    _save_unique(lead)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=lead, ip_address=ip_address,
                 changes=diff(before, snapshot(lead, TRACKED)))
    send_on_commit(record_changed, Lead, instance=lead, action="update", actor=actor)
    return lead


@transaction.atomic
def lead_delete(*, actor: User, lead_id: int, ip_address: str | None = None) -> None:
    lead = _locked_lead(actor, lead_id, "delete")
    _refuse_if_converted(lead)
    audit_record(actor=actor, action=AuditAction.DELETE, obj=lead, ip_address=ip_address,
                 changes={"full_name": [lead.full_name, None]})
    lead.delete()
    send_on_commit(record_changed, Lead, instance=lead, action="delete", actor=actor)


@transaction.atomic
def lead_assign(*, actor: User, lead_id: int) -> Lead:
    """Hand the lead on by the assignment rules (territory, then round-robin)."""
    lead = _locked_lead(actor, lead_id)
    _refuse_if_converted(lead)
    before = snapshot(lead, ("owner_id", "team_id", "territory_id"))
    owner, territory = choose_owner(lead)
    if owner is None:
        raise Conflict(_("No active sales rep can take this lead."))
    lead.owner, lead.team_id = owner, owner.team_id
    lead.territory = territory or owner.territory
    touch(lead)
    lead.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=lead,
                 changes=diff(before, snapshot(lead, ("owner_id", "team_id", "territory_id"))))
    return lead


# ======================================================================================
# Qualification
# ======================================================================================
@transaction.atomic
def lead_qualify(*, actor: User, lead_id: int, note: str = "") -> Lead:
    lead = _locked_lead(actor, lead_id)
    _refuse_if_converted(lead)
    if lead.status == LeadStatus.QUALIFIED:
        return lead
    before = snapshot(lead, ("status", "disqualify_reason", "status_note"))
    lead.status, lead.disqualify_reason, lead.status_note = LeadStatus.QUALIFIED, "", (note or "").strip()[:500]
    touch(lead)
    lead.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=lead,
                 changes=diff(before, snapshot(lead, ("status", "disqualify_reason", "status_note"))))
    return lead


@transaction.atomic
def lead_disqualify(*, actor: User, lead_id: int, reason: str, note: str = "") -> Lead:
    lead = _locked_lead(actor, lead_id)
    _refuse_if_converted(lead)
    if reason not in DisqualifyReason.values:
        raise ValidationError({"reason": [_("Choose why the lead is disqualified.")]})
    if reason == DisqualifyReason.OTHER and not (note or "").strip():
        raise ValidationError({"note": [_("Say why, when the reason is “other”.")]})
    before = snapshot(lead, ("status", "disqualify_reason", "status_note"))
    lead.status, lead.disqualify_reason, lead.status_note = LeadStatus.DISQUALIFIED, reason, (note or "").strip()[:500]
    touch(lead)
    lead.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=lead,
                 changes=diff(before, snapshot(lead, ("status", "disqualify_reason", "status_note"))))
    return lead


# ======================================================================================
# Behaviour and scoring
# ======================================================================================
@transaction.atomic
def lead_behaviour_record(*, actor: User | None, lead_id: int, kind: str, detail: str = "",
                          occurred_at: datetime.datetime | None = None) -> LeadBehaviour:
    """Something the lead did; the score is recomputed. ``actor`` None is for tracking
    sources (email opens, page views) that authenticate on their own."""
    if actor is not None:
        lead = selectors.access_lead_by_id(actor, lead_id, "change")
    else:
        lead = Lead.objects.filter(pk=lead_id).first()
        if lead is None:
            raise ValidationError({"lead_id": [_("Unknown lead.")]})
    if kind not in LeadBehaviourKind.values:
        raise ValidationError({"kind": [_("Unknown kind of behaviour.")]})
    behaviour = LeadBehaviour.objects.create(lead=lead, kind=kind, detail=(detail or "")[:300],
                                             occurred_at=occurred_at or timezone.now())
    new_score = score_lead(lead)
    if new_score != lead.score:
        Lead.objects.filter(pk=lead.pk).update(score=new_score)
    return behaviour


def leads_rescore(*, lead_ids: list[int] | None = None, progress=None) -> int:
    """Recompute the score of open leads (all of them, or ``lead_ids``); returns how many
    changed. Runs as a job after the rules change."""
    rules = list(LeadScoringRule.objects.filter(is_active=True))
    queryset = Lead.objects.filter(status__in=Lead.OPEN_STATUSES).order_by("id")
    if lead_ids is not None:
        queryset = queryset.filter(pk__in=lead_ids)
    total = queryset.count()
    if progress is not None:
        progress.set_total(total)
    changed = 0
    done = 0
    for lead in queryset.iterator(chunk_size=500):
        score = score_lead(lead, rules)
        if score != lead.score:
            Lead.objects.filter(pk=lead.pk).update(score=score)
            changed += 1
        done += 1
        if progress is not None:
            progress.advance(1)
    return changed


RULE_FIELDS = ("name", "kind", "field_name", "operator", "value", "behaviour_kind", "min_count", "within_days",
               "points", "is_active", "position")


def _rule_apply(rule: LeadScoringRule, data: dict) -> None:
    errors: dict[str, list[str]] = {}
    for field in RULE_FIELDS:
        if field in data and data[field] is not None:
            setattr(rule, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if rule.kind == ScoringRuleKind.FIELD:
        if not rule.field_name:
            errors["field_name"] = [_("A field rule names the lead field it looks at.")]
        rule.behaviour_kind = ""
    else:
        if not rule.behaviour_kind:
            errors["behaviour_kind"] = [_("A behaviour rule names the behaviour it counts.")]
        rule.field_name = ""
    full_clean_into(rule, errors)
    raise_if(errors)


def _rescore_later(actor: User) -> None:
    from guanxi.jobs.services import job_enqueue

    transaction.on_commit(lambda: job_enqueue(actor=None, kind="sales.rescore_leads", title=_("Rescore open leads")))


@transaction.atomic
def scoring_rule_create(*, actor: User, data: dict) -> LeadScoringRule:
    require(actor, "sales_setup", "create", _("You may not change sales settings."))
    rule = LeadScoringRule()
    _rule_apply(rule, data)
    rule.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=rule, changes=diff({}, snapshot(rule, RULE_FIELDS)))
    _rescore_later(actor)
    return rule


@transaction.atomic
def scoring_rule_update(*, actor: User, rule_id: int, data: dict) -> LeadScoringRule:
    require(actor, "sales_setup", "change", _("You may not change sales settings."))
    rule = selectors.access_scoring_rule_by_id(actor, rule_id)
    before = snapshot(rule, RULE_FIELDS)
    _rule_apply(rule, data)
    rule.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=rule, changes=diff(before, snapshot(rule, RULE_FIELDS)))
    _rescore_later(actor)
    return rule


@transaction.atomic
def scoring_rule_delete(*, actor: User, rule_id: int) -> None:
    require(actor, "sales_setup", "delete", _("You may not change sales settings."))
    rule = selectors.access_scoring_rule_by_id(actor, rule_id)
    audit_record(actor=actor, action=AuditAction.DELETE, obj=rule, changes={"name": [rule.name, None]})
    rule.delete()
    _rescore_later(actor)


# ======================================================================================
# Conversion
# ======================================================================================
@dataclass
class Conversion:
    lead: Lead
    account: Account | None
    contact: Contact
    opportunity: Opportunity | None


def _prefixed(error: ValidationError, prefix: str) -> ValidationError:
    errors: dict[str, list[str]] = {}
    merge_errors(errors, error)
    return ValidationError({f"{prefix}.{field}" if field != "__all__" else prefix: messages
                            for field, messages in errors.items()})


@transaction.atomic
def lead_convert(*, actor: User, lead_id: int, account_id: int | None = None, contact_id: int | None = None,
                 create_opportunity: bool = True, opportunity: dict | None = None,
                 ignore_duplicates: bool = False, ip_address: str | None = None) -> Conversion:
    """Turn the lead into a customer in one step: an account (new, or the existing one
    named), a contact (new, or the existing one named) and an opportunity that keeps the
    lead's source campaign. Its activities follow it; the completed ones land on the
    customer's timeline. All of it or nothing: any error leaves the lead as it was."""
    from guanxi.sales.services.activities import activity_record_on_timeline
    from guanxi.sales.services.opportunities import opportunity_create

    lead = _locked_lead(actor, lead_id)
    _refuse_if_converted(lead)
    if lead.status == LeadStatus.DISQUALIFIED:
        raise Conflict(_("This lead is disqualified; set it back to working before converting it."))
    errors: dict[str, list[str]] = {}
    if not account_id and not contact_id and not ignore_duplicates:
        matches = selectors.lead_duplicates(actor, lead)
        if matches:
            described = "; ".join(f"{match.kind} “{match.name}” ({match.matched_on})" if match.visible else
                                  f"{match.kind} ({match.matched_on}, owned by someone else)" for match in matches)
            raise Conflict(_("This lead matches existing records: %(matches)s. Convert into one of them "
                             "(account_id / contact_id) or confirm that it is someone new "
                             "(ignore_duplicates).") % {"matches": described})
    from guanxi.sales.services.common import visible_account_or_error, visible_contact_or_error

    account = visible_account_or_error(actor, account_id, errors)
    contact = visible_contact_or_error(actor, contact_id, errors)
    raise_if(errors)
    placement = {"owner_id": lead.owner_id or actor.pk}
    if lead.territory_id:
        placement["territory_id"] = lead.territory_id
    if account is None and contact is not None and contact.account_id:
        account = contact.account
    if account is None and lead.company:
        address = {"kind": "work", "country": lead.country or "CN", "province": lead.province, "city": lead.city,
                   "postcode": lead.postcode, "is_primary": True}
        try:
            account = core_services.account_create(actor=actor, ip_address=ip_address, data={
                "name": lead.company, "industry": lead.industry, **placement,
                "addresses": [address] if (lead.province or lead.city or lead.postcode) else []})
        except ValidationError as error:
            raise _prefixed(error, "account") from None
    if contact is None:
        try:
            contact = core_services.contact_create(actor=actor, ip_address=ip_address, data={
                "family_name": lead.family_name, "given_name": lead.given_name, "full_name": lead.full_name,
                "job_title": lead.job_title, "phone": lead.phone, "email": lead.email, "industry": lead.industry,
                "account_id": account.pk if account else None, "consent_source": "lead conversion", **placement})
        except ValidationError as error:
            raise _prefixed(error, "contact") from None
    deal = None
    if create_opportunity:
        details = dict(opportunity or {})
        details.setdefault("name", f"{lead.company or lead.full_name}")
        if lead.estimated_amount is not None:
            details.setdefault("amount", lead.estimated_amount)
            details.setdefault("currency", lead.currency)
        details.setdefault("close_date", timezone.localdate() + datetime.timedelta(days=30))
        details.update({"account_id": account.pk if account else None, "contact_id": contact.pk,
                        "lead_id": lead.pk, "campaign_id": lead.campaign_id, "campaign_name": lead.campaign_name})
        details.setdefault("owner_id", placement["owner_id"])
        if "territory_id" in placement:
            details.setdefault("territory_id", placement["territory_id"])
        try:
            deal = opportunity_create(actor=actor, data=details, from_conversion=True)
        except ValidationError as error:
            raise _prefixed(error, "opportunity") from None

    before = snapshot(lead, ("status",))
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_account, lead.converted_contact, lead.converted_opportunity = account, contact, deal
    touch(lead)
    lead.save()
    # The lead's history follows it to the customer.
    activities = Activity.objects.filter(lead=lead)
    activities.filter(opportunity__isnull=True).update(opportunity=deal)
    activities.update(contact=contact, account=account)
    for activity in activities.filter(status=ActivityStatus.DONE, interaction_id__isnull=True):
        activity_record_on_timeline(activity)
    channel = SOURCE_CHANNELS.get(lead.source)
    if channel:
        from guanxi.interactions.services import interaction_record

        interaction_record(actor=None, check_access=False, data={
            "contact_id": contact.pk, "account_id": account.pk if account else None, "channel": channel,
            "direction": "in", "occurred_at": lead.created_at, "subject": _("Enquiry (lead)"),
            "reason": lead.campaign_name or lead.get_source_display(), "notes": lead.description,
            "agent_id": lead.owner_id, "source_type": "sales.lead", "source_id": str(lead.pk)})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=lead, ip_address=ip_address, changes={
        **diff(before, snapshot(lead, ("status",))),
        "converted_account_id": [None, account.pk if account else None],
        "converted_contact_id": [None, contact.pk], "converted_opportunity_id": [None, deal.pk if deal else None]})
    send_on_commit(record_changed, Lead, instance=lead, action="update", actor=actor)
    return Conversion(lead=lead, account=account, contact=contact, opportunity=deal)
