"""Events and seminars: the event itself, public registration with capacity and a waiting
list, reminders, attendance, and the follow-up campaign to those who came (or did not)."""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import override

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.models import AuditAction, ContactEmail, Contact, User
from guanxi.core.normalize import PhoneError, normalize_email, normalize_phone
from guanxi.interactions.services import interaction_record
from guanxi.marketing import conf, mail_merge, selectors
from guanxi.marketing.apps import sales_installed
from guanxi.marketing.models import (
    Campaign, CampaignChannel, CampaignStatus, Event, EventRegistration, RegistrationStatus, ResponseKind,
    Segment, SegmentKind, SegmentMember, TemplateChannel,
)
from guanxi.marketing.services.common import full_clean_errors, raise_if, require_create, snapshot
from guanxi.marketing.signals import marketing_engagement

EVENT_FIELDS = ("name", "slug", "description", "starts_at", "ends_at", "venue", "address", "capacity",
                "registration_open", "reminder_hours")
SEATED = (RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED)


def _apply(actor: User, event: Event, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in EVENT_FIELDS:
        if field in data:
            value = data[field]
            if field in ("capacity", "ends_at") or value is not None:
                setattr(event, field, value.strip() if isinstance(value, str) else value)
    if not event.slug:
        event.slug = slugify(event.name)[:60] or f"event-{uuid.uuid4().hex[:8]}"
        if Event.objects.filter(slug=event.slug).exclude(pk=event.pk).exists():
            event.slug = f"{event.slug[:50]}-{uuid.uuid4().hex[:6]}"
    elif Event.objects.filter(slug=event.slug).exclude(pk=event.pk).exists():
        errors["slug"] = [_("Another event uses this web address.")]
    if "reminder_template_id" in data:
        event.reminder_template = None
        if data["reminder_template_id"]:
            template = selectors.visible_templates(actor).filter(pk=data["reminder_template_id"]).first()
            if template is None or template.channel != TemplateChannel.EMAIL:
                errors["reminder_template_id"] = [_("Choose an email template you may use.")]
            else:
                event.reminder_template = template
    if event.starts_at and event.ends_at and event.ends_at < event.starts_at:
        errors["ends_at"] = [_("The end must not be before the start.")]
    if event.capacity is not None and event.pk:
        seated = event.registrations.filter(status__in=SEATED).count()
        if event.capacity < seated:
            errors["capacity"] = [_("%(count)d people already hold a seat.") % {"count": seated}]
    full_clean_errors(event, ["owner", "reminder_template", "slug"], errors)
    return errors


@transaction.atomic
def event_create(*, actor: User, data: dict) -> Event:
    require_create(actor, selectors.EVENT, _("You may not create events."))
    event = Event(owner=actor)
    raise_if(_apply(actor, event, data))
    event.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=event, changes=diff({}, snapshot(event, EVENT_FIELDS)))
    return event


@transaction.atomic
def event_update(*, actor: User, event_id: int, data: dict) -> Event:
    event = selectors.access_event_by_id(actor, event_id, "change")
    event = Event.objects.select_for_update().get(pk=event.pk)
    before = snapshot(event, EVENT_FIELDS)
    raise_if(_apply(actor, event, data))
    event.updated_at = timezone.now()
    event.save()
    if before["capacity"] is not None and (event.capacity is None or event.capacity > before["capacity"]):
        _promote_waitlist(event)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=event, changes=diff(before, snapshot(event,
                                                                                                   EVENT_FIELDS)))
    return event


