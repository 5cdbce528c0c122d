"""Reading bounces: delivery status notifications (RFC 3464, ``multipart/report;
report-type=delivery-status``), as mail servers send them back to the sender.

A DSN has a human-readable part, a ``message/delivery-status`` part with one block of
fields per recipient (``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``)
and usually the original message or its headers, whose ``Message-ID`` tells which
campaign recipient the bounce answers. Plain Python ``email``; no Django.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import Message


@dataclass(frozen=True)
class Failure:
    email: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


@dataclass
class DeliveryReport:
    failures: list[Failure] = field(default_factory=list)
    original_message_id: str = ""


def _address(value: str) -> str:
    """``rfc822; Someone@Example.com`` → ``someone@example.com``."""
    value = (value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").lower()


def _field_blocks(part: Message) -> list[Message]:
    """The per-message and per-recipient field blocks of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each block as a sub-message
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    blocks = [block for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return [email.message_from_string(block) for block in blocks]


def parse_dsn(raw: bytes) -> DeliveryReport | None:
    """The failed recipients of a DSN, or None if ``raw`` is not one."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report" or \
            (message.get_param("report-type") or "").lower() != "delivery-status":
        return None
    report = DeliveryReport()
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            for block in _field_blocks(part)[1:] or _field_blocks(part):
                recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
                action = (block.get("Action") or "").strip().lower()
                status = (block.get("Status") or "").strip()
                if not recipient or action != "failed":  # "delayed" is a warning, not a bounce
                    continue
                report.failures.append(Failure(email=_address(recipient), action=action, status=status or "5.0.0",
                                               diagnostic=" ".join((block.get("Diagnostic-Code") or "").split())))
        elif content_type in ("message/rfc822", "text/rfc822-headers") and not report.original_message_id:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                report.original_message_id = (payload[0].get("Message-ID") or "").strip()
            else:
                text = payload if isinstance(payload, str) else ""
                headers = email.message_from_string(text)
                report.original_message_id = (headers.get("Message-ID") or "").strip()
    return report
