"""Responses to campaigns — opens, clicks, replies, registrations, unsubscribes, bounces —
each recorded once, on the campaign and as an interaction on the person's timeline."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import AuditAction, Channel, ConsentRecord, Contact, User
from guanxi.interactions.services import interaction_record
from guanxi.marketing import bounces, selectors, sending, tracking
from guanxi.marketing.models import (
    Campaign, CampaignChannel, CampaignRecipient, CampaignResponse, EmailBounce, EmailSuppression, RecipientState,
    ResponseKind, SuppressionReason,
)
from guanxi.marketing.services.common import raise_if
from guanxi.marketing.signals import marketing_engagement

CHANNEL_FOR = {CampaignChannel.EMAIL: Channel.EMAIL, CampaignChannel.SMS: Channel.SMS,
               CampaignChannel.PHONE: Channel.PHONE, CampaignChannel.DIRECT_MAIL: Channel.LETTER,
               CampaignChannel.EVENT: Channel.VISIT, CampaignChannel.WEB: Channel.WEB}
# One of these per person and campaign; clicks and visits once per link.
PER_LINK = (ResponseKind.CLICKED, ResponseKind.VISITED)
ENGAGEMENT = (ResponseKind.OPENED, ResponseKind.CLICKED, ResponseKind.REGISTERED, ResponseKind.ATTENDED)
SOFT_BOUNCE_LIMIT = 3


def _subject(kind: str, campaign: Campaign) -> str:
    return _("%(response)s: %(campaign)s") % {"response": ResponseKind(kind).label, "campaign": campaign.name}


def campaign_response_record(*, campaign_id: int, kind: str, contact_id: int | None = None, detail: str = "",
                             recipient_id: int | None = None, occurred_at=None, actor: User | None = None,
                             email: str = "") -> CampaignResponse:
    """Record a response once (the same one delivered again returns the first) and put it on
    the contact's timeline. ``actor`` None: a tracking link or public form."""
    if kind not in ResponseKind.values:
        raise_if({"kind": [_("Unknown kind of response.")]})
    if actor is not None:
        campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
        if contact_id:
            from guanxi.core import selectors as core_selectors

            try:
                core_selectors.access_contact_by_id(actor, contact_id)
            except core_selectors.NotFound:
                raise_if({"contact_id": [_("Unknown contact.")]})
    else:
        campaign = Campaign.objects.get(pk=campaign_id)
    occurred_at = occurred_at or timezone.now()
    who = contact_id or (email or "").lower() or f"r{recipient_id}"
    key = f"{campaign.pk}:{who}:{kind}"
    if kind in PER_LINK and detail:
        key += ":" + hashlib.sha1(detail.encode()).hexdigest()[:16]
    existing = CampaignResponse.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            response = CampaignResponse.objects.create(
                campaign=campaign, contact_id=contact_id, recipient_id=recipient_id, kind=kind,
                detail=detail[:500], dedupe_key=key, occurred_at=occurred_at)
    except IntegrityError:  # the same response arrived twice at once; the first one counts
        return CampaignResponse.objects.get(dedupe_key=key)
    with transaction.atomic():
        if contact_id:
            interaction = interaction_record(actor=None, check_access=False, data={
                "contact_id": contact_id, "channel": CHANNEL_FOR.get(campaign.channel, Channel.WEB),
                "direction": "in", "occurred_at": occurred_at, "subject": _subject(kind, campaign)[:200],
                "outcome": str(ResponseKind(kind).label)[:120], "notes": detail[:1000],
                "agent_id": actor.pk if actor is not None else None,
                "source_type": "campaign_response", "source_id": str(response.pk)})
            CampaignResponse.objects.filter(pk=response.pk).update(interaction=interaction)
            response.interaction = interaction
        if recipient_id and kind in (ResponseKind.OPENED, ResponseKind.CLICKED):
            # A click proves the message was opened, even with images blocked.
            CampaignRecipient.objects.filter(pk=recipient_id, opened_at__isnull=True).update(opened_at=occurred_at)
            if kind == ResponseKind.CLICKED:
                CampaignRecipient.objects.filter(pk=recipient_id, clicked_at__isnull=True).update(
                    clicked_at=occurred_at)
        if kind in ENGAGEMENT:
            address = email or (Contact.objects.filter(pk=contact_id).values_list("email", flat=True).first()
                                if contact_id else "") or ""
            payload = {"contact_id": contact_id, "email": address, "kind": kind, "campaign_id": campaign.pk,
                       "detail": detail, "occurred_at": occurred_at}
            transaction.on_commit(lambda: marketing_engagement.send(sender=CampaignResponse, **payload))
    return response


# ======================================================================================
# Opens and clicks (public tracking links)
# ======================================================================================
def track_open(token: str) -> bool:
    """The open pixel was loaded. A bad token records nothing (the pixel is served anyway)."""
    try:
        recipient_id = tracking.read_open_token(token)
    except tracking.BadToken:
        return False
    recipient = CampaignRecipient.objects.filter(pk=recipient_id).values("campaign_id", "contact_id").first()
    if recipient is None:
        return False
    campaign_response_record(campaign_id=recipient["campaign_id"], contact_id=recipient["contact_id"],
                             recipient_id=recipient_id, kind=ResponseKind.OPENED)
    return True


