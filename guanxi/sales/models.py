"""Sales force automation (SPEC §2): leads, pipelines, opportunities, products and prices,
quotes, orders, contracts, activities, territories, quotas, competitors, expenses,
commissions and the sales knowledge board.

Members of each model are grouped in a fixed order: fields, Meta, ``__str__``, methods.
Writes go through ``guanxi.sales.services``; reads with access checks through
``guanxi.sales.selectors``. Money is ``Decimal`` with a currency next to it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import Account, Channel, Contact, Role, Tag, Team, Territory, User, ValueTier

MONEY = {"max_digits": 16, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2,
           "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]}


# ======================================================================================
# Choices
# ======================================================================================
class Currency(models.TextChoices):
    CNY = "CNY", _("Chinese yuan (CNY)")
    USD = "USD", _("US dollar (USD)")
    EUR = "EUR", _("Euro (EUR)")
    GBP = "GBP", _("Pound sterling (GBP)")
    HKD = "HKD", _("Hong Kong dollar (HKD)")
    JPY = "JPY", _("Japanese yen (JPY)")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")
    CONVERTED = "converted", _("Converted")


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")
    CAMPAIGN = "campaign", _("Campaign")
    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner")
    EVENT = "event", _("Event or seminar")
    PHONE = "phone", _("Inbound call")


class DisqualifyReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_NEED = "no_need", _("No need")
    NO_AUTHORITY = "no_authority", _("Not a decision maker")
    BAD_TIMING = "bad_timing", _("Bad timing")
    COMPETITOR = "competitor", _("Bought from a competitor")
    DUPLICATE = "duplicate", _("Duplicate")
    SPAM = "spam", _("Spam or fake")
    UNREACHABLE = "unreachable", _("Could not be reached")
    OTHER = "other", _("Other")


class LeadBehaviourKind(models.TextChoices):
    PAGE_VIEW = "page_view", _("Visited a web page")
    EMAIL_OPEN = "email_open", _("Opened an email")
    EMAIL_CLICK = "email_click", _("Clicked a link in an email")
    FORM_SUBMIT = "form_submit", _("Submitted a form")
    DOWNLOAD = "download", _("Downloaded material")
    EVENT_ATTENDED = "event_attended", _("Attended an event")
    CALL = "call", _("Took a call")


class ScoringRuleKind(models.TextChoices):
    FIELD = "field", _("Field value")
    BEHAVIOUR = "behaviour", _("Behaviour")


class ScoringOperator(models.TextChoices):
    EQUALS = "equals", _("equals")
    NOT_EQUALS = "not_equals", _("does not equal")
    CONTAINS = "contains", _("contains")
    STARTS_WITH = "starts_with", _("starts with")
    IS_SET = "is_set", _("is filled in")
    IS_EMPTY = "is_empty", _("is empty")
    AT_LEAST = "at_least", _("is at least")
    AT_MOST = "at_most", _("is at most")


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Closed won")
    LOST = "lost", _("Closed lost")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    CLOSED = "closed", _("Closed")
    OMITTED = "omitted", _("Omitted")


class CloseReason(models.TextChoices):
    QUOTE_ACCEPTED = "quote_accepted", _("Quote accepted")
    PRICE = "price", _("Price")
    PRODUCT_FIT = "product_fit", _("Product fit")
    RELATIONSHIP = "relationship", _("Relationship")
    SERVICE = "service", _("Service and support")
    TIMING = "timing", _("Timing")
    BUDGET = "budget", _("Budget")
    COMPETITOR = "competitor", _("Lost to a competitor")
    NO_DECISION = "no_decision", _("No decision")
    OTHER = "other", _("Other")


class ProductKind(models.TextChoices):
    GOODS = "goods", _("Goods")
    SERVICE = "service", _("Service")
    SUBSCRIPTION = "subscription", _("Subscription")
    BUNDLE = "bundle", _("Bundle")


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    SUPERSEDED = "superseded", _("Superseded by a newer version")
    EXPIRED = "expired", _("Expired")


class ApprovalStatus(models.TextChoices):
    NOT_NEEDED = "not_needed", _("Not needed")
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class QuoteLineKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    OPTION = "option", _("Configured option")
    COMPONENT = "component", _("Bundle component")


class OrderStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    PROCESSING = "processing", _("Processing")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    RENEWED = "renewed", _("Renewed")
    TERMINATED = "terminated", _("Terminated")


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    TASK = "task", _("Task")
    EMAIL = "email", _("Email")


class ActivityStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class ActivityPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")


class ExpenseCategory(models.TextChoices):
    TRAVEL = "travel", _("Travel")
    LODGING = "lodging", _("Lodging")
    MEALS = "meals", _("Meals and entertainment")
    GIFTS = "gifts", _("Customer gifts")
    EVENTS = "events", _("Events and seminars")
    OTHER = "other", _("Other")


class ExpenseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REIMBURSED = "reimbursed", _("Reimbursed")


class KnowledgeKind(models.TextChoices):
    TIP = "tip", _("Tip")
    PLAYBOOK = "playbook", _("Playbook")
    BATTLECARD = "battlecard", _("Competitor battlecard")
    QUESTION = "question", _("Question")


class QuotaPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


# ======================================================================================
# Shared pieces
# ======================================================================================
class OwnedRecord(models.Model):
    """Owner, team and territory decide who sees a sales record (the access matrix's
    own / team / territory / all scopes); ``version`` guards against lost updates."""

    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the record."))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text=_("Team of the owner when the record was assigned."))
    territory = models.ForeignKey(Territory, verbose_name=_("territory"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", help_text=_("Sales territory."))
    version = models.PositiveIntegerField(_("version"), default=1,
                                          help_text=_("Raised on every change; stale edits are refused."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True,
                                      help_text=_("When the record was created."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now,
                                      help_text=_("When the record last changed."))

    class Meta:
        abstract = True


class DocumentSequence(models.Model):
    """The last number handed out per document kind and year (quotes, orders, contracts)."""

    key = models.CharField(_("key"), max_length=40, unique=True, help_text=_("Document kind and year, e.g. Q-2026."))
    last_value = models.PositiveIntegerField(_("last value"), default=0, help_text=_("Last number handed out."))

    class Meta:
        verbose_name = _("document sequence")
        verbose_name_plural = _("document sequences")

    def __str__(self) -> str:
        return f"{self.key}: {self.last_value}"


class ExchangeRate(models.Model):
    """How much one unit of a currency is worth in the base currency; forecasts and quotas
    add up amounts in the base currency."""

    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, unique=True,
                                help_text=_("ISO 4217 code."))
    rate_to_base = models.DecimalField(_("rate to base currency"), max_digits=18, decimal_places=8,
                                       validators=[MinValueValidator(Decimal("0.00000001"))],
                                       help_text=_("Value of one unit in the base currency."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text=_("When the rate was set."))

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency"]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate_to_base}"


# ======================================================================================
# Territories: named accounts, reassignment log, round-robin cursors
# ======================================================================================
class NamedAccount(models.Model):
    """An account that belongs to a territory by name, whatever its address says."""

    territory = models.ForeignKey(Territory, verbose_name=_("territory"), on_delete=models.CASCADE,
                                  related_name="named_accounts", help_text=_("Territory that owns the account."))
    account = models.OneToOneField(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                   related_name="named_territory", help_text=_("The named account."))

    class Meta:
        verbose_name = _("named account")
        verbose_name_plural = _("named accounts")

    def __str__(self) -> str:
        return f"{self.account} → {self.territory}"


class TerritoryReassignment(models.Model):
    """One reassignment of open leads and opportunities, kept as a log."""

    from_territory = models.ForeignKey(Territory, verbose_name=_("from territory"), null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+",
                                       help_text=_("Territory the records were in."))
    to_territory = models.ForeignKey(Territory, verbose_name=_("to territory"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     help_text=_("Territory the records moved to."))
    from_owner = models.ForeignKey(User, verbose_name=_("from owner"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("Only records of this owner were moved."))
    to_owner = models.ForeignKey(User, verbose_name=_("to owner"), null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text=_("New owner of the moved records."))
    leads_moved = models.PositiveIntegerField(_("leads moved"), default=0, help_text=_("Open leads moved."))
    opportunities_moved = models.PositiveIntegerField(_("opportunities moved"), default=0,
                                                      help_text=_("Open opportunities moved."))
    reason = models.CharField(_("reason"), max_length=300, blank=True, help_text=_("Why the records moved."))
    actor = models.ForeignKey(User, verbose_name=_("done by"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("Who reassigned."))
    at = models.DateTimeField(_("at"), default=timezone.now, help_text=_("When it happened."))

    class Meta:
        verbose_name = _("territory reassignment")
        verbose_name_plural = _("territory reassignments")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_territory} → {self.to_territory} ({self.at:%Y-%m-%d})"


class AssignmentCursor(models.Model):
    """Where round-robin assignment stopped last, per territory (or for everybody)."""

    key = models.CharField(_("key"), max_length=60, unique=True, help_text=_("territory:<id> or all."))
    last_user = models.ForeignKey(User, verbose_name=_("last assigned user"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", help_text=_("Who got the last lead."))

    class Meta:
        verbose_name = _("assignment cursor")
        verbose_name_plural = _("assignment cursors")

    def __str__(self) -> str:
        return self.key


# ======================================================================================
# Leads
# ======================================================================================
class Lead(OwnedRecord):
    # --- fields: who ---
    family_name = models.CharField(_("family name"), max_length=80, blank=True, help_text=_("Surname, e.g. 王."))
    given_name = models.CharField(_("given name"), max_length=80, blank=True, help_text=_("First name, e.g. 芳."))
    full_name = models.CharField(_("full name"), max_length=200,
                                 help_text=_("Name as shown; Chinese names family name first."))
    company = models.CharField(_("company"), max_length=200, blank=True, help_text=_("Company the person works for."))
    job_title = models.CharField(_("job title"), max_length=120, blank=True, help_text=_("Position."))
    email = models.EmailField(_("email"), blank=True, db_index=True, help_text=_("Email address, lower case."))
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True,
                             help_text=_("Phone in E.164 format."))
    industry = models.CharField(_("industry"), max_length=80, blank=True, help_text=_("Industry or sector."))
    country = models.CharField(_("country"), max_length=2, default="CN", help_text=_("ISO 3166 code."))
    province = models.CharField(_("province / state"), max_length=80, blank=True, help_text=_("Province or state."))
    city = models.CharField(_("city"), max_length=80, blank=True, help_text=_("City."))
    postcode = models.CharField(_("postcode"), max_length=12, blank=True, help_text=_("Postal code."))
    # --- fields: where from ---
    source = models.CharField(_("source"), max_length=20, choices=LeadSource.choices, default=LeadSource.MANUAL,
                              help_text=_("How the lead reached us."))
    campaign_id = models.PositiveIntegerField(_("campaign ID"), null=True, blank=True,
                                              help_text=_("Marketing campaign that produced the lead."))
    campaign_name = models.CharField(_("campaign"), max_length=200, blank=True,
                                     help_text=_("Name of the source campaign."))
    external_id = models.CharField(_("external ID"), max_length=64, null=True, blank=True, unique=True,
                                   help_text=_("Key in the source system; imports upsert on it."))
    # --- fields: qualification ---
    status = models.CharField(_("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW,
                              db_index=True, help_text=_("Where the lead stands."))
    score = models.IntegerField(_("score"), default=0, db_index=True,
                                help_text=_("Points from the scoring rules; higher is hotter."))
    estimated_amount = models.DecimalField(_("estimated amount"), **MONEY, null=True, blank=True,
                                           help_text=_("What the lead might buy for."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY,
                                help_text=_("Currency of the estimated amount."))
    disqualify_reason = models.CharField(_("disqualification reason"), max_length=20, blank=True,
                                         choices=DisqualifyReason.choices, help_text=_("Why the lead was dropped."))
    status_note = models.CharField(_("status note"), max_length=500, blank=True,
                                   help_text=_("Notes on qualifying or dropping the lead."))
    description = models.TextField(_("description"), blank=True, help_text=_("What the lead asked for."))
    # --- fields: conversion ---
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True,
                                        help_text=_("When the lead became a customer."))
    converted_account = models.ForeignKey(Account, verbose_name=_("converted account"), null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="source_leads",
                                          help_text=_("Account the lead was converted into."))
    converted_contact = models.ForeignKey(Contact, verbose_name=_("converted contact"), null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="source_leads",
                                          help_text=_("Contact the lead was converted into."))
    converted_opportunity = models.ForeignKey("Opportunity", verbose_name=_("converted opportunity"), null=True,
                                              blank=True, on_delete=models.SET_NULL, related_name="+",
                                              help_text=_("Opportunity opened on conversion."))
    submitted_ip = models.GenericIPAddressField(_("submitted from"), null=True, blank=True,
                                                help_text=_("Address a web form was sent from."))

    SEARCH_FIELDS = ("full_name", "company", "email", "phone", "campaign_name")
    OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            models.Index(fields=["territory", "status"], name="lead_territory_status"),
            models.Index(fields=["team", "status"], name="lead_team_status"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.company})" if self.company else self.full_name

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class LeadBehaviour(models.Model):
    """Something the lead did (opened an email, visited the pricing page…); scoring rules
    on behaviour count these."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="behaviours",
                             help_text=_("Lead who did it."))
    kind = models.CharField(_("kind"), max_length=20, choices=LeadBehaviourKind.choices,
                            help_text=_("What the lead did."))
    detail = models.CharField(_("detail"), max_length=300, blank=True, help_text=_("Page, email or file concerned."))
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, help_text=_("When it happened."))

    class Meta:
        verbose_name = _("lead behaviour")
        verbose_name_plural = _("lead behaviour")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "kind", "occurred_at"], name="lead_behaviour_kind_time")]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.kind}"


