"""Writes of campaigns: create, change, delete, launch (validate, freeze the audience, start
sending), cancel, complete, and the call list of a phone campaign."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.models import AuditAction, Contact, User
from guanxi.marketing import mail_merge, selectors, sending
from guanxi.marketing.models import (
    AbTest, CallListEntry, CallListStatus, Campaign, CampaignChannel, CampaignRecipient, CampaignStatus,
    RecipientState, TemplateChannel,
)
from guanxi.marketing.services.common import check_version, full_clean_errors, raise_if, require_create, snapshot

CAMPAIGN_FIELDS = ("name", "description", "channel", "landing_url", "currency", "budget", "planned_cost",
                   "actual_cost", "expected_revenue", "scheduled_at", "ends_at")
REFERENCES = ("segment_id", "template_id", "event_id")
TRACKED = CAMPAIGN_FIELDS + REFERENCES + ("status", "owner_id")
# Once a campaign has left the draft, who it goes to and what it says stay as launched.
FROZEN_AFTER_LAUNCH = ("channel", "segment_id", "template_id")
TEMPLATE_CHANNEL = {CampaignChannel.EMAIL: TemplateChannel.EMAIL, CampaignChannel.SMS: TemplateChannel.SMS,
                    CampaignChannel.DIRECT_MAIL: TemplateChannel.LETTER, CampaignChannel.EVENT: TemplateChannel.EMAIL}
NEEDS_SEGMENT = (CampaignChannel.EMAIL, CampaignChannel.SMS, CampaignChannel.PHONE, CampaignChannel.DIRECT_MAIL)
NEEDS_TEMPLATE = (CampaignChannel.EMAIL, CampaignChannel.SMS, CampaignChannel.DIRECT_MAIL)
SENT_BY_JOB = (CampaignChannel.EMAIL, CampaignChannel.SMS, CampaignChannel.EVENT)
VALUE_TIER_PRIORITY = {"platinum": 1, "gold": 2, "silver": 3, "bronze": 4}


def _reference(actor: User, data: dict, key: str, errors: dict, access) -> object | None:
    if not data.get(key):
        return None
    try:
        return access(actor, data[key])
    except (NotFound, PermissionDenied):
        errors.setdefault(key, []).append(_("Unknown or inaccessible record."))
        return None


def _apply(actor: User, campaign: Campaign, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in CAMPAIGN_FIELDS:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(campaign, field, value.strip() if isinstance(value, str) else value)
    for field in ("scheduled_at", "ends_at"):
        if field in data and data[field] is None:
            setattr(campaign, field, None)
    if "segment_id" in data:
        segment = _reference(actor, data, "segment_id", errors, selectors.access_segment_by_id)
        campaign.segment = segment
    if "template_id" in data:
        template = _reference(actor, data, "template_id", errors, selectors.access_template_by_id)
        campaign.template = template
    if "event_id" in data:
        campaign.event = _reference(actor, data, "event_id", errors, selectors.access_event_by_id)
    wanted = TEMPLATE_CHANNEL.get(campaign.channel)
    if campaign.template_id and campaign.template.channel != wanted:
        errors.setdefault("template_id", []).append(
            _("A %(channel)s campaign needs a template for %(wanted)s.") % {
                "channel": campaign.get_channel_display(),
                "wanted": TemplateChannel(wanted).label if wanted else _("no message")})
    if campaign.channel == CampaignChannel.EVENT and "event_id" in data and not campaign.event_id:
        errors.setdefault("event_id", []).append(_("An event campaign promotes an event; choose one."))
    if campaign.ends_at and campaign.scheduled_at and campaign.ends_at < campaign.scheduled_at:
        errors.setdefault("ends_at", []).append(_("The end must not be before the start."))
    if len((campaign.currency or "").strip()) != 3:
        errors.setdefault("currency", []).append(_("Use a three-letter ISO 4217 code, e.g. CNY."))
    campaign.currency = (campaign.currency or "").upper()
    full_clean_errors(campaign, ["owner", "segment", "template", "event", "launched_by", "materials"], errors)
    return errors


def _set_materials(actor: User, campaign: Campaign, material_ids, errors: dict) -> None:
    if material_ids is None:
        return
    found = list(selectors.visible_materials(actor).filter(pk__in=material_ids))
    missing = sorted(set(material_ids) - {material.pk for material in found})
    if missing:
        errors.setdefault("material_ids", []).append(_("Unknown materials: %(ids)s.") % {
            "ids": ", ".join(map(str, missing))})
        return
    campaign.materials.set(found)


@transaction.atomic
def campaign_create(*, actor: User, data: dict) -> Campaign:
    require_create(actor, selectors.CAMPAIGN, _("You may not create campaigns."))
    campaign = Campaign(owner=actor)
    errors = _apply(actor, campaign, data)
    raise_if(errors)
    campaign.save()
    _set_materials(actor, campaign, data.get("material_ids"), errors)
    raise_if(errors)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=campaign, changes=diff({}, snapshot(campaign, TRACKED)))
    return campaign


@transaction.atomic
def campaign_update(*, actor: User, campaign_id: int, data: dict, expected_version: int | None = None) -> Campaign:
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("template", "segment", "event").get(pk=campaign.pk)
    check_version(campaign, expected_version)
    before = snapshot(campaign, TRACKED)
    if campaign.status != CampaignStatus.DRAFT:
        changed = [field for field in FROZEN_AFTER_LAUNCH if field in data and data[field] != before[field]]
        if changed:
            raise_if({field: [_("This cannot change after the launch.")] for field in changed})
    errors = _apply(actor, campaign, data)
    raise_if(errors)
    campaign.updated_at = timezone.now()
    campaign.version = F("version") + 1
    campaign.save()
    campaign.refresh_from_db()
    _set_materials(actor, campaign, data.get("material_ids"), errors)
    raise_if(errors)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign,
                 changes=diff(before, snapshot(campaign, TRACKED)))
    return campaign


@transaction.atomic
def campaign_delete(*, actor: User, campaign_id: int) -> None:
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "delete")
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
        raise Conflict(_("Only draft or cancelled campaigns can be deleted; its results are history."))
    if campaign.status == CampaignStatus.CANCELLED and campaign.recipients.exclude(
            state__in=[RecipientState.PENDING, RecipientState.HELD, RecipientState.SKIPPED]).exists():
        raise Conflict(_("Messages of this campaign were sent; it is kept as history."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=campaign, changes={"name": [campaign.name, None]})
    campaign.delete()


# ======================================================================================
# Launch
# ======================================================================================
def campaign_validate(campaign: Campaign) -> dict[str, list[str]]:
    """Everything that must hold before anything is sent; the answer names each problem.

    The template is checked in every branch for unknown fields, so a send never stops
    half-way on one; the segment's rules are compiled, so a removed custom field is named.
    """
    errors: dict[str, list[str]] = {}
    if campaign.channel in NEEDS_SEGMENT and not campaign.segment_id:
        errors["segment_id"] = [_("Choose the target segment.")]
    if campaign.channel in NEEDS_TEMPLATE and not campaign.template_id:
        errors["template_id"] = [_("Choose the message template.")]
    if campaign.channel == CampaignChannel.EVENT and not campaign.event_id:
        errors["event_id"] = [_("Choose the event the campaign promotes.")]
    if campaign.channel == CampaignChannel.WEB and not campaign.landing_url:
        errors["landing_url"] = [_("A web campaign needs the page it leads to.")]
    templates = [campaign.template] if campaign.template_id else []
    ab_test = AbTest.objects.filter(campaign=campaign).select_related("template_b").first()
    if ab_test is not None and ab_test.template_b_id:
        templates.append(ab_test.template_b)
    if ab_test is not None and campaign.channel != CampaignChannel.EMAIL:
        errors.setdefault("ab_test", []).append(_("A/B tests are for email campaigns."))
    for template in templates:
        parts = {name: getattr(template, name) for name in mail_merge.TEMPLATE_PARTS}
        if ab_test is not None and template is campaign.template and ab_test.subject_b:
            parts["subject_b"] = ab_test.subject_b
        try:
            mail_merge.check_template(parts, html=template.channel == TemplateChannel.EMAIL)
        except ValidationError as error:
            for part, messages in error.message_dict.items():
                errors.setdefault("template_id", []).extend(f"{template.name} ({part}): {message}"
                                                            for message in messages)
    if campaign.segment_id:
        try:
            sending.audience(campaign).exists()
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                errors.setdefault("segment_id", []).extend(
                    _("Segment “%(name)s”: %(message)s") % {"name": campaign.segment.name, "message": message}
                    for message in messages)
    return errors


def campaign_launch(*, actor: User, campaign_id: int) -> Campaign:
    """Validate, freeze the audience (one INSERT … SELECT) and start sending — now, or at the
    scheduled time. Raises ``ValidationError`` naming every problem; nothing is stored then."""
    with transaction.atomic():
        campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
        campaign = (Campaign.objects.select_for_update(of=("self",))
                    .select_related("segment", "template", "event").get(pk=campaign.pk))
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(_("Only a draft campaign can be launched; this one is %(status)s.")
                           % {"status": campaign.get_status_display()})
        raise_if(campaign_validate(campaign))
        now = timezone.now()
        frozen = sending.freeze_audience(campaign)
        if campaign.channel == CampaignChannel.PHONE:
            frozen = _build_call_list(campaign)
        campaign.audience_count, campaign.excluded_count = frozen
        campaign.launched_at, campaign.launched_by = now, actor
        later = campaign.scheduled_at and campaign.scheduled_at > now
        campaign.status = CampaignStatus.SCHEDULED if later else CampaignStatus.RUNNING
        campaign.version = F("version") + 1
        campaign.save()
        campaign.refresh_from_db()
        from guanxi.marketing.services.ab_tests import ab_test_assign

        ab_test_assign(campaign)
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign, changes={
            "status": [CampaignStatus.DRAFT, campaign.status], "audience_count": [None, campaign.audience_count],
            "excluded_count": [None, campaign.excluded_count]})
    if campaign.channel in SENT_BY_JOB and (campaign.channel != CampaignChannel.EVENT or campaign.template_id):
        job = sending.enqueue_send(campaign, actor=actor, run_at=campaign.scheduled_at if later else None)
        Campaign.objects.filter(pk=campaign.pk).update(send_job_id=job.pk)
        campaign.refresh_from_db()
    return campaign


def _build_call_list(campaign: Campaign) -> tuple[int, int]:
    """A phone campaign's audience becomes rows of a call list, best customers first."""
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign)
                      .values_list("contact_id", "address", "contact__value_tier"))
    CallListEntry.objects.bulk_create([
        CallListEntry(campaign=campaign, contact_id=contact_id, phone=phone,
                      priority=VALUE_TIER_PRIORITY.get(tier or "", 5))
        for contact_id, phone, tier in recipients], batch_size=1000)
    CampaignRecipient.objects.filter(campaign=campaign).update(state=RecipientState.SENT, sent_at=timezone.now())
    return len(recipients), campaign.excluded_count


