"""Activities (calls, meetings, tasks, emails), scheduled callbacks, reminders and the
secret iCal feed. A completed activity with a customer is also an interaction on the
customer's timeline."""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.core.normalize import PhoneError, normalize_phone
from guanxi.core.realtime import push, user_group
from guanxi.sales import selectors
from guanxi.sales.models import (
    Activity, ActivityKind, ActivityStatus, CalendarFeed, Contract, Lead, Opportunity, Quote,
)
from guanxi.sales.services.common import (
    check_version, full_clean_into, place, raise_if, require, snapshot, touch, visible_account_or_error,
    visible_contact_or_error,
)

logger = logging.getLogger(__name__)
ACTIVITY_FIELDS = ("kind", "subject", "description", "channel", "start_at", "end_at", "all_day", "location",
                   "priority", "is_callback", "reminder_at")
TRACKED = ACTIVITY_FIELDS + ("status", "owner_id", "account_id", "contact_id", "lead_id", "opportunity_id",
                             "callback_phone", "outcome")
CALLBACK_REMINDER = datetime.timedelta(minutes=5)


def _link(activity: Activity, data: dict, actor: User | None, errors: dict) -> None:
    """What the activity is about; every linked record must be one the actor can see."""
    if "account_id" in data:
        activity.account = visible_account_or_error(actor, data["account_id"], errors)
    if "contact_id" in data:
        activity.contact = visible_contact_or_error(actor, data["contact_id"], errors)
    for field, visible, model in (("lead", selectors.visible_leads, Lead),
                                  ("opportunity", selectors.visible_opportunities, Opportunity),
                                  ("quote", selectors.visible_quotes, Quote),
                                  ("contract", selectors.visible_contracts, Contract)):
        key = f"{field}_id"
        if key not in data:
            continue
        if not data[key]:
            setattr(activity, field, None)
            continue
        try:
            records = visible(actor) if actor is not None else model.objects.all()
            record = records.filter(pk=data[key]).first()
        except (PermissionDenied, ValueError, TypeError):
            record = None
        if record is None:
            errors.setdefault(key, []).append(_("Unknown %(kind)s.") % {"kind": field})
        setattr(activity, field, record)
    if activity.opportunity is not None:
        activity.account = activity.account or activity.opportunity.account
        activity.contact = activity.contact or activity.opportunity.contact
    if activity.contact is not None and activity.account is None:
        activity.account = activity.contact.account


def _activity_apply(activity: Activity, data: dict, actor: User | None, errors: dict) -> None:
    for field in ACTIVITY_FIELDS:
        if field in data and (data[field] is not None or field in ("end_at", "reminder_at")):
            value = data[field]
            setattr(activity, field, value.strip() if isinstance(value, str) else value)
    if not activity.channel:
        activity.channel = Activity.DEFAULT_CHANNELS.get(activity.kind, "")
    _link(activity, data, actor, errors)
    if "callback_phone" in data:
        raw = (data.get("callback_phone") or "").strip()
        if raw:
            try:
                activity.callback_phone = normalize_phone(raw)
            except PhoneError as error:
                errors.setdefault("callback_phone", []).append(str(error))
        else:
            activity.callback_phone = ""
    if activity.is_callback:
        if activity.kind != ActivityKind.CALL:
            errors.setdefault("kind", []).append(_("A scheduled callback is a call."))
        if not activity.callback_phone:
            phone = (activity.contact.phone if activity.contact else "") or (activity.lead.phone if activity.lead
                                                                            else "")
            activity.callback_phone = phone
        if not activity.callback_phone and "callback_phone" not in errors:
            errors.setdefault("callback_phone", []).append(_("Give the number to call back."))
        if activity.reminder_at is None and activity.start_at:
            activity.reminder_at = activity.start_at - CALLBACK_REMINDER
    if activity.start_at is None:
        errors.setdefault("start_at", []).append(_("Give when it starts or is due."))
    if activity.end_at and activity.start_at and activity.end_at < activity.start_at:
        errors.setdefault("end_at", []).append(_("It cannot end before it starts."))
    full_clean_into(activity, errors, exclude=["owner", "team", "territory", "account", "contact", "lead",
                                               "opportunity", "quote", "contract", "start_at", "callback_phone"])