def track_click(token: str) -> str:
    """A tracked link was followed: record the click and return where to send the browser.
    Raises ``tracking.BadToken`` for a tampered link (never redirect to an unsigned URL)."""
    recipient_id, target = tracking.read_click_token(token)
    recipient = CampaignRecipient.objects.filter(pk=recipient_id).values("campaign_id", "contact_id").first()
    if recipient is not None:
        campaign_response_record(campaign_id=recipient["campaign_id"], contact_id=recipient["contact_id"],
                                 recipient_id=recipient_id, kind=ResponseKind.CLICKED, detail=target)
    return target


# ======================================================================================
# Unsubscribe
# ======================================================================================
@transaction.atomic
def contact_unsubscribe(*, token: str, source: str = "unsubscribe link") -> Contact:
    """Withdraw email consent for the person a signed unsubscribe link names: the contact's
    consent flag, a consent record and an audit entry; once, however often it is clicked."""
    request = tracking.read_unsubscribe_token(token)
    contact = Contact.objects.select_for_update().filter(pk=request.contact_id).first()
    if contact is None:
        raise tracking.BadToken(token)
    campaign = Campaign.objects.filter(pk=request.campaign_id).first() if request.campaign_id else None
    if contact.consent_email:
        Contact.objects.filter(pk=contact.pk).update(consent_email=False, version=F("version") + 1,
                                                     updated_at=timezone.now())
        label = f"{source}: {campaign.name}" if campaign else source
        ConsentRecord.objects.create(contact=contact, channel=Channel.EMAIL, granted=False, source=label[:120])
        audit_record(actor=None, action=AuditAction.UPDATE, obj=contact,
                     changes={"consent_email": [True, False], "consent_source": [None, label[:120]]})
        contact.refresh_from_db()
        send_on_commit(record_changed, Contact, instance=contact, action="update", actor=None)
    if campaign is not None:
        campaign_response_record(campaign_id=campaign.pk, contact_id=contact.pk, kind=ResponseKind.UNSUBSCRIBED)
    return contact


# ======================================================================================
# Bounces
# ======================================================================================
@transaction.atomic
def bounce_process(*, raw_message: bytes) -> list[EmailBounce]:
    """Read a delivery status notification (RFC 3464): each failed recipient is logged; a
    permanent failure — or the third temporary one — puts the address on the suppression
    list, and the campaign recipient it answers is marked bounced."""
    report = bounces.parse_dsn(raw_message)
    if report is None:
        raise_if({"raw_message": [_("This is not a delivery status notification (multipart/report; "
                                    "report-type=delivery-status).")]})
    recipient_id = sending.recipient_from_message_id(report.original_message_id)
    stored = []
    for failure in report.failures:
        recipient = CampaignRecipient.objects.filter(pk=recipient_id).first() if recipient_id else None
        if recipient is not None and recipient.address.lower() != failure.email:
            recipient = None
        if recipient is None:
            recipient = (CampaignRecipient.objects.filter(address=failure.email, state=RecipientState.SENT)
                         .order_by("-sent_at", "-id").first())
        bounce = EmailBounce.objects.create(email=failure.email, status=failure.status, action=failure.action,
                                            diagnostic=failure.diagnostic[:500], is_permanent=failure.permanent,
                                            recipient=recipient)
        stored.append(bounce)
        soft = EmailBounce.objects.filter(email=failure.email, is_permanent=False).count()
        if failure.permanent or soft >= SOFT_BOUNCE_LIMIT:
            EmailSuppression.objects.get_or_create(email=failure.email, defaults={
                "reason": SuppressionReason.HARD_BOUNCE if failure.permanent else SuppressionReason.SOFT_BOUNCES,
                "detail": f"{failure.status} {failure.diagnostic}"[:500]})
        if recipient is not None and failure.permanent:
            CampaignRecipient.objects.filter(pk=recipient.pk).update(
                state=RecipientState.BOUNCED, last_error=f"{failure.status} {failure.diagnostic}"[:500])
            campaign_response_record(campaign_id=recipient.campaign_id, contact_id=recipient.contact_id,
                                     recipient_id=recipient.pk, kind=ResponseKind.BOUNCED, detail=failure.status)
    return stored


@transaction.atomic
def suppression_remove(*, actor: User, email: str) -> None:
    """Take an address off the suppression list (e.g. the mailbox works again)."""
    from guanxi.core.access import can
    from guanxi.core.errors import PermissionDenied

    if not can(actor, selectors.CAMPAIGN, "change"):
        raise PermissionDenied(_("You may not change the suppression list."))
    deleted, _detail = EmailSuppression.objects.filter(email=email.lower()).delete()
    if deleted:
        audit_record(actor=actor, action=AuditAction.DELETE, object_type="emailsuppression", object_id=email.lower(),
                     changes={"email": [email.lower(), None]})
