"""Email in: one raw RFC 5322 message in, a new case or a message on an existing one out.

``ingest_raw_email`` is the single entry point for every way mail arrives — the SMTP
receiver (``guanxi mail-in``, see ``mail_server``), an IMAP poller, or the REST API
(``POST /api/v1/service/email-in``). It promises:

* nothing is lost: the message as received is written to ``MEDIA_ROOT/service/inbound``
  before it is processed, and a message that cannot be processed is kept as a *failed*
  inbound email that a redelivery, the retry job (``inbound_email_retry_failed``, every
  ten minutes for a day) or ``inbound_email_reprocess`` tries again;
* nothing is doubled: every message is recorded once by Message-ID (or, when it has
  none, by a fingerprint of its bytes), so a redelivered message finds its first record
  and the case it made;
* replies thread: In-Reply-To / References naming any message of a case (the customer's
  own or an agent's emailed reply), or a case number such as ``[CS-2026-000123]`` in the
  subject, add the message to that case — reopening it when resolved or closed;
* an unknown sender still gets a case, without a contact and flagged for triage;
* automatic mail — out-of-office and other auto-replies (RFC 3834 ``Auto-Submitted``,
  ``X-Autoreply``, ``Precedence: bulk/junk/list/auto_reply``), bounces and delivery or
  read reports (null envelope sender, ``multipart/report``, mailer-daemon) — never opens
  or reopens a case and never adds to one: it is recorded, linked to the case it answers,
  and left there, so two auto-responders cannot loop through the service desk;
* malformed MIME is read as far as it goes (undecodable text is decoded with
  replacement characters), and attachments over the size limit are left out of the
  case with a note saying so (the raw message still holds them).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.models import Contact
from guanxi.core.normalize import normalize_email
from guanxi.service.models import (
    Case, CaseCategory, CaseMessage, CaseOrigin, CaseStatus, InboundEmail, InboundOutcome,
)
from guanxi.service.services.cases import (
    FirstMessage, IncomingFile, attachment_limit, case_add_customer_message, case_open, contact_by_email,
)

logger = logging.getLogger(__name__)
CASE_NUMBER = re.compile(r"\bCS-\d{4}-\d{6}\b", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_HEADER = 300


def max_message_bytes() -> int:
    """Largest message accepted (``GUANXI_SERVICE_MAX_EMAIL_BYTES``, 30 MB by default)."""
    return int(getattr(settings, "GUANXI_SERVICE_MAX_EMAIL_BYTES", 30 * 1024 * 1024))


# ======================================================================================
# Reading a message, however broken
# ======================================================================================
@dataclass
class ParsedEmail:
    message_id: str = ""
    sender: str = ""
    sender_name: str = ""
    to: str = ""
    subject: str = ""
    body: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    attachments: list[IncomingFile] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)   # (name, size) over the limit
    problems: list[str] = field(default_factory=list)
    automatic: str = ""   # why the message is an auto-reply, bounce or report; empty for a person's mail


class _TextFromHtml(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextFromHtml()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is for truly hostile input
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()


def _header(message: Message, name: str, problems: list[str]) -> str:
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception as error:  # a header the parser cannot decode: keep its raw text
        problems.append(_("Header %(name)s could not be decoded (%(error)s).") % {"name": name, "error": error})
        raw = message.get_all(name, failobj=[""]) if hasattr(message, "get_all") else [""]
        return str(raw[0]).encode("ascii", "replace").decode("ascii")


def _decode_part(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        problems.append(_("Text in an unknown or wrong character set (%(charset)s) was decoded with replacement "
                          "characters.") % {"charset": charset})
        for fallback in ("utf-8", "gb18030"):
            try:
                return payload.decode(fallback)
            except UnicodeDecodeError:
                continue
        return payload.decode("utf-8", errors="replace")


def _body(message: Message, problems: list[str]) -> str:
    part = None
    try:
        part = message.get_body(preferencelist=("plain", "html")) if isinstance(message, EmailMessage) else None
    except Exception:
        part = None
    if part is None and not message.is_multipart():
        part = message
    if part is None:
        for candidate in message.walk():
            if candidate.get_content_maintype() == "text" and not candidate.get_filename():
                part = candidate
                break
    if part is None:
        if message.is_multipart():
            problems.append(_("No readable text part was found."))
        return ""
    text = _decode_part(part, problems)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def _attachments(message: Message, parsed: ParsedEmail) -> None:
    if not message.is_multipart():
        return
    try:
        parts = list(message.iter_attachments()) if isinstance(message, EmailMessage) else []
    except Exception as error:
        parsed.problems.append(_("Attachments could not be read (%(error)s).") % {"error": error})
        return
    for index, part in enumerate(parts, start=1):
        if part.is_multipart():
            continue
        try:
            name = part.get_filename() or f"attachment-{index}"
        except Exception:
            name = f"attachment-{index}"
        try:
            content = part.get_payload(decode=True) or b""
        except Exception as error:
            parsed.problems.append(_("Attachment %(name)s could not be decoded (%(error)s).") % {
                "name": name, "error": error})
            continue
        if len(content) > attachment_limit():
            parsed.skipped.append((name, len(content)))
            continue
        parsed.attachments.append(IncomingFile(name=name, content_type=part.get_content_type(), content=content))


AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")
REPORT_TYPES = frozenset({"delivery-status", "disposition-notification", "feedback-report"})
BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


def _automatic_reason(message: Message, sender: str, problems: list[str]) -> str:
    """Why ``message`` was written by a machine rather than a person (empty if it was not)."""
    auto_submitted = _header(message, "Auto-Submitted", problems).split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return _("Automatic message (Auto-Submitted: %(value)s).") % {"value": auto_submitted[:40]}
    for name in AUTO_REPLY_HEADERS:
        if message.get(name) is not None:
            return _("Automatic reply (%(header)s header).") % {"header": name}
    # Outlook.com marks its replies so; "X-Autogenerated: Forward" is a person's mail passed on.
    if _header(message, "X-Autogenerated", problems).strip().lower() == "reply":
        return _("Automatic reply (%(header)s header).") % {"header": "X-Autogenerated"}
    precedence = (_header(message, "Precedence", problems) or _header(message, "X-Precedence", problems)
                  ).strip().lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return _("Automatic or bulk message (Precedence: %(value)s).") % {"value": precedence}
    if message.get_content_type() == "multipart/report" and \
            str(message.get_param("report-type", "")).lower() in REPORT_TYPES:
        return _("Delivery or read report (%(type)s).") % {"type": str(message.get_param("report-type")).lower()}
    if _header(message, "Return-Path", problems).strip() == "<>" or BOUNCE_SENDER.match(sender):
        return _("Bounce from a mail server.")
    return ""


def parse_email(raw: bytes) -> ParsedEmail:
    """Read what can be read from ``raw``; problems are listed, never raised."""
    parsed = ParsedEmail()
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as error:
        parsed.problems.append(_("The message could not be parsed (%(error)s); its text is kept as received.") % {
            "error": error})
        parsed.body = raw.decode("utf-8", errors="replace")
        return parsed
    if message.defects:
        parsed.problems.append(_("The message is malformed: %(defects)s.") % {
            "defects": ", ".join(sorted({type(defect).__name__ for defect in message.defects}))})
    parsed.message_id = " ".join(MESSAGE_ID.findall(_header(message, "Message-ID", parsed.problems)))[:MAX_HEADER]
    if " " in parsed.message_id:
        parsed.message_id = parsed.message_id.split(" ")[0]
    sender_header = _header(message, "From", parsed.problems)
    name, address = parseaddr(sender_header)
    if not address and "@" in sender_header:
        address = sender_header.strip()
    parsed.sender_name = name.strip()[:200]
    try:
        parsed.sender = normalize_email(address) if address else ""
    except ValidationError:
        parsed.problems.append(_("The sender address “%(address)s” is not valid.") % {"address": address[:100]})
    parsed.to = ", ".join(addr for _name, addr in getaddresses([_header(message, "To", parsed.problems)]))[:1000]
    parsed.subject = " ".join(_header(message, "Subject", parsed.problems).split())[:MAX_HEADER]
    parsed.in_reply_to = MESSAGE_ID.findall(_header(message, "In-Reply-To", parsed.problems))
    parsed.references = MESSAGE_ID.findall(_header(message, "References", parsed.problems))
    try:
        parsed.automatic = _automatic_reason(message, parsed.sender, parsed.problems)
    except Exception as error:  # a header too broken to read cannot prove the mail automatic
        parsed.problems.append(_("Automatic-reply headers could not be read (%(error)s).") % {"error": error})
    try:
        parsed.body = _body(message, parsed.problems)
    except Exception as error:
        parsed.problems.append(_("The text could not be read (%(error)s).") % {"error": error})
    _attachments(message, parsed)
    return parsed


# ======================================================================================
# Ingesting
# ======================================================================================
@dataclass(frozen=True)
class IngestResult:
    inbound: InboundEmail
    case: Case | None
    outcome: str
    duplicate: bool = False


def _keep_raw(raw: bytes, digest: str) -> str:
    now = timezone.now()
    path = f"service/inbound/{now:%Y/%m}/{digest}.eml"
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(raw))
    return path


def _thread_case(parsed: ParsedEmail) -> Case | None:
    mentioned = list(dict.fromkeys(parsed.in_reply_to + list(reversed(parsed.references))))
    if mentioned:
        message = (CaseMessage.objects.filter(message_id__in=mentioned).select_related("case")
                   .order_by("-created_at", "-id").first())
        if message is not None:
            return message.case
        inbound = InboundEmail.objects.filter(message_id__in=mentioned, case__isnull=False).first()
        if inbound is not None:
            return inbound.case
    match = CASE_NUMBER.search(parsed.subject)
    if match:
        return Case.objects.filter(number=match.group(0).upper()).first()
    return None


def _contact_for(address: str) -> Contact | None:
    return contact_by_email(address)


def _body_with_notes(parsed: ParsedEmail) -> str:
    body = parsed.body
    if parsed.skipped:
        notes = [_("Attachment “%(name)s” (%(size)s MB) is over the size limit and was not added to the case; "
                   "the original email is kept.") % {"name": name, "size": f"{size / (1024 * 1024):.1f}"}
                 for name, size in parsed.skipped]
        body = (body + "\n\n" if body else "") + "\n".join(f"[{note}]" for note in notes)
    return body


def ingest_raw_email(raw: bytes, *, received_via: str = "smtp", envelope_from: str = "") -> IngestResult:
    """Turn one received email into a case or a case message. See the module docstring."""
    if len(raw) > max_message_bytes():
        raise ValidationError({"message": [_("The message is larger than %(limit)s MB.") % {
            "limit": f"{max_message_bytes() / (1024 * 1024):g}"}]})
    digest = hashlib.sha256(raw).hexdigest()
    parsed = parse_email(raw)
    message_id = parsed.message_id or f"<{digest}@no-message-id.guanxi.invalid>"
    existing = InboundEmail.objects.filter(message_id=message_id).select_related("case").first()
    if existing is not None and existing.outcome != InboundOutcome.FAILED:
        return IngestResult(existing, existing.case, existing.outcome, duplicate=True)
    raw_file = _keep_raw(raw, digest)
    problems = list(parsed.problems)
    if not parsed.automatic and (envelope_from or "").strip() == "<>":
        parsed.automatic = _("Bounce from a mail server (empty envelope sender).")
    if parsed.skipped:
        problems += [_("Attachment “%(name)s” (%(size)d bytes) is over the size limit.") % {
            "name": name, "size": size} for name, size in parsed.skipped]
    try:
        with transaction.atomic():
            inbound = existing or InboundEmail(message_id=message_id)
            for name, value in {"sha256": digest, "received_via": received_via, "size": len(raw),
                                "envelope_from": (envelope_from or "")[:320], "sender": parsed.sender[:320],
                                "subject": parsed.subject, "raw_file": raw_file}.items():
                setattr(inbound, name, value)
            case, outcome = _deliver(parsed, message_id if parsed.message_id else None, problems)
            inbound.case, inbound.outcome, inbound.problems = case, outcome, problems
            inbound.save()
    except IntegrityError:
        # The same message arrived twice at once; the other delivery recorded it.
        first = InboundEmail.objects.select_related("case").get(message_id=message_id)
        return IngestResult(first, first.case, first.outcome, duplicate=True)
    except Exception as error:
        logger.exception("email %s could not be processed", message_id)
        inbound = existing or InboundEmail(message_id=message_id)
        inbound.sha256, inbound.received_via, inbound.size, inbound.raw_file = digest, received_via, len(raw), raw_file
        inbound.envelope_from, inbound.sender, inbound.subject = (envelope_from or "")[:320], parsed.sender[:320], \
            parsed.subject
        inbound.outcome = InboundOutcome.FAILED
        inbound.problems = problems + [f"{type(error).__name__}: {error}"[:500]]
        inbound.save()
        return IngestResult(inbound, None, InboundOutcome.FAILED)
    return IngestResult(inbound, case, outcome)


def _deliver(parsed: ParsedEmail, message_id: str | None, problems: list[str]) -> tuple[Case | None, str]:
    case = _thread_case(parsed)
    if parsed.automatic:
        # Recorded against the case it answers, but no message, no reopening, no new case.
        problems.append(parsed.automatic)
        return case, InboundOutcome.AUTOMATIC
    body = _body_with_notes(parsed)
    if case is not None:
        before = case.status
        contact = _contact_for(parsed.sender)
        if case.contact_id and contact is not None and contact.pk != case.contact_id:
            problems.append(_("The sender is not the case's contact."))
        case_add_customer_message(
            case_id=case.pk, body=body, channel="email", from_address=parsed.sender, subject=parsed.subject,
            message_id=message_id, in_reply_to=" ".join(parsed.in_reply_to)[:MAX_HEADER],
            references=" ".join(parsed.references), attachments=parsed.attachments)
        reopened = before in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
        return Case.objects.get(pk=case.pk), InboundOutcome.REOPENED if reopened else InboundOutcome.THREADED
    contact = _contact_for(parsed.sender)
    if contact is None:
        problems.append(_("Unknown sender: the case has no contact and waits for triage."))
    data = {"subject": parsed.subject or _("(no subject)"), "description": body, "origin": CaseOrigin.EMAIL,
            "category": CaseCategory.OTHER, "requester_email": parsed.sender,
            "requester_name": parsed.sender_name}
    if contact is not None:
        data["contact_id"] = contact.pk
    if not parsed.sender:
        data.pop("requester_email")
    case = case_open(actor=None, data=data, attachments=parsed.attachments, first_message=FirstMessage(
        from_address=parsed.sender, to_addresses=parsed.to, message_id=message_id,
        in_reply_to=" ".join(parsed.in_reply_to)[:MAX_HEADER], references=" ".join(parsed.references)))
    if case.needs_triage is False and contact is None:
        Case.objects.filter(pk=case.pk).update(needs_triage=True)
        case.needs_triage = True
    return case, InboundOutcome.CREATED


RETRY_WINDOW_HOURS = 24


def inbound_email_retry_failed(*, now=None, limit: int = 50) -> dict[str, int]:
    """Try again the emails that could not be processed in the last day (the SMTP sender
    was told they are stored, so it will not send them again): a passing database or
    storage problem must not leave a customer's email without a case. Older failures wait
    for a person, so a message that always fails is not retried for ever."""
    import datetime as dt

    now = now or timezone.now()
    failed = InboundEmail.objects.filter(outcome=InboundOutcome.FAILED,
                                         received_at__gte=now - dt.timedelta(hours=RETRY_WINDOW_HOURS))
    counts = {"retried": 0, "recovered": 0}
    for inbound in failed.order_by("received_at", "id")[:limit]:
        try:
            result = inbound_email_reprocess(inbound)
        except OSError:   # the kept raw message is unreadable: nothing to retry with
            logger.exception("email %s: the kept raw message cannot be read", inbound.message_id)
            continue
        counts["retried"] += 1
        counts["recovered"] += result.outcome != InboundOutcome.FAILED
    return counts


def inbound_email_reprocess(inbound: InboundEmail) -> IngestResult:
    """Process a failed inbound email again from the raw message kept on disk."""
    with default_storage.open(inbound.raw_file, "rb") as handle:
        raw = handle.read()
    return ingest_raw_email(raw, received_via=inbound.received_via, envelope_from=inbound.envelope_from)