class LeadScoringRule(models.Model):
    """An administrator's rule: points for a field value or for behaviour."""

    SCORABLE_FIELDS = ("source", "industry", "job_title", "company", "email", "phone", "country", "province",
                       "city", "postcode", "campaign_name", "estimated_amount", "currency")

    name = models.CharField(_("name"), max_length=120, help_text=_("What the rule rewards."))
    kind = models.CharField(_("kind"), max_length=20, choices=ScoringRuleKind.choices, default=ScoringRuleKind.FIELD,
                            help_text=_("A rule on a field value or on behaviour."))
    field_name = models.CharField(_("field"), max_length=40, blank=True,
                                  choices=[(name, name) for name in SCORABLE_FIELDS],
                                  help_text=_("Lead field the rule looks at (field rules)."))
    operator = models.CharField(_("operator"), max_length=20, choices=ScoringOperator.choices,
                                default=ScoringOperator.EQUALS, help_text=_("How the field is compared (field rules)."))
    value = models.CharField(_("value"), max_length=200, blank=True,
                             help_text=_("Value compared with; case does not matter."))
    behaviour_kind = models.CharField(_("behaviour"), max_length=20, blank=True, choices=LeadBehaviourKind.choices,
                                      help_text=_("Behaviour counted (behaviour rules)."))
    min_count = models.PositiveIntegerField(_("at least this often"), default=1,
                                            help_text=_("Times the behaviour must have happened."))
    within_days = models.PositiveIntegerField(_("within days"), null=True, blank=True,
                                              help_text=_("Only behaviour of the last so many days counts."))
    points = models.IntegerField(_("points"), help_text=_("Added to the score when the rule matches; may be negative."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive rules do not score."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the list."))

    class Meta:
        verbose_name = _("lead scoring rule")
        verbose_name_plural = _("lead scoring rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"


# ======================================================================================
# Pipelines and stages
# ======================================================================================
class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("Name of the sales process."))
    is_default = models.BooleanField(_("default"), default=False,
                                     help_text=_("New opportunities use this pipeline unless told otherwise."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive pipelines take no new deals."))

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE,
                                 related_name="stages", help_text=_("Pipeline the stage belongs to."))
    name = models.CharField(_("name"), max_length=80, help_text=_("Stage name in English."))
    name_zh = models.CharField(_("Chinese name"), max_length=80, blank=True, help_text=_("Stage name in Chinese."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the pipeline."))
    probability = models.PositiveSmallIntegerField(
        _("default probability"), default=10, validators=[MaxValueValidator(100)],
        help_text=_("Chance of winning, in percent, given to deals entering the stage."))
    kind = models.CharField(_("kind"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN,
                            help_text=_("Open, closed won or closed lost."))
    forecast_category = models.CharField(_("forecast category"), max_length=20, choices=ForecastCategory.choices,
                                         default=ForecastCategory.PIPELINE,
                                         help_text=_("Default forecast category of deals in the stage."))

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


# ======================================================================================
# Competitors
# ======================================================================================
class Competitor(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("Competing company."))
    website = models.URLField(_("website"), blank=True, help_text=_("Web address."))
    strengths = models.TextField(_("strengths"), blank=True, help_text=_("Where they beat us."))
    weaknesses = models.TextField(_("weaknesses"), blank=True, help_text=_("Where we beat them."))

    class Meta:
        verbose_name = _("competitor")
        verbose_name_plural = _("competitors")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# ======================================================================================
# Opportunities
# ======================================================================================
class Opportunity(OwnedRecord):
    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("What the deal is about."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="opportunities",
                                help_text=_("Customer buying."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="opportunities",
                                help_text=_("Main person on the customer side."))
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT,
                                 related_name="opportunities", help_text=_("Sales process followed."))
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT,
                              related_name="opportunities", help_text=_("Current stage."))
    amount = models.DecimalField(_("amount"), **MONEY, default=Decimal("0"),
                                 validators=[MinValueValidator(Decimal("0"))], help_text=_("Expected deal value."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY,
                                help_text=_("Currency of the amount."))
    amount_base = models.DecimalField(_("amount in base currency"), **MONEY, default=Decimal("0"),
                                      help_text=_("Amount converted at the current rate; forecasts add these up."))
    probability = models.PositiveSmallIntegerField(_("probability"), default=10, validators=[MaxValueValidator(100)],
                                                   help_text=_("Chance of winning, in percent."))
    forecast_category = models.CharField(_("forecast category"), max_length=20, choices=ForecastCategory.choices,
                                         default=ForecastCategory.PIPELINE,
                                         help_text=_("Pipeline, best case, commit, closed or omitted."))
    close_date = models.DateField(_("close date"), help_text=_("When the deal is expected to close."))
    close_month = models.PositiveIntegerField(_("close month"), default=0, editable=False,
                                              help_text=_("Year and month of the close date as YYYYMM; forecasts "
                                                          "group by it."))
    next_step = models.CharField(_("next step"), max_length=300, blank=True, help_text=_("What happens next."))
    description = models.TextField(_("description"), blank=True, help_text=_("Notes about the deal."))
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now,
                                            help_text=_("When the deal entered its current stage."))
    is_closed = models.BooleanField(_("closed"), default=False, help_text=_("Won or lost."))
    is_won = models.BooleanField(_("won"), default=False, help_text=_("Closed as won."))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, help_text=_("When it was won or lost."))
    close_reason = models.CharField(_("close reason"), max_length=20, blank=True, choices=CloseReason.choices,
                                    help_text=_("Why it was won or lost."))
    close_note = models.CharField(_("close note"), max_length=500, blank=True,
                                  help_text=_("More about why it was won or lost."))
    lost_to = models.ForeignKey(Competitor, verbose_name=_("lost to"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="deals_won_against_us",
                                help_text=_("Competitor who won the deal."))
    lead = models.ForeignKey(Lead, verbose_name=_("source lead"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="opportunities", help_text=_("Lead the deal came from."))
    campaign_id = models.PositiveIntegerField(_("campaign ID"), null=True, blank=True,
                                              help_text=_("Marketing campaign the deal came from."))
    campaign_name = models.CharField(_("campaign"), max_length=200, blank=True,
                                     help_text=_("Name of the source campaign."))
    renewal_of = models.ForeignKey("Contract", verbose_name=_("renewal of"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="renewal_opportunities",
                                   help_text=_("Contract this deal renews."))
    competitors = models.ManyToManyField(Competitor, verbose_name=_("competitors"), blank=True,
                                         related_name="opportunities", help_text=_("Who else is bidding."))

    SEARCH_FIELDS = ("name", "account__name", "contact__full_name", "next_step")

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["close_date", "id"]
        indexes = [
            models.Index(fields=["owner", "is_closed", "close_date"], name="opportunity_owner_open"),
            models.Index(fields=["team", "is_closed", "close_date"], name="opportunity_team_open"),
            models.Index(fields=["territory", "is_closed", "close_date"], name="opportunity_territory_open"),
            models.Index(fields=["stage", "close_date"], name="opportunity_stage_close"),
            models.Index(fields=["close_date"], name="opportunity_close_date"),
            # Covering indexes of the forecast: a grouped scan reads only the index, in group
            # order, whether it is per rep or for the whole company.
            models.Index(fields=["owner", "close_month", "is_closed", "is_won", "forecast_category", "team",
                                 "territory", "amount_base", "probability", "pipeline"],
                         name="opportunity_forecast_owner"),
            models.Index(fields=["close_month", "is_closed", "is_won", "forecast_category", "amount_base",
                                 "probability", "owner", "team", "territory", "pipeline"],
                         name="opportunity_forecast_month"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.close_date:
            self.close_month = self.close_date.year * 100 + self.close_date.month
            if kwargs.get("update_fields") is not None and "close_date" in kwargs["update_fields"]:
                kwargs["update_fields"] = {*kwargs["update_fields"], "close_month"}
        super().save(*args, **kwargs)

    @property
    def days_in_stage(self) -> int:
        return max(0, (timezone.now() - self.stage_entered_at).days)

    @property
    def days_left(self) -> int:
        return (self.close_date - timezone.localdate()).days

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / Decimal(100)).quantize(Decimal("0.01"))


class OpportunityStageChange(models.Model):
    """The stage history of a deal, with the time it spent in the stage it left."""

    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="stage_changes", help_text=_("Deal that moved."))
    from_stage = models.ForeignKey(Stage, verbose_name=_("from stage"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   help_text=_("Stage left; empty when the deal was opened."))
    to_stage = models.ForeignKey(Stage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+",
                                 help_text=_("Stage entered."))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, help_text=_("When it moved."))
    changed_by = models.ForeignKey(User, verbose_name=_("changed by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text=_("Who moved it."))
    seconds_in_from_stage = models.PositiveBigIntegerField(_("time in previous stage"), default=0,
                                                           help_text=_("Seconds spent in the stage left."))
    amount = models.DecimalField(_("amount"), **MONEY, default=Decimal("0"), help_text=_("Amount at the time."))
    probability = models.PositiveSmallIntegerField(_("probability"), default=0,
                                                   help_text=_("Probability after the move, in percent."))

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["to_stage", "opportunity"], name="stage_change_to_stage")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class OpportunityTeamMember(models.Model):
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="team_members", help_text=_("Deal worked on."))
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+",
                             help_text=_("Colleague on the deal team."))
    team_role = models.CharField(_("role in team"), max_length=60, blank=True,
                                 help_text=_("E.g. solution engineer, executive sponsor."))

    class Meta:
        verbose_name = _("deal team member")
        verbose_name_plural = _("deal team members")
        constraints = [models.UniqueConstraint(fields=["opportunity", "user"], name="opportunity_team_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.opportunity}"


class OpportunityProduct(models.Model):
    """A product the deal is about, before there is a quote."""

    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="product_lines", help_text=_("Deal."))
    product = models.ForeignKey("Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+",
                                help_text=_("Product of interest."))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=Decimal("1"),
                                   validators=[MinValueValidator(Decimal("0.01"))], help_text=_("How many."))
    unit_price = models.DecimalField(_("unit price"), **MONEY, default=Decimal("0"),
                                     help_text=_("Expected price per unit, in the deal's currency."))

    class Meta:
        verbose_name = _("opportunity product")
        verbose_name_plural = _("opportunity products")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


# ======================================================================================
# Products, price lists and discount limits
# ======================================================================================
class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=40, unique=True, help_text=_("Stock-keeping unit, unique."))
    name = models.CharField(_("name"), max_length=200, help_text=_("Product name in English."))
    name_zh = models.CharField(_("Chinese name"), max_length=200, blank=True, help_text=_("Product name in Chinese."))
    description = models.TextField(_("description"), blank=True, help_text=_("What the customer gets."))
    kind = models.CharField(_("kind"), max_length=20, choices=ProductKind.choices, default=ProductKind.GOODS,
                            help_text=_("Goods, service, subscription or bundle."))
    family = models.CharField(_("product family"), max_length=80, blank=True,
                              help_text=_("Group used by reports and commission rules."))
    unit = models.CharField(_("unit"), max_length=20, default="unit", help_text=_("E.g. unit, month, licence."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive products cannot be quoted."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was added."))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class ProductOption(models.Model):
    """A choice in the configurator: an add-on product offered with ``product``."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="options",
                                help_text=_("Product being configured."))
    option = models.ForeignKey(Product, verbose_name=_("option"), on_delete=models.PROTECT, related_name="+",
                               help_text=_("Add-on product, priced from the price list."))
    group = models.CharField(_("group"), max_length=80, blank=True,
                             help_text=_("Options of one group exclude each other, e.g. Support level."))
    is_required = models.BooleanField(_("required"), default=False,
                                      help_text=_("Always added with the product."))
    quantity_per_unit = models.DecimalField(_("quantity per unit"), max_digits=12, decimal_places=2,
                                            default=Decimal("1"), validators=[MinValueValidator(Decimal("0.01"))],
                                            help_text=_("Units of the option per unit of the product."))

    class Meta:
        verbose_name = _("product option")
        verbose_name_plural = _("product options")
        constraints = [models.UniqueConstraint(fields=["product", "option"], name="product_option_unique")]

    def __str__(self) -> str:
        return f"{self.product_id} + {self.option_id}"


class BundleComponent(models.Model):
    """A product included in a bundle at the bundle's price."""

    bundle = models.ForeignKey(Product, verbose_name=_("bundle"), on_delete=models.CASCADE, related_name="components",
                               help_text=_("Bundle product."))
    component = models.ForeignKey(Product, verbose_name=_("component"), on_delete=models.PROTECT, related_name="+",
                                  help_text=_("Product included."))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=Decimal("1"),
                                   validators=[MinValueValidator(Decimal("0.01"))],
                                   help_text=_("Units included per bundle."))

    class Meta:
        verbose_name = _("bundle component")
        verbose_name_plural = _("bundle components")
        constraints = [models.UniqueConstraint(fields=["bundle", "component"], name="bundle_component_unique")]

    def __str__(self) -> str:
        return f"{self.bundle_id} ⊃ {self.component_id}"


class PriceList(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("E.g. China list price 2026."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices,
                                help_text=_("Every price in the list is in this currency."))
    customer_tier = models.CharField(_("customer tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                     help_text=_("Only for customers of this value tier; empty for everybody."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive lists are not used."))
    valid_from = models.DateField(_("valid from"), null=True, blank=True, help_text=_("First day the prices apply."))
    valid_until = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Last day the prices apply."))

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["currency", "customer_tier", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class PriceListEntry(models.Model):
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), on_delete=models.CASCADE,
                                   related_name="entries", help_text=_("List the price belongs to."))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE,
                                related_name="prices", help_text=_("Product priced."))
    unit_price = models.DecimalField(_("unit price"), **MONEY, validators=[MinValueValidator(Decimal("0"))],
                                     help_text=_("Price per unit in the list's currency."))

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [models.UniqueConstraint(fields=["price_list", "product"], name="price_list_entry_unique")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.unit_price}"


class DiscountLimit(models.Model):
    """The largest discount a role may give without approval."""

    DEFAULT_PERCENT = Decimal("10")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, unique=True,
                            help_text=_("Role the limit applies to."))
    max_percent = models.DecimalField(_("maximum discount"), **PERCENT,
                                      help_text=_("Largest discount in percent given without approval."))

    class Meta:
        verbose_name = _("discount limit")
        verbose_name_plural = _("discount limits")
        ordering = ["role"]

    def __str__(self) -> str:
        return f"{self.role}: {self.max_percent} %"


