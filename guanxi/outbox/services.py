"""Writes of the outbox: storing messages that no mail server was configured to take."""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser
from typing import Iterable

from guanxi.jobs.registry import running_job
from guanxi.outbox.models import OutboxMessage

_HEADERS = BytesHeaderParser(policy=policy.default)


def _header(headers, name: str, limit: int) -> str:
    try:
        value = headers.get(name)
    except Exception:  # a malformed header is shown raw on the detail page; the message is still kept
        value = None
    return " ".join(str(value or "").split())[:limit]


def outbox_messages_store(*, messages: Iterable[tuple[str, list[str], bytes]]) -> list[OutboxMessage]:
    """Keep each (envelope sender, envelope recipients, message bytes) in the outbox, in one
    INSERT; the job running in this thread (if any) is recorded as the sender."""
    job = running_job.get()
    rows = []
    for sender, recipients, data in messages:
        headers = _HEADERS.parsebytes(data)
        rows.append(OutboxMessage(
            sender=sender[:320], recipients=", ".join(recipients), subject=_header(headers, "Subject", 500),
            message_id=_header(headers, "Message-ID", 255), raw=data.decode("utf-8", "replace"),
            source=job.kind if job is not None else "", job_id=job.pk if job is not None else None))
    return OutboxMessage.objects.bulk_create(rows)