@transaction.atomic
def event_delete(*, actor: User, event_id: int) -> None:
    event = selectors.access_event_by_id(actor, event_id, "delete")
    if event.registrations.exists():
        raise Conflict(_("People registered for this event; close the registration instead."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=event, changes={"name": [event.name, None]})
    event.delete()


# ======================================================================================
# Registration (public form)
# ======================================================================================
def _contact_by_email(email: str) -> Contact | None:
    return (Contact.objects.filter(Q(email=email) | Q(pk__in=ContactEmail.objects.filter(email=email)
                                                      .values("contact_id")), is_erased=False)
            .order_by("id").first())


def _event_campaign(event: Event, campaign_id) -> Campaign | None:
    if campaign_id:
        try:
            campaign = Campaign.objects.filter(pk=int(campaign_id), event=event).first()
        except (TypeError, ValueError):
            campaign = None
        if campaign is not None:
            return campaign
    return (Campaign.objects.filter(event=event, channel=CampaignChannel.EVENT)
            .exclude(status=CampaignStatus.CANCELLED).order_by("-created_at").first())


def event_register(*, slug: str, data: dict, campaign_id=None, ip_address: str | None = None) -> EventRegistration:
    """A registration from the public form. Seats are counted under a lock, so the capacity
    holds even when people register at the same moment; beyond it they are waitlisted.
    The same email twice is the same registration. A known customer is linked to the
    registration; a stranger becomes a sales lead from the event's campaign."""
    errors: dict[str, list[str]] = {}
    full_name = (data.get("full_name") or "").strip()
    if not full_name:
        errors["full_name"] = [_("Enter your name.")]
    try:
        email = normalize_email(data.get("email") or "")
    except ValidationError as error:
        errors["email"] = list(error.messages)
        email = ""
    if not email and "email" not in errors:
        errors["email"] = [_("Enter your email address.")]
    phone = ""
    if data.get("phone"):
        try:
            phone = normalize_phone(str(data["phone"]))
        except PhoneError as error:
            errors["phone"] = [str(error)]
    raise_if(errors)
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(slug=slug).first()
        if event is None:
            raise NotFound(f"event {slug}")
        if not event.registration_open or event.starts_at < timezone.now():
            raise Conflict(_("Registration for this event is closed."))
        existing = EventRegistration.objects.filter(event=event, email=email).first()
        if existing is not None and existing.status != RegistrationStatus.CANCELLED:
            return existing
        seated = EventRegistration.objects.filter(event=event, status__in=SEATED).count()
        full = event.capacity is not None and seated >= event.capacity
        status = RegistrationStatus.WAITLISTED if full else RegistrationStatus.REGISTERED
        contact = _contact_by_email(email)
        campaign = _event_campaign(event, campaign_id)
        if existing is not None:  # registering again after cancelling
            registration = existing
            registration.status, registration.registered_at = status, timezone.now()
            registration.full_name, registration.phone = full_name, phone
            registration.save(update_fields=["status", "registered_at", "full_name", "phone"])
        else:
            try:
                with transaction.atomic():
                    registration = EventRegistration.objects.create(
                        event=event, contact=contact, full_name=full_name[:200], email=email, phone=phone,
                        company=(data.get("company") or "").strip()[:200], status=status, campaign=campaign)
            except IntegrityError:
                return EventRegistration.objects.get(event=event, email=email)
        if contact is None and sales_installed() and registration.lead_id is None:
            registration.lead_id = _open_lead(registration, campaign, ip_address)
            EventRegistration.objects.filter(pk=registration.pk).update(lead_id=registration.lead_id)
        _record_engagement(registration, ResponseKind.REGISTERED)
    return registration


def _open_lead(registration: EventRegistration, campaign: Campaign | None, ip_address: str | None) -> int | None:
    from guanxi.sales.services import lead_create

    try:
        lead = lead_create(actor=None, ip_address=ip_address, data={
            "full_name": registration.full_name, "email": registration.email, "phone": registration.phone,
            "company": registration.company, "source": "event", "campaign_id": campaign.pk if campaign else None,
            "campaign_name": campaign.name if campaign else registration.event.name,
            "description": _("Registered for %(event)s.") % {"event": registration.event.name}})
    except ValidationError:
        return None
    return lead.pk


def _record_engagement(registration: EventRegistration, kind: str) -> None:
    """On the campaign (a response) or, without one, straight on the timeline; and to the
    lead score."""
    from guanxi.marketing.services.responses import campaign_response_record

    event = registration.event
    if registration.campaign_id:
        campaign_response_record(campaign_id=registration.campaign_id, contact_id=registration.contact_id,
                                 email=registration.email, kind=kind, detail=event.name)
        return
    if registration.contact_id:
        interaction_record(actor=None, check_access=False, data={
            "contact_id": registration.contact_id, "channel": "web" if kind == ResponseKind.REGISTERED else "visit",
            "direction": "in", "subject": f"{ResponseKind(kind).label}: {event.name}"[:200],
            "source_type": f"event_{kind}", "source_id": str(registration.pk)})
    payload = {"contact_id": registration.contact_id, "email": registration.email, "kind": kind,
               "campaign_id": None, "detail": event.name, "occurred_at": timezone.now()}
    transaction.on_commit(lambda: marketing_engagement.send(sender=EventRegistration, **payload))


def _promote_waitlist(event: Event) -> list[EventRegistration]:
    """Give freed seats to the waiting list, first come first served."""
    seated = EventRegistration.objects.filter(event=event, status__in=SEATED).count()
    free = None if event.capacity is None else max(0, event.capacity - seated)
    waiting = EventRegistration.objects.filter(event=event, status=RegistrationStatus.WAITLISTED).order_by(
        "registered_at", "id")
    promoted = list(waiting if free is None else waiting[:free])
    EventRegistration.objects.filter(pk__in=[item.pk for item in promoted]).update(
        status=RegistrationStatus.REGISTERED)
    return promoted


@transaction.atomic
def registration_cancel(*, actor: User, registration_id: int) -> EventRegistration:
    registration = EventRegistration.objects.select_related("event").filter(pk=registration_id).first()
    if registration is None:
        raise NotFound(f"registration {registration_id}")
    event = selectors.access_event_by_id(actor, registration.event_id, "change")
    Event.objects.select_for_update().filter(pk=event.pk).first()
    if registration.status == RegistrationStatus.CANCELLED:
        return registration
    registration.status = RegistrationStatus.CANCELLED
    registration.save(update_fields=["status"])
    _promote_waitlist(event)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=registration, changes={"status": [None, "cancelled"]})
    return registration


