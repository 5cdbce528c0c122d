"""Customer interaction management (SPEC §6).

Holmlund's hierarchy: acts (``Interaction``) group into episodes (a case, a purchase),
episodes into sequences (a campaign, a contract year), sequences into the relationship
(the account or contact itself).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import Account, Channel, Contact, User


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class Sequence(models.Model):
    """A run of episodes with one purpose, e.g. a campaign or a contract year."""

    kind = models.CharField(_("kind"), max_length=40, help_text=_("E.g. campaign, contract year."))
    title = models.CharField(_("title"), max_length=200, help_text="")
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interaction_sequences", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interaction_sequences", help_text="")
    source_type = models.CharField(_("source type"), max_length=40, blank=True, help_text=_("Owning object type."))
    source_id = models.CharField(_("source ID"), max_length=64, blank=True, help_text=_("Owning object ID."))
    started_at = models.DateTimeField(_("started at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("interaction sequence")
        verbose_name_plural = _("interaction sequences")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.title


class Episode(models.Model):
    """A group of acts around one matter, e.g. a service case or a purchase."""

    kind = models.CharField(_("kind"), max_length=40, help_text=_("E.g. case, purchase, call."))
    title = models.CharField(_("title"), max_length=200, help_text="")
    sequence = models.ForeignKey(Sequence, verbose_name=_("sequence"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="episodes", help_text="")
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interaction_episodes", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interaction_episodes", help_text="")
    source_type = models.CharField(_("source type"), max_length=40, blank=True, help_text="")
    source_id = models.CharField(_("source ID"), max_length=64, blank=True, help_text="")
    started_at = models.DateTimeField(_("started at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("interaction episode")
        verbose_name_plural = _("interaction episodes")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id"], condition=~models.Q(source_id=""),
                                    name="episode_unique_source"),
        ]

    def __str__(self) -> str:
        return self.title


class Interaction(models.Model):
    # --- fields ---
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interactions",
                                help_text=_("Person the interaction was with."))
    account = models.ForeignKey(Account, verbose_name=_("customer"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="interactions",
                                help_text=_("Customer account; taken from the contact when empty."))
    agent = models.ForeignKey(User, verbose_name=_("agent"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="interactions", help_text=_("Employee who handled it."))
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices,
                                 default=Direction.INBOUND, help_text="")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, help_text="")
    occurred_at = models.DateTimeField(_("time"), default=timezone.now, help_text=_("When it started."))
    duration_seconds = models.PositiveIntegerField(_("duration (s)"), default=0, help_text=_("Length in seconds."))
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("One-line summary."))
    reason = models.CharField(_("reason"), max_length=120, blank=True, help_text=_("Why the contact happened."))
    outcome = models.CharField(_("outcome"), max_length=120, blank=True, help_text=_("What was decided or done."))
    effect = models.CharField(_("effect"), max_length=200, blank=True,
                              help_text=_("Effect on the relationship, e.g. complaint resolved, upsell."))
    script = models.CharField(_("script"), max_length=120, blank=True, help_text=_("Script the agent used."))
    notes = models.TextField(_("notes"), blank=True, help_text="")
    documents = models.JSONField(_("documents"), default=list, blank=True,
                                 help_text=_("Documents created: list of {name, url}."))
    episode = models.ForeignKey(Episode, verbose_name=_("episode"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="interactions", help_text="")
    source_type = models.CharField(_("source type"), max_length=40, blank=True,
                                   help_text=_("Object that produced it, e.g. case, call, activity."))
    source_id = models.CharField(_("source ID"), max_length=64, blank=True, help_text="")
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now, help_text="")

    # --- Meta ---
    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="interaction_contact_time"),
            models.Index(fields=["account", "-occurred_at", "-id"], name="interaction_account_time"),
            models.Index(fields=["agent", "-occurred_at"], name="interaction_agent_time"),
        ]
        constraints = [
            # The same source event is recorded once, however often it is delivered.
            models.UniqueConstraint(fields=["source_type", "source_id"], condition=~models.Q(source_id=""),
                                    name="interaction_unique_source"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"
