"""One job system for every domain.

A ``Job`` row is the durable truth about a piece of background work: its state, its
progress and its result. The queue (Huey on SQLite in zero-service mode, Huey on Redis
when configured) only carries job IDs, so a lost queue message is recovered from the
table at start-up and a duplicate delivery finds the job already done.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import User


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Job(models.Model):
    # --- fields ---
    kind = models.CharField(_("kind"), max_length=80, db_index=True,
                            help_text=_("Registered handler name, e.g. core.import_contacts."))
    title = models.CharField(_("title"), max_length=200, blank=True, help_text=_("What the job does."))
    params = models.JSONField(_("parameters"), default=dict, blank=True, help_text="")
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, null=True, blank=True, unique=True,
                                       help_text=_("Enqueuing the same key twice yields the same job."))
    state = models.CharField(_("state"), max_length=20, choices=JobState.choices, default=JobState.QUEUED,
                             db_index=True, help_text="")
    progress = models.PositiveIntegerField(_("progress"), default=0, help_text=_("Units done."))
    total = models.PositiveIntegerField(_("total"), default=0, help_text=_("Units to do; 0 when unknown."))
    message = models.CharField(_("message"), max_length=500, blank=True, help_text=_("Latest status line."))
    result = models.JSONField(_("result"), default=dict, blank=True, help_text="")
    error = models.TextField(_("error"), blank=True, help_text="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0, help_text="")
    max_attempts = models.PositiveIntegerField(_("maximum attempts"), default=3, help_text="")
    run_at = models.DateTimeField(_("run at"), default=timezone.now, db_index=True,
                                  help_text=_("Not started before this time."))
    created_by = models.ForeignKey(User, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", help_text="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, help_text="")
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True,
                                        help_text=_("Last sign of life from the worker."))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == JobState.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return min(100, int(100 * self.progress / self.total))
