"""Persistence of the analytics domain.

- ``CustomerScore``: the latest RFM scores, value tier, lifetime value and churn risk of a
  contact (the tier, lifetime value and churn risk are also written onto the contact);
  ``TierChange`` keeps every move between value tiers, so "who moved up the pyramid this
  quarter" is a query. ``ScoringRun`` records each scoring and what it found.
- ``ChurnModel``: a trained churn model with its model card (AUC, calibration, features,
  date); ``RetentionListEntry`` is the retention list kept here when the marketing domain
  is not installed.
- ``Report`` and ``ReportSchedule``: saved report-builder reports, shared with a team and
  e-mailed on a schedule.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import Contact, Team, User, ValueTier


# ======================================================================================
# Choices
# ======================================================================================
class ScoringKind(models.TextChoices):
    RFM = "rfm", _("RFM and value tiers")
    LIFETIME_VALUE = "clv", _("Lifetime value")
    CHURN = "churn", _("Churn risk")


class RunStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    TOO_LITTLE_HISTORY = "too_little_history", _("Too little history")
    NOT_CONVERGED = "not_converged", _("Did not converge")
    FAILED = "failed", _("Failed")


class ChartType(models.TextChoices):
    TABLE = "table", _("Table only")
    BAR = "bar", _("Bar chart")
    LINE = "line", _("Line chart")
    PIE = "pie", _("Pie chart")
    DOUGHNUT = "doughnut", _("Doughnut chart")


class ScheduleFrequency(models.TextChoices):
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("Excel (XLSX)")
    PDF = "pdf", _("PDF")


# ======================================================================================
# Scores written back to customers
# ======================================================================================
class CustomerScore(models.Model):
    # --- fields ---
    contact = models.OneToOneField(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                   related_name="analytics_score", help_text=_("Customer scored."))
    last_purchase_on = models.DateField(_("last purchase"), null=True, blank=True,
                                        help_text=_("Day of the latest purchase; recency counts from it."))
    frequency = models.PositiveIntegerField(_("purchases"), default=0, help_text=_("Orders placed."))
    monetary = models.DecimalField(_("spend"), max_digits=16, decimal_places=2, default=0,
                                   help_text=_("Total spent, in the base currency."))
    r = models.PositiveSmallIntegerField(_("recency score"), null=True, blank=True, help_text=_("1 to 5, 5 is best."))
    f = models.PositiveSmallIntegerField(_("frequency score"), null=True, blank=True,
                                         help_text=_("1 to 5, 5 is best."))
    m = models.PositiveSmallIntegerField(_("monetary score"), null=True, blank=True,
                                         help_text=_("1 to 5, 5 is best."))
    rfm = models.PositiveSmallIntegerField(_("RFM code"), null=True, blank=True,
                                           help_text=_("The three scores as one number, e.g. 545."))
    value_tier = models.CharField(_("value tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                  help_text=_("Tier in the value pyramid."))
    rfm_scored_at = models.DateTimeField(_("RFM scored at"), null=True, blank=True, help_text="")
    lifetime_value = models.DecimalField(_("lifetime value"), max_digits=14, decimal_places=2, null=True,
                                         blank=True, help_text=_("Discounted value of the next 12 months."))
    expected_purchases = models.FloatField(_("expected purchases"), null=True, blank=True,
                                           help_text=_("Purchases expected in the next 12 months."))
    probability_alive = models.FloatField(_("probability active"), null=True, blank=True,
                                          help_text=_("Probability that the customer still buys."))
    clv_scored_at = models.DateTimeField(_("lifetime value scored at"), null=True, blank=True, help_text="")
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True, help_text=_("Probability of churn."))
    churn_reasons = models.JSONField(_("churn reasons"), default=list, blank=True,
                                     help_text=_("Features that raise the risk most: [{feature, value, effect}]."))
    churn_scored_at = models.DateTimeField(_("churn scored at"), null=True, blank=True, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True,
                                      help_text=_("When any score last changed."))

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [models.Index(fields=["value_tier"], name="score_value_tier"),
                   models.Index(fields=["-churn_risk"], name="score_churn_risk")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.rfm or '—'} {self.value_tier or ''}"


class ScoringRun(models.Model):
    kind = models.CharField(_("kind"), max_length=10, choices=ScoringKind.choices, help_text="")
    status = models.CharField(_("status"), max_length=30, choices=RunStatus.choices, help_text="")
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True, help_text="")
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, help_text="")
    reference_date = models.DateField(_("reference date"), null=True, blank=True,
                                      help_text=_("The day the scores describe."))
    customers = models.PositiveIntegerField(_("customers scored"), default=0, help_text="")
    changed = models.PositiveIntegerField(_("customers changed"), default=0,
                                          help_text=_("Customers whose score changed."))
    parameters = models.JSONField(_("parameters"), default=dict, blank=True,
                                  help_text=_("Fitted model parameters or settings used."))
    message = models.TextField(_("message"), blank=True, help_text=_("What happened, for people."))
    started_by = models.ForeignKey(User, verbose_name=_("started by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class TierChange(models.Model):
    """A contact moved between value tiers (or got its first tier)."""

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="tier_changes", help_text="")
    from_tier = models.CharField(_("from tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                 help_text=_("Empty for a first tier."))
    to_tier = models.CharField(_("to tier"), max_length=20, choices=ValueTier.choices, blank=True,
                               help_text=_("Empty when the customer left the pyramid."))
    rfm_before = models.PositiveSmallIntegerField(_("RFM before"), null=True, blank=True, help_text="")
    rfm_after = models.PositiveSmallIntegerField(_("RFM after"), null=True, blank=True, help_text="")
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, db_index=True, help_text="")
    run = models.ForeignKey(ScoringRun, verbose_name=_("scoring run"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="tier_changes", help_text="")

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["contact", "-changed_at"], name="tier_change_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.from_tier or '—'} → {self.to_tier or '—'}"


# ======================================================================================
# Churn
# ======================================================================================
class ChurnModel(models.Model):
    """A trained churn model and its model card. The newest succeeded one scores customers."""

    # --- fields ---
    trained_at = models.DateTimeField(_("trained at"), default=timezone.now, db_index=True, help_text="")
    trained_by = models.ForeignKey(User, verbose_name=_("trained by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    algorithm = models.CharField(_("algorithm"), max_length=40,
                                 help_text=_("Model chosen by cross-validation."))
    cross_validation = models.JSONField(_("cross-validation"), default=dict, blank=True,
                                        help_text=_("Mean and spread of the AUC of each candidate."))
    auc = models.FloatField(_("AUC"), help_text=_("Area under the ROC curve on held-out customers."))
    brier_score = models.FloatField(_("Brier score"), help_text=_("Mean squared error of the probabilities."))
    calibration = models.JSONField(_("calibration"), default=list, blank=True,
                                   help_text=_("Reliability table: predicted and observed churn by risk band."))
    features = models.JSONField(_("features"), default=list, blank=True, help_text=_("Feature names, in order."))
    importances = models.JSONField(_("importances"), default=list, blank=True,
                                   help_text=_("Permutation importance of each feature."))
    customers = models.PositiveIntegerField(_("customers"), default=0, help_text=_("Customers trained on."))
    churn_rate = models.FloatField(_("churn rate"), default=0, help_text=_("Share who churned in training."))
    horizon_days = models.PositiveIntegerField(_("horizon (days)"), default=90,
                                               help_text=_("A customer churned who bought nothing this long."))
    cutoff_date = models.DateField(_("cut-off date"), null=True, blank=True,
                                   help_text=_("Features before this day, churn after it."))
    estimator = models.BinaryField(_("estimator"), help_text=_("The fitted scikit-learn pipeline (pickled)."))

    class Meta:
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.trained_at:%Y-%m-%d} AUC {self.auc:.3f}"


class RetentionListEntry(models.Model):
    """A customer on the retention list (high churn risk), with why."""

    contact = models.OneToOneField(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                   related_name="+", help_text="")
    churn_risk = models.FloatField(_("churn risk"), help_text="")
    reasons = models.JSONField(_("reasons"), default=list, blank=True, help_text="")
    added_at = models.DateTimeField(_("added at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("retention list entry")
        verbose_name_plural = _("retention list")
        ordering = ["-churn_risk", "id"]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.churn_risk:.2f}"


# ======================================================================================
# Saved reports
# ======================================================================================
class Report(models.Model):
    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("What the report shows."))
    description = models.TextField(_("description"), blank=True, help_text="")
    source = models.CharField(_("object"), max_length=40, help_text=_("What the report counts, e.g. order lines."))
    definition = models.JSONField(_("definition"), default=dict, blank=True,
                                  help_text=_("Filters, grouping and measures."))
    chart_type = models.CharField(_("chart"), max_length=20, choices=ChartType.choices, default=ChartType.BAR,
                                  help_text="")
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("Who made the report."))
    shared_with_team = models.ForeignKey(Team, verbose_name=_("shared with team"), null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+",
                                         help_text=_("Members of this team may open it too."))
    on_dashboard = models.BooleanField(_("on my dashboard"), default=False,
                                       help_text=_("Show the report's chart on the dashboard."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change."))

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ReportSchedule(models.Model):
    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.CASCADE,
                               related_name="schedules", help_text="")
    frequency = models.CharField(_("frequency"), max_length=10, choices=ScheduleFrequency.choices,
                                 default=ScheduleFrequency.WEEKLY, help_text="")
    export_format = models.CharField(_("format"), max_length=10, choices=ExportFormat.choices,
                                     default=ExportFormat.PDF, help_text="")
    recipients = models.JSONField(_("recipients"), default=list, help_text=_("Email addresses."))
    next_run_at = models.DateTimeField(_("next run"), db_index=True, help_text="")
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, help_text="")
    last_error = models.TextField(_("last error"), blank=True, help_text="")
    is_active = models.BooleanField(_("active"), default=True, help_text="")
    created_by = models.ForeignKey(User, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        ordering = ["next_run_at", "id"]

    def __str__(self) -> str:
        return f"{self.report} {self.frequency}"