@transaction.atomic
def activity_create(*, actor: User | None, data: dict) -> Activity:
    """Plan an activity. ``actor`` None is the system (renewal reminders, callbacks
    promised by the contact center's IVR)."""
    if actor is not None:
        require(actor, "activity", "create", _("You may not plan activities."))
    errors: dict[str, list[str]] = {}
    activity = Activity()
    _activity_apply(activity, data, actor, errors)
    place(activity, actor=actor, object_name="activity", data=data, errors=errors)
    raise_if(errors)
    activity.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=activity,
                 changes=diff({}, snapshot(activity, TRACKED)))
    return activity


def _locked(actor: User, activity_id: int, action: str = "change") -> Activity:
    activity = selectors.access_activity_by_id(actor, activity_id, action)
    return Activity.objects.select_for_update(of=("self",)).select_related("contact", "lead").get(pk=activity.pk)


@transaction.atomic
def activity_update(*, actor: User, activity_id: int, data: dict, expected_version: int | None = None) -> Activity:
    activity = _locked(actor, activity_id)
    check_version(activity, expected_version)
    before = snapshot(activity, TRACKED)
    errors: dict[str, list[str]] = {}
    if activity.status != ActivityStatus.PLANNED:
        changed = [field for field in data if field not in ("outcome", "description")]
        for field in changed:
            errors[field] = [_("This activity is %(status)s; only its outcome and notes can change.")
                             % {"status": activity.get_status_display().lower()}]
    if "outcome" in data and data["outcome"] is not None:
        activity.outcome = data["outcome"].strip()[:300]
    if not errors:
        _activity_apply(activity, data, actor, errors)
        if "start_at" in data and "reminder_at" not in data:
            activity.reminder_sent_at = None
    place(activity, actor=actor, object_name="activity", data=data, errors=errors)
    raise_if(errors)
    if "reminder_at" in data:
        activity.reminder_sent_at = None
    touch(activity)
    activity.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=activity,
                 changes=diff(before, snapshot(activity, TRACKED)))
    return activity


def activity_record_on_timeline(activity: Activity) -> int | None:
    """Record a done activity on its customer's timeline, once (the activity is the
    interaction's source). Activities with no customer yet (a lead's) wait for the
    lead's conversion."""
    if not activity.contact_id and not activity.account_id:
        return None
    from guanxi.interactions.services import interaction_record

    duration = int((activity.end_at - activity.start_at).total_seconds()) if activity.end_at else 0
    interaction = interaction_record(actor=None, check_access=False, data={
        "contact_id": activity.contact_id, "account_id": activity.account_id,
        "channel": activity.channel or Activity.DEFAULT_CHANNELS.get(activity.kind, "phone"),
        "direction": "out", "occurred_at": activity.completed_at or activity.start_at,
        "duration_seconds": max(0, duration), "subject": activity.subject, "reason": activity.get_kind_display(),
        "outcome": activity.outcome, "notes": activity.description, "agent_id": activity.owner_id,
        "source_type": "sales.activity", "source_id": str(activity.pk)})
    Activity.objects.filter(pk=activity.pk).update(interaction_id=interaction.pk)
    activity.interaction_id = interaction.pk
    return interaction.pk


@transaction.atomic
def activity_complete(*, actor: User, activity_id: int, outcome: str = "",
                      completed_at: datetime.datetime | None = None) -> Activity:
    activity = _locked(actor, activity_id)
    if activity.status != ActivityStatus.PLANNED:
        raise Conflict(_("This activity is already %(status)s.") % {"status": activity.get_status_display().lower()})
    before = snapshot(activity, TRACKED)
    activity.status = ActivityStatus.DONE
    activity.completed_at = completed_at or timezone.now()
    activity.outcome = (outcome or activity.outcome or "").strip()[:300]
    touch(activity)
    activity.save()
    activity_record_on_timeline(activity)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=activity,
                 changes=diff(before, snapshot(activity, TRACKED)))
    return activity