# ======================================================================================
# Quotes
# ======================================================================================
class Quote(OwnedRecord):
    # --- fields: identity ---
    number = models.CharField(_("number"), max_length=30, db_index=True,
                              help_text=_("Quote number, shared by all its versions."))
    revision = models.PositiveIntegerField(_("revision"), default=1, help_text=_("1 for the first version."))
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.PROTECT,
                                    related_name="quotes", help_text=_("Deal quoted for."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="quotes", help_text=_("Customer quoted."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="quotes", help_text=_("Person the quote is addressed to."))
    title = models.CharField(_("title"), max_length=200, help_text=_("Shown at the top of the quote."))
    # --- fields: pricing ---
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices,
                                help_text=_("Every line is in this currency."))
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), on_delete=models.PROTECT,
                                   related_name="quotes", help_text=_("Where line prices come from."))
    discount_percent = models.DecimalField(_("quote discount"), **PERCENT, default=Decimal("0"),
                                           help_text=_("Discount on the whole quote, in percent."))
    tax_percent = models.DecimalField(_("tax rate"), **PERCENT, default=Decimal("13"),
                                      help_text=_("VAT in percent, added to the discounted subtotal."))
    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0"),
                                   help_text=_("Lines at list price before any discount."))
    discount_total = models.DecimalField(_("discount"), **MONEY, default=Decimal("0"),
                                         help_text=_("Line and quote discounts together."))
    tax_total = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"), help_text=_("Tax amount."))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"), help_text=_("Amount to pay."))
    max_discount_percent = models.DecimalField(_("largest discount"), **PERCENT, default=Decimal("0"),
                                               help_text=_("Effective discount off list price, in percent; "
                                                           "decides whether approval is needed."))
    # --- fields: life ---
    status = models.CharField(_("status"), max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT,
                              db_index=True, help_text=_("Draft, sent, accepted, declined, superseded or expired."))
    approval_status = models.CharField(_("approval"), max_length=20, choices=ApprovalStatus.choices,
                                       default=ApprovalStatus.NOT_NEEDED,
                                       help_text=_("Discounts above the owner's limit need a manager's approval."))
    approved_by = models.ForeignKey(User, verbose_name=_("approved by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", help_text=_("Who approved."))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, help_text=_("When it was approved."))
    approval_note = models.CharField(_("approval note"), max_length=500, blank=True,
                                     help_text=_("Why the discount was approved or rejected."))
    valid_until = models.DateField(_("valid until"), help_text=_("Last day the customer may accept."))
    language = models.CharField(_("language"), max_length=10, default="zh-hans",
                                choices=[("en", "English"), ("zh-hans", "简体中文")],
                                help_text=_("Language of the PDF and the email."))
    terms = models.TextField(_("terms"), blank=True, help_text=_("Payment and delivery terms printed on the quote."))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, help_text=_("When it was sent."))
    sent_to = models.EmailField(_("sent to"), blank=True, help_text=_("Address the quote was sent to."))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True, help_text=_("When it was accepted."))
    accepted_by_name = models.CharField(_("accepted by"), max_length=200, blank=True,
                                        help_text=_("Name the customer signed with."))
    accepted_ip = models.GenericIPAddressField(_("accepted from"), null=True, blank=True,
                                               help_text=_("Address the acceptance came from."))
    declined_at = models.DateTimeField(_("declined at"), null=True, blank=True, help_text=_("When it was declined."))

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["number", "revision"], name="quote_unique_revision")]
        indexes = [models.Index(fields=["owner", "status"], name="quote_owner_status")]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"{self.number}-v{self.revision}" if self.revision > 1 else self.number

    @property
    def is_expired(self) -> bool:
        return self.valid_until < timezone.localdate()


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, verbose_name=_("quote"), on_delete=models.CASCADE, related_name="lines",
                              help_text=_("Quote the line belongs to."))
    parent = models.ForeignKey("self", verbose_name=_("configured with"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="children",
                               help_text=_("Product line this option or bundle component belongs to."))
    kind = models.CharField(_("kind"), max_length=20, choices=QuoteLineKind.choices, default=QuoteLineKind.PRODUCT,
                            help_text=_("Product, configured option or bundle component."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order on the quote."))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+",
                                help_text=_("Product quoted."))
    description = models.CharField(_("description"), max_length=300, help_text=_("Text printed on the line."))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2,
                                   validators=[MinValueValidator(Decimal("0.01"))], help_text=_("How many."))
    list_price = models.DecimalField(_("list price"), **MONEY, help_text=_("Unit price from the price list."))
    unit_price = models.DecimalField(_("unit price"), **MONEY, validators=[MinValueValidator(Decimal("0"))],
                                     help_text=_("Unit price charged before the line discount."))
    discount_percent = models.DecimalField(_("discount"), **PERCENT, default=Decimal("0"),
                                           help_text=_("Line discount in percent."))
    line_total = models.DecimalField(_("line total"), **MONEY, default=Decimal("0"),
                                     help_text=_("Quantity × unit price less the line discount."))

    class Meta:
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"


# ======================================================================================
# Orders
# ======================================================================================
class Order(OwnedRecord):
    number = models.CharField(_("number"), max_length=30, unique=True, help_text=_("Order number."))
    quote = models.OneToOneField(Quote, verbose_name=_("quote"), null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="order", help_text=_("Accepted quote the order came from."))
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="orders", help_text=_("Deal won."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="orders", help_text=_("Customer ordering."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="orders", help_text=_("Person who ordered."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices,
                                help_text=_("Currency of every amount on the order."))
    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0"),
                                   help_text=_("Lines after discounts, before tax."))
    tax_total = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"), help_text=_("Tax amount."))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"), help_text=_("Amount to pay."))
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED,
                              db_index=True, help_text=_("Where the order stands."))
    ordered_at = models.DateTimeField(_("ordered at"), default=timezone.now, help_text=_("When it was ordered."))
    carrier = models.CharField(_("carrier"), max_length=80, blank=True, help_text=_("Who delivers, e.g. SF Express."))
    tracking_number = models.CharField(_("tracking number"), max_length=80, blank=True,
                                       help_text=_("Carrier's tracking number."))
    notes = models.TextField(_("notes"), blank=True, help_text=_("Delivery and billing notes."))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        indexes = [models.Index(fields=["owner", "status"], name="order_owner_status")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines",
                              help_text=_("Order the line belongs to."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order on the document."))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+",
                                help_text=_("Product ordered."))
    description = models.CharField(_("description"), max_length=300, help_text=_("Text printed on the line."))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2,
                                   validators=[MinValueValidator(Decimal("0.01"))], help_text=_("How many."))
    unit_price = models.DecimalField(_("unit price"), **MONEY, help_text=_("Price per unit before discount."))
    discount_percent = models.DecimalField(_("discount"), **PERCENT, default=Decimal("0"),
                                           help_text=_("Line and quote discount together, in percent."))
    line_total = models.DecimalField(_("line total"), **MONEY, default=Decimal("0"),
                                     help_text=_("Amount of the line after discount, before tax."))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"


