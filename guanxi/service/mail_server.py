"""The SMTP receiver of email-in (``guanxi mail-in --port N``), built on aiosmtpd.

Mail for the service desk is delivered here by the company's mail server (a transport
rule or an MX for a support subdomain). Each message goes through
``email_in.ingest_raw_email``; the SMTP answer tells the sending server what happened:

* 250 — the message is stored (as a case, a case message, or kept as a failed inbound
  email with its raw text for reprocessing); the sender must not send it again;
* 552 — the message is larger than the limit (aiosmtpd refuses it during DATA);
* 451 — the database could not be reached; the sending server retries later, and the
  Message-ID check makes the retry safe.
"""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import close_old_connections

from guanxi.service.email_in import ingest_raw_email, max_message_bytes

logger = logging.getLogger(__name__)


def _ingest_in_worker_thread(raw: bytes, envelope_from: str):
    close_old_connections()
    try:
        return ingest_raw_email(raw, received_via="smtp", envelope_from=envelope_from)
    finally:
        close_old_connections()


class CaseMailHandler:
    """aiosmtpd handler: every accepted message becomes a case or a case message."""

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            result = await sync_to_async(_ingest_in_worker_thread, thread_sensitive=False)(
                raw, envelope.mail_from or "<>")
        except ValidationError:
            return "552 5.3.4 Message too big for the service desk"
        except Exception:
            logger.exception("email-in: could not store a message from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure; please try again later"
        case = result.case.number if result.case is not None else "-"
        return f"250 2.0.0 Accepted ({result.outcome} {case})"


def start_mail_server(host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """Start the receiver in a background thread; ``controller.stop()`` ends it."""
    controller = Controller(CaseMailHandler(), hostname=host, port=port, data_size_limit=max_message_bytes(),
                            server_hostname="guanxi-mail-in", ready_timeout=10)
    controller.start()
    logger.info("email-in listening on %s:%d", host, port)
    return controller
