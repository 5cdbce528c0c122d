"""Customer service (SPEC §4): cases and their threads, SLAs, queues, contracts, knowledge,
complaints, field visits and satisfaction.

Members of each model are grouped in a fixed order: fields, Meta, ``__str__``, methods.
Writes go through ``guanxi.service.services``; reads with access checks through
``guanxi.service.selectors``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import Account, Channel, Contact, Team, Territory, User, ValueTier
from guanxi.interactions.models import Episode, Interaction


# ======================================================================================
# Choices
# ======================================================================================
class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING_CUSTOMER = "pending_customer", _("Pending customer")
    ESCALATED = "escalated", _("Escalated")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")


# Statuses in which the case still needs work (the backlog); SLA clocks run in all but
# "pending customer".
OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.ESCALATED,
                 CaseStatus.REOPENED)

# The status flow: from → the statuses an agent may move a case to.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    CaseStatus.NEW: (CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.ESCALATED, CaseStatus.RESOLVED),
    CaseStatus.OPEN: (CaseStatus.PENDING_CUSTOMER, CaseStatus.ESCALATED, CaseStatus.RESOLVED),
    CaseStatus.PENDING_CUSTOMER: (CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.RESOLVED),
    CaseStatus.ESCALATED: (CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.RESOLVED),
    CaseStatus.RESOLVED: (CaseStatus.CLOSED, CaseStatus.REOPENED),
    CaseStatus.CLOSED: (CaseStatus.REOPENED,),
    CaseStatus.REOPENED: (CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.ESCALATED, CaseStatus.RESOLVED),
}


class CasePriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_ORDER = [CasePriority.LOW, CasePriority.NORMAL, CasePriority.HIGH, CasePriority.URGENT]


class CaseOrigin(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WEB = "web", _("Web form / portal")
    CHAT = "chat", _("Chat")
    VISIT = "visit", _("Store visit")
    API = "api", _("API")


# The interaction-log channel of each origin (SPEC §6 channels).
ORIGIN_CHANNEL = {CaseOrigin.PHONE: Channel.PHONE, CaseOrigin.EMAIL: Channel.EMAIL, CaseOrigin.WEB: Channel.WEB,
                  CaseOrigin.CHAT: Channel.CHAT, CaseOrigin.VISIT: Channel.VISIT, CaseOrigin.API: Channel.WEB}


class CaseCategory(models.TextChoices):
    BILLING = "billing", _("Billing")
    TECHNICAL = "technical", _("Technical problem")
    NETWORK = "network", _("Network / coverage")
    ACCOUNT = "account", _("Account and contract")
    ORDER = "order", _("Order and delivery")
    PRODUCT = "product", _("Product question")
    COMPLAINT = "complaint", _("Complaint")
    OTHER = "other", _("Other")


class EntitlementStatus(models.TextChoices):
    NOT_CHECKED = "", _("Not checked")
    COVERED = "covered", _("Covered")
    NO_CONTRACT = "no_contract", _("No service contract")
    NOT_COVERED = "not_covered", _("Not covered by the contract")
    EXHAUSTED = "exhausted", _("Entitlement used up")
    EXPIRED = "expired", _("Contract expired")


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    CHINESE = "zh-hans", "简体中文"


# ======================================================================================
# Numbering
# ======================================================================================
class NumberSequence(models.Model):
    """The last number handed out per prefix and year, e.g. ``CS-2026`` → 123."""

    key = models.CharField(_("key"), max_length=20, unique=True, help_text=_("Prefix and year, e.g. CS-2026."))
    last = models.PositiveIntegerField(_("last number"), default=0, help_text=_("Last number given out."))

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


# ======================================================================================
# SLA: business calendars, policies, escalation rules
# ======================================================================================
class ServiceCalendar(models.Model):
    """Opening hours of a service desk in its time zone, with holidays and special days."""

    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("E.g. Shanghai office hours."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai",
                                 help_text=_("IANA time zone, e.g. Asia/Shanghai or Europe/Berlin."))
    weekly_hours = models.JSONField(_("weekly hours"), default=dict, blank=True,
                                    help_text=_('Opening hours per weekday, e.g. {"mon": "09:00-12:00, 13:00-18:00"}; '
                                                "a missing day is closed."))

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday (closed)")
    SPECIAL = "special", _("Special hours (e.g. make-up working day)")


class CalendarDay(models.Model):
    calendar = models.ForeignKey(ServiceCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE,
                                 related_name="days", help_text="")
    date = models.DateField(_("date"), help_text=_("Local date in the calendar's time zone."))
    kind = models.CharField(_("kind"), max_length=10, choices=CalendarDayKind.choices, default=CalendarDayKind.HOLIDAY,
                            help_text=_("Closed all day, or open with special hours."))
    hours = models.CharField(_("hours"), max_length=120, blank=True,
                             help_text=_("Opening hours on a special day, e.g. 09:00-18:00."))
    name = models.CharField(_("name"), max_length=120, blank=True, help_text=_("E.g. National Day."))

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="service_calendar_day_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaPolicy(models.Model):
    """Targets for first response and resolution, in working time of a calendar.

    The policy of a case is the one named by its service contract, else the most specific
    active policy matching its priority and the customer's value tier (blank matches any),
    lowest ``position`` first among equals.
    """

    # --- fields ---
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("E.g. Gold urgent."))
    priority = models.CharField(_("priority"), max_length=10, choices=CasePriority.choices, blank=True,
                                help_text=_("Cases of this priority; blank for any."))
    customer_tier = models.CharField(_("customer tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                     help_text=_("Customers of this value tier; blank for any."))
    calendar = models.ForeignKey(ServiceCalendar, verbose_name=_("business calendar"), on_delete=models.PROTECT,
                                 related_name="policies", help_text=_("Hours in which the targets count."))
    first_response_minutes = models.PositiveIntegerField(_("first response target (minutes)"),
                                                         help_text=_("Working minutes to the first reply."))
    resolution_minutes = models.PositiveIntegerField(_("resolution target (minutes)"),
                                                     help_text=_("Working minutes to resolution, "
                                                                 "not counting time pending the customer."))
    warning_percent = models.PositiveSmallIntegerField(_("warning at (%)"), default=80,
                                                       help_text=_("Warn when this share of a target is used."))
    position = models.PositiveIntegerField(_("position"), default=100, help_text=_("Lower wins among equals."))
    is_active = models.BooleanField(_("active"), default=True, help_text="")

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class SlaTrigger(models.TextChoices):
    FIRST_RESPONSE_WARNING = "first_response_warning", _("First response target nearly used")
    FIRST_RESPONSE_BREACH = "first_response_breach", _("First response target breached")
    RESOLUTION_WARNING = "resolution_warning", _("Resolution target nearly used")
    RESOLUTION_BREACH = "resolution_breach", _("Resolution target breached")


class EscalationRule(models.Model):
    """What happens when a case of a policy reaches a warning or a breach."""

    policy = models.ForeignKey(SlaPolicy, verbose_name=_("SLA policy"), on_delete=models.CASCADE,
                               related_name="escalation_rules", help_text="")
    trigger = models.CharField(_("when"), max_length=30, choices=SlaTrigger.choices, help_text="")
    reassign_queue = models.ForeignKey("ServiceQueue", verbose_name=_("move to queue"), null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+",
                                       help_text=_("Route the case again through this queue."))
    reassign_to = models.ForeignKey(User, verbose_name=_("reassign to"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    help_text=_("Give the case to this person."))
    raise_priority = models.BooleanField(_("raise priority"), default=False,
                                         help_text=_("One step up, up to urgent."))
    mark_escalated = models.BooleanField(_("mark escalated"), default=True,
                                         help_text=_("Set the case status to escalated."))
    notify_assignee = models.BooleanField(_("notify assignee"), default=True, help_text="")
    notify_users = models.ManyToManyField(User, verbose_name=_("notify"), blank=True, related_name="+",
                                          help_text=_("Also notify these people, e.g. the supervisor."))

    class Meta:
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")
        ordering = ["policy", "trigger", "id"]

    def __str__(self) -> str:
        return f"{self.policy}: {self.get_trigger_display()}"


# ======================================================================================
# Queues and agents (routed by the ACD engine, guanxi.contactcenter.acd)
# ======================================================================================
class QueueStrategy(models.TextChoices):
    ROUND_ROBIN = "rrmemory", _("Round robin")
    LEAST_LOADED = "least-loaded", _("Least loaded")
    LONGEST_IDLE = "leastrecent", _("Longest since last assignment")
    LINEAR = "linear", _("Fixed order")


class ServiceQueue(models.Model):
    # --- fields ---
    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("Short unique code, e.g. billing."))
    name = models.CharField(_("name"), max_length=120, help_text="")
    strategy = models.CharField(_("assignment"), max_length=20, choices=QueueStrategy.choices,
                                default=QueueStrategy.LEAST_LOADED, help_text=_("How an agent is chosen."))
    required_skills = models.JSONField(_("required skills"), default=dict, blank=True,
                                       help_text=_('Skill → minimum level 1-10, e.g. {"billing": 3}; agents '
                                                   "holding them serve the queue."))
    categories = models.JSONField(_("categories"), default=list, blank=True,
                                  help_text=_("New cases of these categories join this queue."))
    experts_from_priority = models.CharField(_("experts from priority"), max_length=10, choices=CasePriority.choices,
                                             blank=True, help_text=_("Cases of this priority or higher go to the "
                                                                     "most skilled free agent."))
    supervisor = models.ForeignKey(User, verbose_name=_("supervisor"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="supervised_service_queues",
                                   help_text=_("Notified when no agent can take a case."))
    last_assigned = models.ForeignKey(User, verbose_name=_("last assigned"), null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+", editable=False,
                                      help_text=_("Round robin continues after this agent."))
    is_active = models.BooleanField(_("active"), default=True, help_text="")

    class Meta:
        verbose_name = _("service queue")
        verbose_name_plural = _("service queues")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceAgent(models.Model):
    """A person who takes cases (and, as a technician, field visits)."""

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="service_agent", help_text="")
    skills = models.JSONField(_("skills"), default=dict, blank=True,
                              help_text=_('Skill → level 1-10, e.g. {"billing": 8, "network": 4}.'))
    max_open_cases = models.PositiveIntegerField(_("maximum open cases"), default=20,
                                                 help_text=_("No new case is assigned beyond this many."))
    accepting_cases = models.BooleanField(_("accepting cases"), default=True,
                                          help_text=_("Off while away; cases wait in the queue."))
    is_technician = models.BooleanField(_("field technician"), default=False,
                                        help_text=_("Can be dispatched to field-service visits."))
    calendar = models.ForeignKey(ServiceCalendar, verbose_name=_("working hours"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 help_text=_("When a technician can be booked."))
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True, editable=False,
                                            help_text="")

    class Meta:
        verbose_name = _("service agent")
        verbose_name_plural = _("service agents")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)


class QueueMembership(models.Model):
    """An explicit member of a queue (besides the agents whose skills qualify them)."""

    queue = models.ForeignKey(ServiceQueue, verbose_name=_("queue"), on_delete=models.CASCADE,
                              related_name="memberships", help_text="")
    agent = models.ForeignKey(ServiceAgent, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="memberships", help_text="")
    penalty = models.PositiveSmallIntegerField(_("penalty"), default=0,
                                               help_text=_("Higher penalties are tried only when lower ones are busy."))

    class Meta:
        verbose_name = _("queue membership")
        verbose_name_plural = _("queue memberships")
        constraints = [models.UniqueConstraint(fields=["queue", "agent"], name="service_queue_member_unique")]

    def __str__(self) -> str:
        return f"{self.agent} @ {self.queue}"


# ======================================================================================
# Service contracts and entitlements
# ======================================================================================
class ServiceContract(models.Model):
    # --- fields ---
    number = models.CharField(_("number"), max_length=20, unique=True, help_text=_("E.g. SC-2026-000001."))
    name = models.CharField(_("name"), max_length=200, help_text=_("E.g. Premium support 2026."))
    account = models.ForeignKey(Account, verbose_name=_("customer"), on_delete=models.PROTECT,
                                related_name="service_contracts", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="service_contracts",
                                help_text=_("Person covered, when the contract is personal."))
    starts_on = models.DateField(_("starts on"), help_text="")
    ends_on = models.DateField(_("ends on"), help_text=_("Last day covered."))
    sla_policy = models.ForeignKey(SlaPolicy, verbose_name=_("SLA policy"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="contracts",
                                   help_text=_("Targets promised by this contract."))
    sales_contract_ref = models.CharField(_("sales contract"), max_length=64, blank=True,
                                          help_text=_("Reference of the sales contract this came from."))
    notes = models.TextField(_("notes"), blank=True, help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text="")

    class Meta:
        verbose_name = _("service contract")
        verbose_name_plural = _("service contracts")
        ordering = ["-starts_on", "number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def covers_date(self, day) -> bool:
        return self.starts_on <= day <= self.ends_on


class EntitlementUnit(models.TextChoices):
    INCIDENTS = "incidents", _("Incidents")
    HOURS = "hours", _("Hours")


class Entitlement(models.Model):
    """What a contract covers and how much of it is left."""

    contract = models.ForeignKey(ServiceContract, verbose_name=_("contract"), on_delete=models.CASCADE,
                                 related_name="entitlements", help_text="")
    name = models.CharField(_("name"), max_length=120, help_text=_("E.g. Remote support incidents."))
    unit = models.CharField(_("unit"), max_length=10, choices=EntitlementUnit.choices,
                            default=EntitlementUnit.INCIDENTS, help_text="")
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2,
                                   help_text=_("Incidents or hours included."))
    used = models.DecimalField(_("used"), max_digits=10, decimal_places=2, default=Decimal("0"), help_text="")
    categories = models.JSONField(_("categories"), default=list, blank=True,
                                  help_text=_("Case categories covered; empty covers all."))
    products = models.JSONField(_("products"), default=list, blank=True,
                                help_text=_("Products covered; empty covers all."))

    class Meta:
        verbose_name = _("entitlement")
        verbose_name_plural = _("entitlements")
        ordering = ["contract", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.remaining} {self.get_unit_display()})"

    @property
    def remaining(self) -> Decimal:
        return max(Decimal("0"), self.quantity - self.used)

    def covers(self, category: str, product: str) -> bool:
        category_ok = not self.categories or category in self.categories
        product_ok = not self.products or (product or "").strip().lower() in {
            item.strip().lower() for item in self.products}
        return category_ok and product_ok


# ======================================================================================
# Cases
# ======================================================================================
class Case(models.Model):
    # --- fields: what ---
    number = models.CharField(_("number"), max_length=20, unique=True,
                              help_text=_("Case number, e.g. CS-2026-000123."))
    subject = models.CharField(_("subject"), max_length=200, help_text=_("One-line summary."))
    description = models.TextField(_("description"), blank=True, help_text=_("The problem as first reported."))
    status = models.CharField(_("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.NEW,
                              db_index=True, help_text="")
    priority = models.CharField(_("priority"), max_length=10, choices=CasePriority.choices,
                                default=CasePriority.NORMAL, help_text="")
    category = models.CharField(_("category"), max_length=20, choices=CaseCategory.choices,
                                default=CaseCategory.OTHER, help_text="")
    origin = models.CharField(_("channel"), max_length=10, choices=CaseOrigin.choices, default=CaseOrigin.PHONE,
                              help_text=_("Where the case came from."))
    product = models.CharField(_("product"), max_length=200, blank=True, help_text=_("Product concerned."))
    product_ref = models.CharField(_("product reference"), max_length=64, blank=True,
                                   help_text=_("ID of the product record, when linked."))
    order_ref = models.CharField(_("order"), max_length=64, blank=True, help_text=_("Order this case is about."))
    sales_contract_ref = models.CharField(_("sales contract"), max_length=64, blank=True,
                                          help_text=_("Sales contract this case is about."))
    order = models.ForeignKey("sales.Order", verbose_name=_("linked order"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="service_cases",
                              help_text=_("The customer's sales order the order number names."))
    sales_contract = models.ForeignKey("sales.Contract", verbose_name=_("linked sales contract"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="service_cases",
                                       help_text=_("The customer's sales contract the contract number names."))
    # --- fields: who ---
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="service_cases", help_text="")
    account = models.ForeignKey(Account, verbose_name=_("customer"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="service_cases", help_text="")
    requester_email = models.EmailField(_("requester email"), blank=True,
                                        help_text=_("Address the case came from or replies go to."))
    requester_name = models.CharField(_("requester name"), max_length=200, blank=True, help_text="")
    needs_triage = models.BooleanField(_("needs triage"), default=False, db_index=True,
                                       help_text=_("Sender unknown: link the case to a customer."))
    assignee = models.ForeignKey(User, verbose_name=_("assignee"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_cases", help_text="")
    queue = models.ForeignKey(ServiceQueue, verbose_name=_("queue"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="cases", help_text="")
    queued_at = models.DateTimeField(_("waiting since"), null=True, blank=True,
                                     help_text=_("Waiting in the queue for an agent since."))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text=_("Team of the assignee."))
    territory = models.ForeignKey(Territory, verbose_name=_("territory"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  help_text=_("Territory of the customer."))
    created_by = models.ForeignKey(User, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    # --- fields: contract ---
    service_contract = models.ForeignKey(ServiceContract, verbose_name=_("service contract"), null=True,
                                         blank=True, on_delete=models.SET_NULL, related_name="cases", help_text="")
    entitlement = models.ForeignKey(Entitlement, verbose_name=_("entitlement"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="cases", help_text="")
    entitlement_status = models.CharField(_("entitlement"), max_length=20, choices=EntitlementStatus.choices,
                                          blank=True, help_text=_("Result of the check when the case opened."))
    # --- fields: SLA ---
    sla_policy = models.ForeignKey(SlaPolicy, verbose_name=_("SLA policy"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="cases", help_text="")
    first_response_target_seconds = models.PositiveIntegerField(_("first response target (s)"), null=True,
                                                                blank=True, help_text="")
    resolution_target_seconds = models.PositiveIntegerField(_("resolution target (s)"), null=True, blank=True,
                                                            help_text="")
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True, help_text="")
    first_response_warning_at = models.DateTimeField(_("first response warning"), null=True, blank=True,
                                                     help_text="")
    first_responded_at = models.DateTimeField(_("first responded at"), null=True, blank=True, help_text="")
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True,
                                             help_text=_("Empty while the clock is paused."))
    resolution_warning_at = models.DateTimeField(_("resolution warning"), null=True, blank=True, help_text="")
    resolution_used_seconds = models.FloatField(_("resolution time used (s)"), default=0.0,
                                                help_text=_("Working seconds counted before the last pause."))
    resolution_clock_since = models.DateTimeField(_("resolution clock running since"), null=True, blank=True,
                                                  help_text=_("Empty while paused, resolved or closed."))
    first_response_warned = models.BooleanField(_("first response warned"), default=False, help_text="")
    first_response_breached = models.BooleanField(_("first response breached"), default=False, help_text="")
    resolution_warned = models.BooleanField(_("resolution warned"), default=False, help_text="")
    resolution_breached = models.BooleanField(_("resolution breached"), default=False, help_text="")
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0, help_text="")
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, help_text="")
    # --- fields: outcome ---
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, help_text="")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, help_text="")
    resolution_note = models.TextField(_("resolution"), blank=True, help_text=_("How the case was solved."))
    reopened_count = models.PositiveSmallIntegerField(_("times reopened"), default=0, help_text="")
    first_contact_resolution = models.BooleanField(_("first-contact resolution"), null=True, blank=True,
                                                   help_text=_("Solved with one reply and never reopened."))
    episode = models.ForeignKey(Episode, verbose_name=_("episode"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                help_text=_("The case on the customer's interaction history."))
    search_text = models.TextField(_("search text"), blank=True, editable=False,
                                   help_text=_("Normalized text indexed for full-text search."))
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change; "
                                                                             "stale edits are refused."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    SEARCH_FIELDS = ("number", "subject", "description", "requester_email", "product", "order_ref")

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "resolution_due_at"], name="case_status_resolution_due"),
            models.Index(fields=["status", "first_response_due_at"], name="case_status_response_due"),
            models.Index(fields=["assignee", "status"], name="case_assignee_status"),
            models.Index(fields=["queue", "status", "queued_at"], name="case_queue_waiting"),
            models.Index(fields=["contact", "-created_at"], name="case_contact_created"),
            models.Index(fields=["account", "-created_at"], name="case_account_created"),
            models.Index(fields=["team", "-created_at"], name="case_team_created"),
            models.Index(fields=["territory", "-created_at"], name="case_territory_created"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def email_subject(self) -> str:
        return f"[{self.number}] {self.subject}"


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", _("From the customer")
    REPLY = "reply", _("Reply to the customer")
    NOTE = "note", _("Internal note")


class DeliveryStatus(models.TextChoices):
    NONE = "", _("Not sent")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class CaseMessage(models.Model):
    """One message of a case's thread: from the customer, a reply to them, or an internal note."""

    # --- fields ---
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="messages",
                             help_text="")
    kind = models.CharField(_("kind"), max_length=10, choices=MessageKind.choices, help_text="")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.EMAIL,
                               help_text="")
    author = models.ForeignKey(User, verbose_name=_("author"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", help_text=_("Employee who wrote it."))
    from_address = models.CharField(_("from"), max_length=320, blank=True, help_text="")
    to_addresses = models.CharField(_("to"), max_length=1000, blank=True, help_text="")
    subject = models.CharField(_("subject"), max_length=300, blank=True, help_text="")
    body = models.TextField(_("text"), blank=True, help_text="")
    message_id = models.CharField(_("Message-ID"), max_length=300, null=True, blank=True, unique=True,
                                  help_text=_("Email Message-ID; replies thread by it."))
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=300, blank=True, help_text="")
    references = models.TextField(_("References"), blank=True, help_text="")
    delivery_status = models.CharField(_("delivery"), max_length=10, choices=DeliveryStatus.choices, blank=True,
                                       help_text=_("For replies sent by email."))
    interaction = models.ForeignKey(Interaction, verbose_name=_("interaction"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    help_text=_("The message on the customer's timeline."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("case message")
        verbose_name_plural = _("case messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="case_message_thread")]

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class CaseAttachment(models.Model):
    message = models.ForeignKey(CaseMessage, verbose_name=_("message"), on_delete=models.CASCADE,
                                related_name="attachments", help_text="")
    file = models.FileField(_("file"), upload_to="service/attachments/%Y/%m/", max_length=300, help_text="")
    name = models.CharField(_("name"), max_length=255, help_text=_("File name as sent."))
    content_type = models.CharField(_("type"), max_length=120, blank=True, help_text="")
    size = models.PositiveBigIntegerField(_("size"), default=0, help_text=_("Bytes."))
    sha256 = models.CharField(_("fingerprint"), max_length=64, blank=True, help_text="")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class CaseEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    QUEUED = "queued", _("Waiting in queue")
    PRIORITY = "priority", _("Priority changed")
    ESCALATED = "escalated", _("Escalated")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breached")
    REOPENED = "reopened", _("Reopened")
    ENTITLEMENT = "entitlement", _("Entitlement checked")
    CUSTOMER_LINKED = "customer_linked", _("Customer linked")
    FIRST_RESPONSE = "first_response", _("First response")
    KNOWLEDGE = "knowledge", _("Knowledge article used")
    VISIT = "visit", _("Field visit")


class CaseEvent(models.Model):
    """The history of a case: status changes, (re)assignments, escalations, SLA events."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="events",
                             help_text="")
    at = models.DateTimeField(_("at"), default=timezone.now, help_text="")
    actor = models.ForeignKey(User, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("Empty when the system did it."))
    kind = models.CharField(_("kind"), max_length=20, choices=CaseEventKind.choices, help_text="")
    from_value = models.CharField(_("from"), max_length=200, blank=True, help_text="")
    to_value = models.CharField(_("to"), max_length=200, blank=True, help_text="")
    detail = models.CharField(_("detail"), max_length=500, blank=True, help_text="")

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.from_value} → {self.to_value}"


class EntitlementUsage(models.Model):
    entitlement = models.ForeignKey(Entitlement, verbose_name=_("entitlement"), on_delete=models.CASCADE,
                                    related_name="usages", help_text="")
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="entitlement_usages", help_text="")
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, help_text="")
    note = models.CharField(_("note"), max_length=200, blank=True, help_text="")
    actor = models.ForeignKey(User, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="")
    at = models.DateTimeField(_("at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("entitlement usage")
        verbose_name_plural = _("entitlement usage")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.entitlement_id}: {self.quantity}"


class ServiceNotification(models.Model):
    """A notice to a person: an SLA warning, an escalation, a case assigned to them."""

    recipient = models.ForeignKey(User, verbose_name=_("recipient"), on_delete=models.CASCADE,
                                  related_name="service_notifications", help_text="")
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="notifications", help_text="")
    kind = models.CharField(_("kind"), max_length=30, help_text=_("E.g. resolution_breach, assigned."))
    text = models.CharField(_("text"), max_length=500, help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    read_at = models.DateTimeField(_("read at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("service notification")
        verbose_name_plural = _("service notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="service_notice_inbox")]

    def __str__(self) -> str:
        return self.text


# ======================================================================================
# Email in
# ======================================================================================
class InboundOutcome(models.TextChoices):
    CREATED = "created", _("New case")
    THREADED = "threaded", _("Added to a case")
    REOPENED = "reopened", _("Reopened a case")
    AUTOMATIC = "automatic", _("Auto-reply or bounce: no case")
    FAILED = "failed", _("Could not be processed")


class InboundEmail(models.Model):
    """Every email received, once: the raw message is kept, and a second delivery of the
    same Message-ID finds this row instead of making a second case."""

    message_id = models.CharField(_("Message-ID"), max_length=300, unique=True,
                                  help_text=_("From the header, or derived from the content when missing."))
    sha256 = models.CharField(_("fingerprint"), max_length=64, help_text=_("SHA-256 of the raw message."))
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True, help_text="")
    received_via = models.CharField(_("received via"), max_length=20, default="smtp",
                                    help_text=_("smtp, imap or api."))
    envelope_from = models.CharField(_("envelope sender"), max_length=320, blank=True, help_text="")
    sender = models.CharField(_("sender"), max_length=320, blank=True, help_text=_("Address in From."))
    subject = models.CharField(_("subject"), max_length=300, blank=True, help_text="")
    size = models.PositiveIntegerField(_("size"), default=0, help_text=_("Bytes."))
    raw_file = models.CharField(_("raw message file"), max_length=300, blank=True,
                                help_text=_("Where the message as received is kept, under MEDIA_ROOT."))
    outcome = models.CharField(_("outcome"), max_length=10, choices=InboundOutcome.choices, help_text="")
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="inbound_emails", help_text="")
    problems = models.JSONField(_("problems"), default=list, blank=True,
                                help_text=_("What was wrong with the message and how it was handled."))

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject}"


# ======================================================================================
# Knowledge base
# ======================================================================================
class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class KnowledgeArticle(models.Model):
    """A problem and its solution, written in English and/or Chinese, with every version kept."""

    category = models.CharField(_("category"), max_length=20, choices=CaseCategory.choices,
                                default=CaseCategory.OTHER, help_text="")
    products = models.JSONField(_("products"), default=list, blank=True, help_text=_("Products it applies to."))
    status = models.CharField(_("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT,
                              db_index=True, help_text=_("Only published articles are suggested."))
    created_by = models.ForeignKey(User, verbose_name=_("author"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")
    helpful_count = models.PositiveIntegerField(_("helpful"), default=0, help_text=_("Times it solved a case."))

    class Meta:
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"KB-{self.pk}"


class KnowledgeArticleVersion(models.Model):
    """One saved version of an article in one language; the newest is ``is_current``."""

    article = models.ForeignKey(KnowledgeArticle, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="versions", help_text="")
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, help_text="")
    number = models.PositiveIntegerField(_("version"), help_text=_("1, 2, 3… per language."))
    title = models.CharField(_("title"), max_length=200, help_text=_("The problem in one line."))
    problem = models.TextField(_("problem"), blank=True, help_text=_("Symptoms as customers describe them."))
    solution = models.TextField(_("solution"), help_text=_("Steps that solve it."))
    keywords = models.CharField(_("keywords"), max_length=300, blank=True, help_text=_("Other words people use."))
    author = models.ForeignKey(User, verbose_name=_("author"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", help_text="")
    change_note = models.CharField(_("change note"), max_length=200, blank=True, help_text=_("What changed."))
    is_current = models.BooleanField(_("current"), default=True, db_index=True, help_text="")
    search_text = models.TextField(_("search text"), blank=True, editable=False,
                                   help_text=_("Normalized text indexed for full-text search."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")

    SEARCH_FIELDS = ("title", "problem", "solution", "keywords")

    class Meta:
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        ordering = ["article", "language", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "language", "number"], name="kb_version_unique"),
            models.UniqueConstraint(fields=["article", "language"], condition=models.Q(is_current=True),
                                    name="kb_one_current_version"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language} v{self.number})"


# ======================================================================================
# Complaints
# ======================================================================================
class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    INVESTIGATING = "investigating", _("Investigating root cause")
    ACTION = "action", _("Corrective action under way")
    VERIFYING = "verifying", _("Verifying effectiveness")
    CLOSED = "closed", _("Closed")


COMPLAINT_FLOW: dict[str, tuple[str, ...]] = {
    ComplaintStatus.RECEIVED: (ComplaintStatus.INVESTIGATING, ComplaintStatus.CLOSED),
    ComplaintStatus.INVESTIGATING: (ComplaintStatus.ACTION,),
    ComplaintStatus.ACTION: (ComplaintStatus.VERIFYING, ComplaintStatus.INVESTIGATING),
    ComplaintStatus.VERIFYING: (ComplaintStatus.CLOSED, ComplaintStatus.ACTION),
    ComplaintStatus.CLOSED: (ComplaintStatus.INVESTIGATING,),
}


class ComplaintSeverity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Complaint(models.Model):
    """A complaint as a tracked process: received, root cause found, corrective action taken
    and verified, then closed."""

    # --- fields ---
    number = models.CharField(_("number"), max_length=20, unique=True, help_text=_("E.g. CP-2026-000001."))
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="complaints", help_text=_("Case the complaint arose from."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="complaints", help_text="")
    account = models.ForeignKey(Account, verbose_name=_("customer"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="complaints", help_text="")
    subject = models.CharField(_("subject"), max_length=200, help_text="")
    description = models.TextField(_("description"), help_text=_("The complaint in the customer's words."))
    severity = models.CharField(_("severity"), max_length=10, choices=ComplaintSeverity.choices,
                                default=ComplaintSeverity.MEDIUM, help_text="")
    status = models.CharField(_("status"), max_length=20, choices=ComplaintStatus.choices,
                              default=ComplaintStatus.RECEIVED, db_index=True, help_text="")
    root_cause = models.TextField(_("root cause"), blank=True, help_text=_("Why it happened."))
    corrective_action = models.TextField(_("corrective action"), blank=True,
                                         help_text=_("What was done to put it right."))
    preventive_action = models.TextField(_("preventive action"), blank=True,
                                         help_text=_("What stops it happening again."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="owned_complaints", help_text=_("Person responsible."))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="")
    territory = models.ForeignKey(Territory, verbose_name=_("territory"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", help_text="")
    due_on = models.DateField(_("due on"), null=True, blank=True, help_text=_("Answer promised by."))
    received_at = models.DateTimeField(_("received at"), default=timezone.now, help_text="")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text="")

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class ComplaintStep(models.Model):
    """Each move of a complaint through its process, with what was found or done."""

    complaint = models.ForeignKey(Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE,
                                  related_name="steps", help_text="")
    from_status = models.CharField(_("from"), max_length=20, blank=True, help_text="")
    to_status = models.CharField(_("to"), max_length=20, help_text="")
    note = models.TextField(_("note"), blank=True, help_text="")
    actor = models.ForeignKey(User, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="")
    at = models.DateTimeField(_("at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("complaint step")
        verbose_name_plural = _("complaint steps")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.from_status} → {self.to_status}"


# ======================================================================================
# Satisfaction surveys
# ======================================================================================
class SurveyKind(models.TextChoices):
    CSAT = "csat", _("Satisfaction (CSAT, 1-5)")
    NPS = "nps", _("Recommendation (NPS, 0-10)")
    BOTH = "both", _("CSAT and NPS")


class Survey(models.Model):
    """A satisfaction survey sent when a case is resolved, answered through a signed link.

    Who handled the case, which product and channel, are copied when the survey is sent so
    results per agent, product and channel stay true after the case changes hands.
    """

    # --- fields ---
    case = models.OneToOneField(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="survey",
                                help_text="")
    kind = models.CharField(_("kind"), max_length=10, choices=SurveyKind.choices, default=SurveyKind.BOTH,
                            help_text="")
    token = models.CharField(_("token"), max_length=64, unique=True, editable=False,
                             help_text=_("Random part of the survey link."))
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.CHINESE,
                                help_text=_("Language of the survey page and email."))
    recipient_email = models.EmailField(_("sent to"), blank=True, help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="service_surveys", help_text="")
    account = models.ForeignKey(Account, verbose_name=_("customer"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="service_surveys", help_text="")
    agent = models.ForeignKey(User, verbose_name=_("agent"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="service_surveys", help_text=_("Who handled the case."))
    product = models.CharField(_("product"), max_length=200, blank=True, help_text="")
    channel = models.CharField(_("channel"), max_length=10, choices=CaseOrigin.choices, blank=True, help_text="")
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, db_index=True, help_text="")
    delivery_status = models.CharField(_("delivery"), max_length=10, choices=DeliveryStatus.choices, blank=True,
                                       help_text="")
    expires_at = models.DateTimeField(_("expires at"), help_text=_("The link stops working after this."))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True, db_index=True, help_text="")
    csat_score = models.PositiveSmallIntegerField(_("CSAT"), null=True, blank=True,
                                                  help_text=_("1 (very unsatisfied) to 5 (very satisfied)."))
    nps_score = models.PositiveSmallIntegerField(_("NPS"), null=True, blank=True,
                                                 help_text=_("0 to 10: how likely to recommend us."))
    comment = models.TextField(_("comment"), blank=True, help_text="")

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


# ======================================================================================
# Field service
# ======================================================================================
class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    DISPATCHED = "dispatched", _("Dispatched (on the way)")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


VISIT_FLOW: dict[str, tuple[str, ...]] = {
    VisitStatus.SCHEDULED: (VisitStatus.DISPATCHED, VisitStatus.CANCELLED),
    VisitStatus.DISPATCHED: (VisitStatus.IN_PROGRESS, VisitStatus.CANCELLED, VisitStatus.SCHEDULED),
    VisitStatus.IN_PROGRESS: (VisitStatus.COMPLETED,),
    VisitStatus.COMPLETED: (),
    VisitStatus.CANCELLED: (),
}
ACTIVE_VISIT_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.DISPATCHED, VisitStatus.IN_PROGRESS)


class FieldVisit(models.Model):
    # --- fields ---
    number = models.CharField(_("number"), max_length=20, unique=True, help_text=_("E.g. FV-2026-000001."))
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="visits",
                             help_text="")
    technician = models.ForeignKey(User, verbose_name=_("technician"), on_delete=models.PROTECT,
                                   related_name="field_visits", help_text="")
    starts_at = models.DateTimeField(_("starts at"), help_text="")
    ends_at = models.DateTimeField(_("ends at"), help_text="")
    address = models.CharField(_("address"), max_length=300, help_text=_("Where the technician goes."))
    status = models.CharField(_("status"), max_length=20, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED,
                              db_index=True, help_text="")
    notes = models.TextField(_("instructions"), blank=True, help_text="")
    outcome = models.TextField(_("outcome"), blank=True, help_text=_("Work done, parts used."))
    created_by = models.ForeignKey(User, verbose_name=_("booked by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text="")

    class Meta:
        verbose_name = _("field visit")
        verbose_name_plural = _("field visits")
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["technician", "starts_at"], name="visit_technician_start")]

    def __str__(self) -> str:
        return f"{self.number} {self.starts_at:%Y-%m-%d %H:%M}"


class TechnicianTimeOff(models.Model):
    technician = models.ForeignKey(User, verbose_name=_("technician"), on_delete=models.CASCADE,
                                   related_name="service_time_off", help_text="")
    starts_at = models.DateTimeField(_("starts at"), help_text="")
    ends_at = models.DateTimeField(_("ends at"), help_text="")
    reason = models.CharField(_("reason"), max_length=200, blank=True, help_text=_("Leave, training…"))

    class Meta:
        verbose_name = _("technician time off")
        verbose_name_plural = _("technician time off")
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.technician} {self.starts_at:%Y-%m-%d}"
