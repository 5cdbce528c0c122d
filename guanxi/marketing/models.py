"""Marketing automation (SPEC §3): segments, templates, campaigns and their recipients,
responses, A/B tests, events, the materials library and the email suppression list.

Members of each model are grouped in a fixed order: fields, Meta, ``__str__``, methods.
Writes go through ``guanxi.marketing.services``; reads with access checks through
``guanxi.marketing.selectors``.

Marketing records are owned by a user; the team and territory scopes of the access
matrix follow the owner's team and territory (``owner__team``, ``owner__territory``).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.models import Contact, Tag, User
from guanxi.interactions.models import Interaction

MONEY = {"max_digits": 14, "decimal_places": 2}
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]


# ======================================================================================
# Choices
# ======================================================================================
class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rules evaluated when used)")
    STATIC = "static", _("Static (a frozen list of contacts)")


class TemplateChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    LETTER = "letter", _("Letter")


class CampaignChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone (call list)")
    DIRECT_MAIL = "direct_mail", _("Direct mail")
    EVENT = "event", _("Event or seminar")
    WEB = "web", _("Web")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", pgettext_lazy("campaign status", "Running")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class RecipientState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    HELD = "held", _("Held back for the A/B test winner")
    HANDED_OFF = "handed_off", _("Being handed to the server")
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Waiting to retry")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped (no consent or unreachable)")
    UNCONFIRMED = "unconfirmed", _("Unconfirmed (interrupted during hand-off; not resent)")
    BOUNCED = "bounced", _("Bounced")


class ResponseKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked a link")
    REPLIED = "replied", _("Replied")
    REGISTERED = "registered", _("Registered")
    ATTENDED = "attended", _("Attended")
    VISITED = "visited", _("Visited the web page")
    CALLED = "called", _("Reached by phone")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")


class AbMetric(models.TextChoices):
    OPEN_RATE = "open", _("Open rate")
    CLICK_RATE = "click", _("Click rate")


class AbTestState(models.TextChoices):
    COLLECTING = "collecting", _("Collecting results from the sample")
    DECIDED = "decided", _("Winner chosen and sent to the rest")


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    WAITLISTED = "waitlisted", _("On the waiting list")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("Did not attend")


class CallListStatus(models.TextChoices):
    PENDING = "pending", _("To call")
    DONE = "done", _("Done")
    CALLBACK = "callback", _("Call back")
    REMOVED = "removed", _("Removed")


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", _("Permanent delivery failure")
    SOFT_BOUNCES = "soft_bounces", _("Repeated temporary delivery failures")
    COMPLAINT = "complaint", _("Spam complaint")
    MANUAL = "manual", _("Added by hand")


# ======================================================================================
# Segments
# ======================================================================================
class Segment(models.Model):
    """A saved list of contacts: rules evaluated as one SQL query (dynamic) or a frozen
    member list (static). The rule language is described in ``segment_rules``."""

    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("What the list is, e.g. Gold customers in Guangdong."))
    description = models.TextField(_("description"), blank=True, help_text=_("What the segment is for."))
    kind = models.CharField(_("kind"), max_length=20, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC,
                            help_text=_("Dynamic segments follow their rules; static ones keep their members."))
    rules = models.JSONField(_("rules"), default=dict, blank=True,
                             help_text=_("Nested AND/OR/NOT groups of conditions, as JSON."))
    frozen_from = models.ForeignKey("self", verbose_name=_("snapshot of"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="snapshots",
                                    help_text=_("Dynamic segment this static list was frozen from."))
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True,
                                     help_text=_("When the members of the snapshot were taken."))
    member_count = models.PositiveIntegerField(_("members"), default=0,
                                               help_text=_("Contacts counted the last time it was evaluated."))
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True, help_text=_("When it was counted."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the segment."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was created."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text=_("When it last changed."))
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change."))

    SEARCH_FIELDS = ("name", "description")

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A member of a static segment."""

    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE,
                                related_name="members", help_text=_("Static segment."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+",
                                help_text=_("Member."))

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_unique")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"