@transaction.atomic
def campaign_cancel(*, actor: User, campaign_id: int) -> Campaign:
    """Stop a scheduled or running campaign; messages not yet handed off are never sent."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        raise Conflict(_("Only a draft, scheduled or running campaign can be cancelled."))
    before = campaign.status
    campaign.status = CampaignStatus.CANCELLED
    campaign.completed_at = timezone.now()
    campaign.version = F("version") + 1
    campaign.save()
    CampaignRecipient.objects.filter(campaign=campaign, state__in=[
        RecipientState.PENDING, RecipientState.RETRY, RecipientState.HELD]).update(
        state=RecipientState.SKIPPED, last_error=_("Campaign cancelled before sending."))
    CallListEntry.objects.filter(campaign=campaign, status=CallListStatus.PENDING).update(
        status=CallListStatus.REMOVED)
    campaign.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign, changes={"status": [before, campaign.status]})
    return campaign


@transaction.atomic
def campaign_complete(*, actor: User, campaign_id: int) -> Campaign:
    """Close a running campaign (a phone, mail, event or web campaign is closed by hand)."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.RUNNING:
        raise Conflict(_("Only a running campaign can be completed."))
    if campaign.recipients.filter(state__in=[RecipientState.PENDING, RecipientState.HANDED_OFF,
                                             RecipientState.RETRY, RecipientState.HELD]).exists() and \
            campaign.channel in SENT_BY_JOB:
        raise Conflict(_("Messages are still being sent; cancel the campaign to stop them."))
    campaign.status, campaign.completed_at = CampaignStatus.COMPLETED, timezone.now()
    campaign.version = F("version") + 1
    campaign.save()
    campaign.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign,
                 changes={"status": [CampaignStatus.RUNNING, CampaignStatus.COMPLETED]})
    return campaign