@transaction.atomic
def registrations_mark_attendance(*, actor: User, event_id: int, registration_ids: list[int],
                                  attended: bool = True) -> int:
    """Attended (or did not) — recorded on the registration, the campaign and the timeline."""
    event = selectors.access_event_by_id(actor, event_id, "change")
    registrations = list(EventRegistration.objects.select_related("event").filter(
        event=event, pk__in=registration_ids).exclude(status__in=[RegistrationStatus.CANCELLED,
                                                                  RegistrationStatus.WAITLISTED]))
    found = {registration.pk for registration in registrations}
    unknown = sorted(set(registration_ids) - found)
    if unknown:
        raise_if({"registration_ids": [_("Not registered for this event: %(ids)s.") % {
            "ids": ", ".join(map(str, unknown))}]})
    now = timezone.now()
    for registration in registrations:
        status = RegistrationStatus.ATTENDED if attended else RegistrationStatus.NO_SHOW
        if registration.status == status:
            continue
        registration.status = status
        registration.attended_at = now if attended else None
        registration.save(update_fields=["status", "attended_at"])
        if attended:
            _record_engagement(registration, ResponseKind.ATTENDED)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=event,
                 changes={"attendance": [None, {"ids": sorted(found), "attended": attended}]})
    return len(registrations)