# ======================================================================================
# Templates (mail merge)
# ======================================================================================
class MessageTemplate(models.Model):
    """A mail-merge template in English and Chinese, rendered in a Jinja2 sandbox.

    Email bodies are HTML (values are escaped); SMS and letter bodies are plain text.
    """

    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("Name shown when choosing a template."))
    channel = models.CharField(_("channel"), max_length=20, choices=TemplateChannel.choices,
                               default=TemplateChannel.EMAIL, help_text=_("Email, SMS or printed letter."))
    subject_en = models.CharField(_("subject (English)"), max_length=300, blank=True,
                                  help_text=_("Email subject or letter heading in English."))
    body_en = models.TextField(_("body (English)"), blank=True, help_text=_("Message in English."))
    subject_zh = models.CharField(_("subject (Chinese)"), max_length=300, blank=True,
                                  help_text=_("Email subject or letter heading in Chinese."))
    body_zh = models.TextField(_("body (Chinese)"), blank=True, help_text=_("Message in Chinese."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the template."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was created."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text=_("When it last changed."))
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change."))

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def parts_for(self, language: str) -> tuple[str, str]:
        """(subject, body) in ``language``, falling back to the other language when empty."""
        english, chinese = (self.subject_en, self.body_en), (self.subject_zh, self.body_zh)
        first, second = (chinese, english) if language == "zh-hans" else (english, chinese)
        return first if first[1].strip() else second


# ======================================================================================
# Materials library
# ======================================================================================
class Material(models.Model):
    """A shared marketing file (brochure, price sheet, slide deck) with its versions."""

    title = models.CharField(_("title"), max_length=200, help_text=_("What the material is."))
    description = models.TextField(_("description"), blank=True, help_text=_("When to use it."))
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+",
                                  help_text=_("Free labels for finding it."))
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES, blank=True,
                                help_text=_("Language of the material, if any."))
    current_version = models.PositiveIntegerField(_("current version"), default=0,
                                                  help_text=_("Number of the newest version."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the material."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was created."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text=_("When it last changed."))

    SEARCH_FIELDS = ("title", "description", "tags__name")

    class Meta:
        verbose_name = _("marketing material")
        verbose_name_plural = _("marketing materials")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


def material_upload_path(version: "MaterialVersion", filename: str) -> str:
    return f"marketing/materials/{version.material_id}/v{version.number}/{filename}"


class MaterialVersion(models.Model):
    material = models.ForeignKey(Material, verbose_name=_("material"), on_delete=models.CASCADE,
                                 related_name="versions", help_text=_("Material this is a version of."))
    number = models.PositiveIntegerField(_("version"), help_text=_("1 for the first upload, then 2, 3…"))
    file = models.FileField(_("file"), upload_to=material_upload_path, max_length=300, help_text=_("Stored file."))
    file_name = models.CharField(_("file name"), max_length=255, help_text=_("Name of the file as uploaded."))
    size = models.PositiveBigIntegerField(_("size"), default=0, help_text=_("Bytes."))
    sha256 = models.CharField(_("fingerprint"), max_length=64, help_text=_("SHA-256 of the file's bytes."))
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("What changed in this version."))
    uploaded_by = models.ForeignKey(User, verbose_name=_("uploaded by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", help_text="")
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("material version")
        verbose_name_plural = _("material versions")
        ordering = ["material", "-number"]
        constraints = [models.UniqueConstraint(fields=["material", "number"], name="material_version_unique")]

    def __str__(self) -> str:
        return f"{self.material} v{self.number}"


# ======================================================================================
# Events
# ======================================================================================
class Event(models.Model):
    """An event or seminar with a public registration form."""

    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("Title of the event."))
    slug = models.SlugField(_("web address"), max_length=80, unique=True,
                            help_text=_("Used in the public registration link."))
    description = models.TextField(_("description"), blank=True, help_text=_("Shown on the registration page."))
    starts_at = models.DateTimeField(_("starts at"), help_text=_("When the event begins."))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True, help_text=_("When it ends."))
    venue = models.CharField(_("venue"), max_length=200, blank=True, help_text=_("Place, e.g. hotel and room."))
    address = models.CharField(_("address"), max_length=300, blank=True, help_text=_("Street address of the venue."))
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True,
                                           help_text=_("Seats; further registrations go on the waiting list. "
                                                       "Empty means no limit."))
    registration_open = models.BooleanField(_("registration open"), default=True,
                                            help_text=_("Whether the public form accepts registrations."))
    reminder_hours = models.PositiveIntegerField(_("reminder (hours before)"), default=24,
                                                 help_text=_("Registered people get a reminder this long before."))
    reminder_template = models.ForeignKey(MessageTemplate, verbose_name=_("reminder template"), null=True,
                                          blank=True, on_delete=models.SET_NULL, related_name="+",
                                          help_text=_("Email sent as the reminder."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User organising the event."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at", "id"]

    def __str__(self) -> str:
        return self.name


class EventRegistration(models.Model):
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE,
                              related_name="registrations", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="event_registrations",
                                help_text=_("Known customer who registered."))
    full_name = models.CharField(_("name"), max_length=200, help_text=_("Name given on the form."))
    email = models.EmailField(_("email"), help_text=_("Lower-case address given on the form."))
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164."))
    company = models.CharField(_("company"), max_length=200, blank=True, help_text="")
    status = models.CharField(_("status"), max_length=20, choices=RegistrationStatus.choices,
                              default=RegistrationStatus.REGISTERED, db_index=True, help_text="")
    campaign = models.ForeignKey("Campaign", verbose_name=_("campaign"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="registrations",
                                 help_text=_("Campaign that brought the registration."))
    lead_id = models.PositiveIntegerField(_("lead ID"), null=True, blank=True,
                                          help_text=_("Sales lead opened for an unknown registrant."))
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now, help_text="")
    reminder_sent_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True, help_text="")
    attended_at = models.DateTimeField(_("attended at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("event registration")
        verbose_name_plural = _("event registrations")
        ordering = ["registered_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "email"], name="event_registration_unique_email")]

    def __str__(self) -> str:
        return f"{self.full_name} @ {self.event_id}"


# ======================================================================================
# Campaigns
# ======================================================================================
class Campaign(models.Model):
    # --- fields: what ---
    name = models.CharField(_("name"), max_length=200, help_text=_("Name of the campaign."))
    description = models.TextField(_("description"), blank=True, help_text=_("Goal and message."))
    channel = models.CharField(_("channel"), max_length=20, choices=CampaignChannel.choices,
                               default=CampaignChannel.EMAIL, help_text=_("How the campaign reaches people."))
    status = models.CharField(_("status"), max_length=20, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT, db_index=True, help_text="")
    segment = models.ForeignKey(Segment, verbose_name=_("target segment"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="campaigns",
                                help_text=_("Who the campaign is sent to."))
    template = models.ForeignKey(MessageTemplate, verbose_name=_("template"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="campaigns",
                                 help_text=_("Message sent (email, SMS, letter)."))
    event = models.ForeignKey(Event, verbose_name=_("event"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="campaigns", help_text=_("Event the campaign promotes."))
    landing_url = models.URLField(_("landing page"), max_length=500, blank=True,
                                  help_text=_("Web page a web campaign leads to."))
    materials = models.ManyToManyField(Material, verbose_name=_("materials"), blank=True,
                                       related_name="campaigns", help_text=_("Materials used by the campaign."))
    # --- fields: money ---
    currency = models.CharField(_("currency"), max_length=3, default="CNY", help_text=_("ISO 4217 code."))
    budget = models.DecimalField(_("budget"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)],
                                 help_text=_("Money approved for the campaign."))
    planned_cost = models.DecimalField(_("planned cost"), **MONEY, default=Decimal("0"),
                                       validators=[MinValueValidator(0)], help_text=_("Expected spending."))
    actual_cost = models.DecimalField(_("actual cost"), **MONEY, default=Decimal("0"),
                                      validators=[MinValueValidator(0)], help_text=_("Money spent so far."))
    expected_revenue = models.DecimalField(_("expected revenue"), **MONEY, default=Decimal("0"),
                                           validators=[MinValueValidator(0)],
                                           help_text=_("Revenue the campaign is meant to bring."))
    # --- fields: when and who ---
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True,
                                        help_text=_("When sending starts; empty means on launch."))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True,
                                   help_text=_("Responses after this still count; it is for planning."))
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True, help_text="")
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, help_text="")
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the campaign."))
    launched_by = models.ForeignKey(User, verbose_name=_("launched by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", help_text="")
    # --- fields: sending ---
    audience_count = models.PositiveIntegerField(_("audience"), default=0,
                                                 help_text=_("Recipients frozen at launch."))
    excluded_count = models.PositiveIntegerField(_("excluded"), default=0,
                                                 help_text=_("Segment members left out at launch (no consent, "
                                                             "do not contact, erased, unreachable, suppressed)."))
    send_lease = models.CharField(_("sending lease"), max_length=40, blank=True,
                                  help_text=_("Worker run currently sending; one at a time."))
    send_lease_at = models.DateTimeField(_("lease renewed at"), null=True, blank=True, help_text="")
    send_job_id = models.PositiveIntegerField(_("sending job"), null=True, blank=True, help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change."))

    SEARCH_FIELDS = ("name", "description")

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CampaignRecipient(models.Model):
    """One person one campaign reaches: the idempotency row of every send.

    The row exists before anything leaves; its state moves ``pending → handed_off`` in a
    committed write *before* the message is handed to the server and ``→ sent`` after the
    server accepted it. A row found ``handed_off`` after a crash is never sent again
    (at-most-once): it becomes ``unconfirmed`` and is reported.
    """

    # --- fields ---
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="recipients", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="campaign_receipts", help_text="")
    address = models.CharField(_("address"), max_length=254, help_text=_("Email address or phone number used."))
    language = models.CharField(_("language"), max_length=10, default="zh-hans", help_text="")
    variant = models.CharField(_("variant"), max_length=1, blank=True, help_text=_("A/B test variant, A or B."))
    state = models.CharField(_("state"), max_length=20, choices=RecipientState.choices,
                             default=RecipientState.PENDING, help_text="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, help_text=_("Hand-offs tried."))
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, help_text="")
    last_error = models.CharField(_("last error"), max_length=500, blank=True,
                                  help_text=_("Server answer or failure of the last attempt."))
    message_id = models.CharField(_("message ID"), max_length=200, blank=True, help_text="")
    handed_off_at = models.DateTimeField(_("handed off at"), null=True, blank=True, help_text="")
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, help_text="")
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True, help_text="")
    clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        ordering = ["campaign", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_unique")]
        indexes = [models.Index(fields=["campaign", "state", "id"], name="campaign_recipient_state")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.address} ({self.state})"


class CampaignResponse(models.Model):
    """Something a person did because of a campaign; each is on the contact's timeline too."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="responses", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="campaign_responses", help_text="")
    recipient = models.ForeignKey(CampaignRecipient, verbose_name=_("recipient"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="responses", help_text="")
    kind = models.CharField(_("kind"), max_length=20, choices=ResponseKind.choices, help_text="")
    detail = models.CharField(_("detail"), max_length=500, blank=True, help_text=_("Link clicked, page, note."))
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, unique=True,
                                  help_text=_("The same response delivered twice is recorded once."))
    interaction = models.ForeignKey(Interaction, verbose_name=_("interaction"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    help_text=_("Entry on the contact's timeline."))
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("campaign response")
        verbose_name_plural = _("campaign responses")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["campaign", "kind"], name="campaign_response_kind"),
                   models.Index(fields=["contact", "-occurred_at"], name="campaign_response_contact")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind}"


class CallListEntry(models.Model):
    """A row of the call list a phone campaign hands to the contact center."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="call_list", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+",
                                help_text="")
    phone = models.CharField(_("phone"), max_length=20, help_text=_("Number to dial, E.164."))
    priority = models.PositiveSmallIntegerField(_("priority"), default=5,
                                                help_text=_("1 is called first; from the value tier."))
    status = models.CharField(_("status"), max_length=20, choices=CallListStatus.choices,
                              default=CallListStatus.PENDING, db_index=True, help_text="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, help_text="")
    disposition = models.CharField(_("disposition"), max_length=120, blank=True, help_text=_("Result of the call."))
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True, help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("call list entry")
        verbose_name_plural = _("call list entries")
        ordering = ["campaign", "priority", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="call_list_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.phone}"


class AbTest(models.Model):
    """An A/B test of subject or content: a sample gets A or B, the winner goes to the rest."""

    campaign = models.OneToOneField(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                    related_name="ab_test", help_text="")
    metric = models.CharField(_("winner by"), max_length=10, choices=AbMetric.choices, default=AbMetric.OPEN_RATE,
                              help_text=_("Which rate decides the winner."))
    sample_percent = models.PositiveSmallIntegerField(
        _("sample size (%)"), default=20, validators=[MinValueValidator(2), MaxValueValidator(100)],
        help_text=_("Share of the audience in the test, split evenly between A and B."))
    subject_b = models.CharField(_("subject B"), max_length=300, blank=True,
                                 help_text=_("Alternative subject; empty keeps the template's."))
    template_b = models.ForeignKey(MessageTemplate, verbose_name=_("template B"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   help_text=_("Alternative content; empty keeps the campaign's template."))
    decide_after_hours = models.PositiveIntegerField(_("decide after (hours)"), default=4,
                                                     help_text=_("Time the sample has to respond."))
    state = models.CharField(_("state"), max_length=20, choices=AbTestState.choices,
                             default=AbTestState.COLLECTING, help_text="")
    winner = models.CharField(_("winner"), max_length=1, blank=True, help_text=_("A or B."))
    results = models.JSONField(_("results"), default=dict, blank=True, help_text=_("Rates of A and B at decision."))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("A/B test")
        verbose_name_plural = _("A/B tests")

    def __str__(self) -> str:
        return f"A/B {self.campaign_id}"


# ======================================================================================
# Suppression and bounces
# ======================================================================================
class EmailSuppression(models.Model):
    """An address never mailed again (hard bounce, repeated soft bounces, complaint)."""

    email = models.EmailField(_("email"), unique=True, help_text=_("Lower-case address."))
    reason = models.CharField(_("reason"), max_length=20, choices=SuppressionReason.choices, help_text="")
    detail = models.CharField(_("detail"), max_length=500, blank=True, help_text=_("Status and diagnostic."))
    created_at = models.DateTimeField(_("suppressed at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.email


class EmailBounce(models.Model):
    """One delivery status notification (RFC 3464) about one recipient."""

    email = models.EmailField(_("email"), db_index=True, help_text=_("Address that failed."))
    status = models.CharField(_("status"), max_length=20, help_text=_("Enhanced status code, e.g. 5.1.1."))
    action = models.CharField(_("action"), max_length=20, help_text=_("failed, delayed…"))
    diagnostic = models.CharField(_("diagnostic"), max_length=500, blank=True, help_text="")
    is_permanent = models.BooleanField(_("permanent"), default=False, help_text=_("A 5.x.x failure."))
    recipient = models.ForeignKey(CampaignRecipient, verbose_name=_("recipient"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="bounces", help_text="")
    received_at = models.DateTimeField(_("received at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("bounce")
        verbose_name_plural = _("bounces")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} {self.status}"
