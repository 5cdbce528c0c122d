"""The outbox: email kept in the database when no mail server is configured.

In zero-service mode (no ``GUANXI_EMAIL_HOST``) Django's email backend is
``guanxi.outbox.backend.OutboxEmailBackend``: quotes, case replies, surveys, reports and
campaigns are "sent" into this table instead of failing, and an administrator reads them on
the Outbox page. With a mail server configured nothing is stored here.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Searched by the Outbox page's search box.
SEARCH_FIELDS = ("subject", "recipients", "sender")


class OutboxMessage(models.Model):
    # --- fields ---
    created_at = models.DateTimeField(_("sent at"), default=timezone.now, db_index=True,
                                      help_text=_("When Guanxi handed the message to the outbox."))
    sender = models.CharField(_("sender"), max_length=320, blank=True,
                              help_text=_("The envelope sender (MAIL FROM)."))
    recipients = models.TextField(_("recipients"), blank=True,
                                  help_text=_("Every envelope recipient (RCPT TO), comma-separated: To, Cc and Bcc."))
    subject = models.CharField(_("subject"), max_length=500, blank=True, help_text=_("The decoded Subject header."))
    message_id = models.CharField(_("message ID"), max_length=255, blank=True, help_text=_("The Message-ID header."))
    raw = models.TextField(_("raw message"), help_text=_("The whole message as it would have gone to the server."))
    source = models.CharField(_("source"), max_length=80, blank=True,
                              help_text=_("The kind of background job that sent it (e.g. sales.send_quote); "
                                          "empty when a page sent it directly."))
    job = models.ForeignKey("jobs.Job", verbose_name=_("job"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+", help_text=_("The background job that sent it, while it is kept."))

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipients}"

    # --- methods ---
    @property
    def domain(self) -> str:
        """The sending domain (sales, service, marketing, …), read from the job kind."""
        return self.source.split(".", 1)[0] if self.source else ""