@transaction.atomic
def campaign_add_cost(*, actor: User, campaign_id: int, amount: Decimal, note: str = "") -> Campaign:
    """Book spending on the campaign (printing, venue, SMS fees…): raises the actual cost."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    if amount is None or Decimal(amount) <= 0:
        raise_if({"amount": [_("Enter an amount above zero.")]})
    before = campaign.actual_cost
    Campaign.objects.filter(pk=campaign.pk).update(actual_cost=F("actual_cost") + Decimal(amount),
                                                   version=F("version") + 1, updated_at=timezone.now())
    campaign.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign,
                 changes={"actual_cost": [before, campaign.actual_cost], "cost_note": [None, note]})
    return campaign


@transaction.atomic
def call_list_entry_update(*, actor: User, campaign_id: int, entry_id: int, status: str, disposition: str = "",
                           callback_at: datetime.datetime | None = None) -> CallListEntry:
    """The contact center reports a call: done, call back at a time, or removed."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id)
    entry = CallListEntry.objects.select_for_update().filter(campaign=campaign, pk=entry_id).first()
    if entry is None:
        raise NotFound(f"call list entry {entry_id}")
    if status not in CallListStatus.values:
        raise_if({"status": [_("Unknown status.")]})
    if status == CallListStatus.CALLBACK and callback_at is None:
        raise_if({"callback_at": [_("Say when to call back.")]})
    entry.status, entry.disposition, entry.callback_at = status, disposition[:120], callback_at
    entry.attempts += 1
    entry.save(update_fields=["status", "disposition", "callback_at", "attempts"])
    if status == CallListStatus.DONE:
        from guanxi.marketing.services.responses import campaign_response_record

        campaign_response_record(campaign_id=campaign.pk, contact_id=entry.contact_id, kind="called",
                                 detail=disposition, actor=actor)
    return entry


@transaction.atomic
def campaign_mark_mailed(*, actor: User, campaign_id: int) -> int:
    """A direct-mail campaign's letters were posted: its recipients count as reached."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    if campaign.channel != CampaignChannel.DIRECT_MAIL or campaign.status != CampaignStatus.RUNNING:
        raise Conflict(_("Only a running direct-mail campaign is posted."))
    # the letters printed for those still reachable (see print_runs); the others were not posted
    CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PENDING).exclude(
        contact__in=Contact.objects.filter(sending.reachable(CampaignChannel.DIRECT_MAIL)).values("pk")).update(
        state=RecipientState.SKIPPED, last_error=_("No longer reachable: consent withdrawn, do not contact, "
                                                   "erased or address suppressed."))
    posted = CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.PENDING).update(
        state=RecipientState.SENT, sent_at=timezone.now())
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign, changes={"posted": [None, posted]})
    return posted