@transaction.atomic
def activity_cancel(*, actor: User, activity_id: int, reason: str = "") -> Activity:
    activity = _locked(actor, activity_id)
    if activity.status != ActivityStatus.PLANNED:
        raise Conflict(_("This activity is already %(status)s.") % {"status": activity.get_status_display().lower()})
    activity.status = ActivityStatus.CANCELLED
    activity.outcome = (reason or "").strip()[:300]
    touch(activity)
    activity.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=activity,
                 changes={"status": [ActivityStatus.PLANNED, ActivityStatus.CANCELLED]})
    return activity


@transaction.atomic
def activity_delete(*, actor: User, activity_id: int) -> None:
    activity = _locked(actor, activity_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=activity, changes={"subject": [activity.subject, None]})
    activity.delete()


# ======================================================================================
# Reminders
# ======================================================================================
def _remind(activity: Activity) -> None:
    owner = activity.owner
    when = timezone.localtime(activity.start_at)
    payload = {"id": activity.pk, "subject": activity.subject, "kind": activity.kind,
               "start_at": activity.start_at.isoformat(), "url": f"/sales/activities/{activity.pk}/",
               "callback_phone": activity.callback_phone}
    push(user_group(owner.pk), "activity.reminder", payload)
    if owner.email:
        with override(owner.language or settings.LANGUAGE_CODE):
            subject = _("Reminder: %(subject)s at %(time)s") % {"subject": activity.subject,
                                                                "time": when.strftime("%Y-%m-%d %H:%M")}
            lines = [activity.get_kind_display() + ": " + activity.subject, when.strftime("%Y-%m-%d %H:%M")]
            if activity.callback_phone:
                lines.append(_("Call back: %(phone)s") % {"phone": activity.callback_phone})
            if activity.description:
                lines.append(activity.description)
        try:
            send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [owner.email])
        except OSError:  # the mail server is down: the in-app reminder went out, do not retry forever
            logger.warning("reminder email for activity %s could not be sent", activity.pk)


def activities_send_reminders(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Remind owners of planned activities whose reminder time has come: a live
    notification and an email. Each reminder goes out once."""
    now = now or timezone.now()
    due = list(Activity.objects.filter(status=ActivityStatus.PLANNED, reminder_at__lte=now,
                                       reminder_sent_at__isnull=True, owner__isnull=False)
               .select_related("owner").order_by("reminder_at")[:limit])
    sent = 0
    for activity in due:
        claimed = Activity.objects.filter(pk=activity.pk, reminder_sent_at__isnull=True).update(reminder_sent_at=now)
        if claimed:  # another worker may have taken it
            _remind(activity)
            sent += 1
    return sent


# ======================================================================================
# iCal feed
# ======================================================================================
def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def calendar_feed_issue(*, actor: User) -> str:
    """A new secret for the actor's feed URL (the old URL stops working). Shown once."""
    require(actor, "activity", "view", _("You have no calendar."))
    secret = secrets.token_urlsafe(24)
    feed, created = CalendarFeed.objects.update_or_create(user=actor, defaults={
        "digest": _digest(secret), "created_at": timezone.now(), "last_fetched_at": None})
    audit_record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, obj=feed,
                 changes={"calendar_feed": [None, "issued"]})
    return secret


@transaction.atomic
def calendar_feed_revoke(*, actor: User) -> None:
    deleted, _by_model = CalendarFeed.objects.filter(user=actor).delete()
    if deleted:
        audit_record(actor=actor, action=AuditAction.DELETE, object_type="calendarfeed", object_id=str(actor.pk),
                     changes={"calendar_feed": ["issued", None]})


def calendar_feed_user(secret: str) -> User | None:
    """The user a feed secret belongs to, or None."""
    if not secret:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(digest=_digest(secret), user__is_active=True).first()
    if feed is None:
        return None
    now = timezone.now()
    if feed.last_fetched_at is None or now - feed.last_fetched_at > datetime.timedelta(minutes=5):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    return feed.user