class OrderStatusChange(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="status_changes",
                              help_text=_("Order tracked."))
    from_status = models.CharField(_("from"), max_length=20, blank=True, choices=OrderStatus.choices,
                                   help_text=_("Status before."))
    to_status = models.CharField(_("to"), max_length=20, choices=OrderStatus.choices, help_text=_("Status after."))
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("E.g. tracking details."))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, help_text=_("When it changed."))
    changed_by = models.ForeignKey(User, verbose_name=_("changed by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text=_("Who changed it."))

    class Meta:
        verbose_name = _("order status change")
        verbose_name_plural = _("order status changes")
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"


# ======================================================================================
# Contracts
# ======================================================================================
class Contract(OwnedRecord):
    number = models.CharField(_("number"), max_length=30, unique=True, help_text=_("Contract number."))
    title = models.CharField(_("title"), max_length=200, help_text=_("What the contract covers."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="contracts", help_text=_("Customer."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="contracts", help_text=_("Person who signs."))
    order = models.ForeignKey(Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="contracts", help_text=_("Order the contract came from."))
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="contracts", help_text=_("Deal."))
    value = models.DecimalField(_("value"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))],
                                help_text=_("Value over the contract term."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY,
                                help_text=_("Currency of the value."))
    start_date = models.DateField(_("start date"), help_text=_("First day of the contract."))
    end_date = models.DateField(_("end date"), help_text=_("Last day of the contract."))
    status = models.CharField(_("status"), max_length=20, choices=ContractStatus.choices,
                              default=ContractStatus.DRAFT, db_index=True, help_text=_("Where the contract stands."))
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True, help_text=_("When it was signed."))
    signed_by_name = models.CharField(_("signed by"), max_length=200, blank=True,
                                      help_text=_("Name of the customer's signatory."))
    auto_renew = models.BooleanField(_("renews automatically"), default=False,
                                     help_text=_("A renewal opportunity is opened before the end date."))
    renewal_notice_days = models.PositiveIntegerField(_("renewal notice (days)"), default=60,
                                                      help_text=_("Days before the end date to start the renewal."))
    renewal_reminded_at = models.DateTimeField(_("renewal reminder sent"), null=True, blank=True,
                                               help_text=_("When the owner was reminded of the renewal."))
    renewed_from = models.ForeignKey("self", verbose_name=_("renews"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="renewals",
                                     help_text=_("Contract this one renews."))
    terms = models.TextField(_("terms"), blank=True, help_text=_("Main terms of the contract."))

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["end_date", "id"]
        indexes = [models.Index(fields=["status", "end_date"], name="contract_status_end")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def renewal_due_on(self) -> datetime.date:
        return self.end_date - datetime.timedelta(days=self.renewal_notice_days)


# ======================================================================================
# Activities and the calendar
# ======================================================================================
class Activity(OwnedRecord):
    # --- fields ---
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices, default=ActivityKind.TASK,
                            help_text=_("Call, meeting, task or email."))
    subject = models.CharField(_("subject"), max_length=200, help_text=_("What it is about."))
    description = models.TextField(_("description"), blank=True, help_text=_("Agenda, notes or email text."))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True,
                               help_text=_("How the customer is met; the timeline records it."))
    start_at = models.DateTimeField(_("starts at"), db_index=True, help_text=_("When it starts or is due."))
    end_at = models.DateTimeField(_("ends at"), null=True, blank=True, help_text=_("When a meeting ends."))
    all_day = models.BooleanField(_("all day"), default=False, help_text=_("Takes the whole day."))
    location = models.CharField(_("location"), max_length=200, blank=True, help_text=_("Where it takes place."))
    priority = models.CharField(_("priority"), max_length=10, choices=ActivityPriority.choices,
                                default=ActivityPriority.NORMAL, help_text=_("How urgent it is."))
    status = models.CharField(_("status"), max_length=20, choices=ActivityStatus.choices,
                              default=ActivityStatus.PLANNED, db_index=True, help_text=_("Planned, done or cancelled."))
    is_callback = models.BooleanField(_("scheduled callback"), default=False,
                                      help_text=_("A call promised to the customer at this time."))
    callback_phone = models.CharField(_("callback number"), max_length=20, blank=True,
                                      help_text=_("Number to call back, in E.164 format."))
    reminder_at = models.DateTimeField(_("remind at"), null=True, blank=True, db_index=True,
                                       help_text=_("When to remind the owner."))
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True,
                                            help_text=_("When the reminder went out."))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, help_text=_("When it was done."))
    outcome = models.CharField(_("outcome"), max_length=300, blank=True, help_text=_("What came of it."))
    # --- fields: what it is linked to ---
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.CASCADE,
                                related_name="sales_activities", help_text=_("Customer account."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.CASCADE,
                                related_name="sales_activities", help_text=_("Person concerned."))
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="activities", help_text=_("Lead concerned."))
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="activities", help_text=_("Deal concerned."))
    quote = models.ForeignKey(Quote, verbose_name=_("quote"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="activities", help_text=_("Quote concerned."))
    contract = models.ForeignKey(Contract, verbose_name=_("contract"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="activities",
                                 help_text=_("Contract concerned."))
    interaction_id = models.PositiveBigIntegerField(_("timeline entry"), null=True, blank=True,
                                                    help_text=_("Interaction recorded when the activity was done."))

    DEFAULT_CHANNELS = {ActivityKind.CALL: Channel.PHONE, ActivityKind.MEETING: Channel.VISIT,
                        ActivityKind.EMAIL: Channel.EMAIL, ActivityKind.TASK: Channel.PHONE}

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["start_at", "id"]
        indexes = [
            models.Index(fields=["owner", "start_at"], name="activity_owner_start"),
            models.Index(fields=["status", "reminder_at"], name="activity_reminder_due"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_overdue(self) -> bool:
        return self.status == ActivityStatus.PLANNED and self.start_at < timezone.now()


class CalendarFeed(models.Model):
    """The secret behind a user's iCal feed URL. Only a SHA-256 digest is stored; a new
    secret replaces the old one, so a leaked URL can be revoked."""

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="calendar_feed",
                                help_text=_("Whose activities the feed shows."))
    digest = models.CharField(_("digest"), max_length=64, unique=True, help_text=_("SHA-256 of the secret."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was issued."))
    last_fetched_at = models.DateTimeField(_("last fetched"), null=True, blank=True,
                                           help_text=_("When a calendar last read the feed."))

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"feed of {self.user_id}"


# ======================================================================================
# Sales plans and quotas
# ======================================================================================
class Quota(models.Model):
    user = models.ForeignKey(User, verbose_name=_("sales rep"), on_delete=models.CASCADE, related_name="sales_quotas",
                             help_text=_("Who must reach the target."))
    period = models.CharField(_("period"), max_length=10, choices=QuotaPeriod.choices, default=QuotaPeriod.QUARTER,
                              help_text=_("Month, quarter or year."))
    period_start = models.DateField(_("period start"), help_text=_("First day of the period."))
    period_end = models.DateField(_("period end"), help_text=_("Last day of the period."))
    amount = models.DecimalField(_("target"), **MONEY, validators=[MinValueValidator(Decimal("0"))],
                                 help_text=_("Revenue to win in the period."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY,
                                help_text=_("Currency of the target."))

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        ordering = ["-period_start", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "period_start", "period_end"], name="quota_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.period_start}…{self.period_end}"


# ======================================================================================
# Expenses
# ======================================================================================
class Expense(OwnedRecord):
    spent_on = models.DateField(_("date"), help_text=_("When the money was spent."))
    category = models.CharField(_("category"), max_length=20, choices=ExpenseCategory.choices,
                                help_text=_("Kind of expense."))
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))],
                                 help_text=_("Amount spent."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY,
                                help_text=_("Currency spent in."))
    description = models.CharField(_("description"), max_length=300, help_text=_("What it was for."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="sales_expenses", help_text=_("Customer it was spent on."))
    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="expenses",
                                    help_text=_("Deal it was spent on."))
    status = models.CharField(_("status"), max_length=20, choices=ExpenseStatus.choices, default=ExpenseStatus.DRAFT,
                              db_index=True, help_text=_("Draft, submitted, approved, rejected or reimbursed."))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, help_text=_("When it was claimed."))
    decided_by = models.ForeignKey(User, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("Who approved or rejected it."))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, help_text=_("When it was decided."))
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True,
                                     help_text=_("Why it was approved or rejected."))

    class Meta:
        verbose_name = _("expense")
        verbose_name_plural = _("expenses")
        ordering = ["-spent_on", "-id"]

    def __str__(self) -> str:
        return f"{self.spent_on} {self.description}"


