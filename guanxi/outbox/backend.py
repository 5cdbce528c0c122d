"""A Django email backend that keeps messages in the outbox instead of sending them.

Settings choose it when no mail server is configured (``GUANXI_EMAIL_HOST`` unset), so
every ``EmailMessage.send()``, ``send_mail()`` and ``get_connection().send_messages()`` of
every domain works unchanged in zero-service mode.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

BACKEND_PATH = "guanxi.outbox.backend.OutboxEmailBackend"


def outbox_in_use() -> bool:
    """True when mail goes to the outbox (no mail server configured)."""
    return settings.EMAIL_BACKEND == BACKEND_PATH


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        from guanxi.outbox.services import outbox_messages_store

        batch = [(message.from_email or settings.DEFAULT_FROM_EMAIL, list(message.recipients()),
                  message.message().as_bytes(linesep="\r\n"))
                 for message in email_messages if message.recipients()]
        if not batch:
            return 0
        try:
            return len(outbox_messages_store(messages=batch))
        except Exception:
            if not self.fail_silently:
                raise
            return 0