# ======================================================================================
# Reminders and follow-up
# ======================================================================================
def events_send_reminders(*, now: datetime.datetime | None = None) -> int:
    """Email the registered people of events starting within their reminder window, once each:
    the registration is marked reminded (committed) before its message goes out."""
    now = now or timezone.now()
    sent = 0
    for event in Event.objects.filter(starts_at__gt=now, starts_at__lte=now + datetime.timedelta(days=30)):
        if event.starts_at - datetime.timedelta(hours=event.reminder_hours) > now:
            continue
        due = list(EventRegistration.objects.filter(event=event, status=RegistrationStatus.REGISTERED,
                                                    reminder_sent_at__isnull=True).values_list("pk", flat=True))
        if not due:
            continue
        claimed = []
        for registration_id in due:
            if EventRegistration.objects.filter(pk=registration_id, reminder_sent_at__isnull=True).update(
                    reminder_sent_at=now):
                claimed.append(registration_id)
        connection = get_connection(fail_silently=False)
        messages = [_reminder_message(registration) for registration in
                    EventRegistration.objects.filter(pk__in=claimed).select_related("event", "contact")]
        sent += connection.send_messages(messages) or 0
    return sent


def _reminder_message(registration: EventRegistration) -> EmailMultiAlternatives:
    event = registration.event
    language = registration.contact.preferred_language if registration.contact_id else "zh-hans"
    sender = f"{conf.from_name()} <{conf.from_email()}>"
    if event.reminder_template_id and registration.contact_id:
        from guanxi.marketing.sending import campaign_merge_fields

        context = mail_merge.contexts_for([registration.contact_id], campaign_merge_fields(None, event))
        rendered = mail_merge.MessageRenderer(event.reminder_template).render(context[registration.contact_id])
        message = EmailMultiAlternatives(rendered.subject, rendered.text, sender, [registration.email])
        message.attach_alternative(rendered.body, "text/html")
        return message
    with override(language):
        when = mail_merge.format_datetime(event.starts_at, language)
        subject = _("Reminder: %(event)s on %(when)s") % {"event": event.name, "when": when}
        body = _("Dear %(name)s,\n\nwe look forward to seeing you at %(event)s on %(when)s at %(venue)s, "
                 "%(address)s.\n") % {"name": registration.full_name, "event": event.name, "when": when,
                                      "venue": event.venue, "address": event.address}
    return EmailMultiAlternatives(subject, body, sender, [registration.email])


@transaction.atomic
def event_follow_up(*, actor: User, event_id: int, audience: str = RegistrationStatus.ATTENDED,
                    template_id: int | None = None) -> Campaign:
    """A draft email campaign to the people who attended (or missed) the event: their
    contacts frozen into a static segment, the campaign linked to the event."""
    event = selectors.access_event_by_id(actor, event_id)
    require_create(actor, selectors.CAMPAIGN, _("You may not create campaigns."))
    if audience not in (RegistrationStatus.ATTENDED, RegistrationStatus.NO_SHOW, RegistrationStatus.REGISTERED):
        raise_if({"audience": [_("Follow up those who attended, did not attend, or registered.")]})
    contact_ids = list(EventRegistration.objects.filter(event=event, status=audience, contact__isnull=False)
                       .values_list("contact_id", flat=True))
    if not contact_ids:
        raise_if({"audience": [_("Nobody known to us is in this group.")]})
    label = RegistrationStatus(audience).label
    segment = Segment.objects.create(name=f"{event.name}: {label}"[:200], kind=SegmentKind.STATIC, owner=actor,
                                     frozen_at=timezone.now(), member_count=len(contact_ids),
                                     counted_at=timezone.now())
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, contact_id=pk) for pk in contact_ids])
    from guanxi.marketing.services.campaigns import campaign_create

    data = {"name": _("Follow-up: %(event)s (%(group)s)") % {"event": event.name, "group": label},
            "channel": CampaignChannel.EMAIL, "segment_id": segment.pk, "event_id": event.pk}
    if template_id:
        data["template_id"] = template_id
    return campaign_create(actor=actor, data=data)