# ======================================================================================
# Commissions
# ======================================================================================
class CommissionRule(models.Model):
    """A commission rate. The most specific matching rule pays: a rule naming the rep beats
    one that does not, then product beats product family beats customer tier."""

    name = models.CharField(_("name"), max_length=120, help_text=_("What the rule pays for."))
    user = models.ForeignKey(User, verbose_name=_("sales rep"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", help_text=_("Only for this rep; empty for everybody."))
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", help_text=_("Only for this product; empty for all."))
    product_family = models.CharField(_("product family"), max_length=80, blank=True,
                                      help_text=_("Only for products of this family; empty for all."))
    customer_tier = models.CharField(_("customer tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                     help_text=_("Only for customers of this tier; empty for all."))
    rate_percent = models.DecimalField(_("rate"), **PERCENT, help_text=_("Commission in percent of the line amount."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive rules pay nothing."))

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate_percent} %)"

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        return (int(self.user_id is not None), int(self.product_id is not None), int(bool(self.product_family)),
                int(bool(self.customer_tier)))


class CommissionEntry(models.Model):
    """What one order line earns its rep; rebuilt whenever the order changes."""

    user = models.ForeignKey(User, verbose_name=_("sales rep"), on_delete=models.CASCADE, related_name="+",
                             help_text=_("Who earns it."))
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE,
                              related_name="commission_entries", help_text=_("Order it comes from."))
    order_line = models.ForeignKey(OrderLine, verbose_name=_("order line"), on_delete=models.CASCADE,
                                   related_name="commission_entries", help_text=_("Line it comes from."))
    rule = models.ForeignKey(CommissionRule, verbose_name=_("rule"), null=True, on_delete=models.SET_NULL,
                             related_name="+", help_text=_("Rule that set the rate."))
    period = models.CharField(_("period"), max_length=7, db_index=True, help_text=_("Month earned, as YYYY-MM."))
    base_amount = models.DecimalField(_("base amount"), **MONEY, help_text=_("Line amount after discount."))
    rate_percent = models.DecimalField(_("rate"), **PERCENT, help_text=_("Rate applied, in percent."))
    amount = models.DecimalField(_("commission"), **MONEY, help_text=_("Amount earned."))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices,
                                help_text=_("Currency of the order."))
    calculated_at = models.DateTimeField(_("calculated at"), default=timezone.now,
                                         help_text=_("When the entry was computed."))

    class Meta:
        verbose_name = _("commission entry")
        verbose_name_plural = _("commission entries")
        ordering = ["period", "user_id", "id"]
        indexes = [models.Index(fields=["user", "period"], name="commission_user_period")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} {self.amount}"


# ======================================================================================
# Sales knowledge board
# ======================================================================================
class KnowledgePost(models.Model):
    title = models.CharField(_("title"), max_length=200, help_text=_("What the post is about."))
    body = models.TextField(_("text"), help_text=_("The tip, playbook or question."))
    kind = models.CharField(_("kind"), max_length=20, choices=KnowledgeKind.choices, default=KnowledgeKind.TIP,
                            help_text=_("Tip, playbook, battlecard or question."))
    author = models.ForeignKey(User, verbose_name=_("author"), null=True, on_delete=models.SET_NULL,
                               related_name="+", help_text=_("Who wrote it."))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text=_("Team of the author when posted."))
    territory = models.ForeignKey(Territory, verbose_name=_("territory"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  help_text=_("Territory of the author when posted."))
    competitor = models.ForeignKey(Competitor, verbose_name=_("competitor"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="knowledge_posts",
                                   help_text=_("Competitor a battlecard is about."))
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+",
                                  help_text=_("Free labels for finding the post."))
    search_text = models.TextField(_("search text"), blank=True, editable=False,
                                   help_text=_("Normalized title, text and tags for search."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was posted."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text=_("When it last changed."))

    class Meta:
        verbose_name = _("knowledge post")
        verbose_name_plural = _("knowledge posts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class KnowledgeComment(models.Model):
    post = models.ForeignKey(KnowledgePost, verbose_name=_("post"), on_delete=models.CASCADE, related_name="comments",
                             help_text=_("Post commented on."))
    author = models.ForeignKey(User, verbose_name=_("author"), null=True, on_delete=models.SET_NULL,
                               related_name="+", help_text=_("Who wrote it."))
    body = models.TextField(_("text"), help_text=_("The comment."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was written."))

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.post_id}: {self.body[:40]}"
