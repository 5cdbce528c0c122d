"""Sending a campaign: freezing its audience, then handing every message to SMTP (or an SMS
gateway) exactly the way that survives a crash without sending anyone anything twice.

The rule, recorded per recipient (``CampaignRecipient``)::

    pending ──claim (committed)──▶ handed_off ──server accepted──▶ sent
                                       │ server refused 4xx ──▶ retry (backoff) ──▶ … ──▶ failed
                                       │ server refused 5xx ──▶ failed
                                       └ crash / connection lost during DATA ──▶ unconfirmed

* A batch of rows is written ``handed_off`` and committed *before* any of its messages
  goes to the server; only then are they sent, and the outcomes recorded.
* A run that finds ``handed_off`` rows (left by a run that died) turns them into
  ``unconfirmed`` and never sends them again: **at most once**. The server may or may not
  have taken them; they are reported on the campaign page and in the API, for a person
  to decide. At most one batch (``GUANXI_MARKETING_BATCH``) can end up there per crash.
* A refusal the server *answered* (4xx/5xx) or a failure before the DATA command means the
  message did not go: temporary ones are retried with backoff, permanent ones are failed,
  each with the server's words on the recipient row.
* A server that offers CHUNKING and PIPELINING gets a chunk of messages back to back in one
  write (BDAT), each still judged by its own answers. The price: when the line breaks in
  the middle, every message of the chunk still unanswered is ``unconfirmed`` (any of them
  may have arrived), not only the one being sent as with DATA.
* Consent is checked when the audience is frozen *and again* in the same transaction that
  claims a batch: someone who unsubscribed, was erased, marked do-not-contact or bounced
  in between is skipped, never mailed.
* One run at a time per campaign: a lease on the campaign row, renewed while sending and
  taken over only when stale (the worker died).
"""

from __future__ import annotations

import datetime
import gc
import logging
import queue
import re
import smtplib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.models import Address, Contact
from guanxi.marketing import conf, email_bytes, mail_merge, tracking
from guanxi.marketing.models import (
    AbTest, AbTestState, Campaign, CampaignChannel, CampaignRecipient, CampaignStatus, EmailSuppression,
    RecipientState,
)

logger = logging.getLogger(__name__)
CLAIMABLE = (RecipientState.PENDING, RecipientState.RETRY)
SMTP_CHUNK = 25             # messages handed to a connection thread at a time
SEND_JOB = "marketing.send_campaign"


# ======================================================================================
# Who may be reached
# ======================================================================================
def reachable(channel: str) -> Q:
    """Contacts a campaign on ``channel`` may reach: consent given, not do-not-contact, not
    erased, an address to use, and (email) not on the suppression list."""
    base = Q(do_not_contact=False, is_erased=False)
    if channel in (CampaignChannel.EMAIL, CampaignChannel.EVENT):
        return base & Q(consent_email=True) & ~Q(email="") & ~Q(
            Exists(EmailSuppression.objects.filter(email=OuterRef("email"))))
    if channel == CampaignChannel.SMS:
        return base & Q(consent_sms=True) & ~Q(phone="")
    if channel == CampaignChannel.PHONE:
        return base & Q(consent_phone=True) & ~Q(phone="")
    if channel == CampaignChannel.DIRECT_MAIL:
        has_address = Q(Exists(Address.objects.filter(contact_id=OuterRef("pk")))) | Q(
            Exists(Address.objects.filter(account_id=OuterRef("account_id"))))
        return base & Q(consent_mail=True) & has_address
    return base


def address_column(channel: str) -> str:
    return "phone" if channel in (CampaignChannel.SMS, CampaignChannel.PHONE) else \
        "full_name" if channel == CampaignChannel.DIRECT_MAIL else "email"


def audience(campaign: Campaign) -> QuerySet[Contact]:
    """The segment's contacts as the campaign's owner sees them (one SQL query)."""
    from guanxi.core import selectors as core_selectors
    from guanxi.marketing import selectors

    owner = campaign.launched_by or campaign.owner
    base = core_selectors.visible_contacts(owner) if owner is not None else Contact.objects.all()
    return selectors.segment_contacts(campaign.segment, base)


def freeze_audience(campaign: Campaign) -> tuple[int, int]:
    """Write one recipient row per reachable segment member with one INSERT … SELECT;
    returns (recipients, members left out)."""
    if not campaign.segment_id:
        return 0, 0
    members = audience(campaign)
    total = members.count()
    eligible = members.filter(reachable(campaign.channel)).order_by()
    sql, params = eligible.values("id", address_column(campaign.channel), "preferred_language").query \
        .sql_with_params()
    table = CampaignRecipient._meta.db_table
    column = address_column(campaign.channel)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, contact_id, address, language, variant, state, attempts, "
            f"last_error, message_id) SELECT %s, member.id, member.{column}, member.preferred_language, '', %s, 0, "
            f"'', '' FROM ({sql}) member", [campaign.pk, RecipientState.PENDING, *params])
        inserted = cursor.rowcount
    return inserted, total - inserted


def enqueue_send(campaign: Campaign, *, actor=None, run_at=None):
    from guanxi.jobs.services import job_enqueue

    round_key = uuid.uuid4().hex[:8]
    return job_enqueue(actor=None, kind=SEND_JOB, params={"campaign_id": campaign.pk},
                       title=_("Send campaign “%(name)s”") % {"name": campaign.name},
                       idempotency_key=f"{SEND_JOB}:{campaign.pk}:{round_key}", run_at=run_at, max_attempts=5)


# ======================================================================================
# Outcomes of one hand-off
# ======================================================================================
SENT, RETRY, FAILED, UNCONFIRMED = "sent", "retry", "failed", "unconfirmed"


@dataclass
class Outcome:
    recipient_id: int
    result: str
    detail: str = ""


@dataclass
class SendReport:
    campaign_id: int
    sent: int = 0
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    unconfirmed: int = 0
    recovered_unconfirmed: int = 0
    busy: bool = False
    finished: bool = False
    seconds: float = 0.0
    next_attempt_at: str | None = None

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items()}


# ======================================================================================
# The lease: one run per campaign
# ======================================================================================
def _acquire_lease(campaign_id: int, token: str) -> bool:
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=conf.lease_seconds())
    with transaction.atomic():
        taken = Campaign.objects.filter(pk=campaign_id).filter(
            Q(send_lease="") | Q(send_lease_at__lt=stale) | Q(send_lease_at__isnull=True)).update(
            send_lease=token, send_lease_at=now)
    return bool(taken)


def _renew_lease(campaign_id: int, token: str) -> bool:
    return bool(Campaign.objects.filter(pk=campaign_id, send_lease=token).update(send_lease_at=timezone.now()))


def _release_lease(campaign_id: int, token: str) -> None:
    Campaign.objects.filter(pk=campaign_id, send_lease=token).update(send_lease="", send_lease_at=None)


# ======================================================================================
# Claiming and recording
# ======================================================================================
def _recover_interrupted(campaign: Campaign) -> int:
    """Rows a dead run handed off without confirming: never resent (at most once)."""
    return CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.HANDED_OFF).update(
        state=RecipientState.UNCONFIRMED,
        last_error=_("Interrupted while being handed to the server; not resent (at most once). "
                     "Check the server's log before sending again."))


class LeaseLost(Exception):
    """Another run took the campaign over (this one was presumed dead); stop sending."""


def _claim(campaign: Campaign, limit: int, token: str) -> tuple[list[dict], int]:
    """Commit a batch as handed_off (with a fresh consent check); returns its rows and the
    number skipped because the person may no longer be contacted. Only the lease holder
    claims: the lease row is locked (and renewed) in the same transaction."""
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.select_for_update().filter(pk=campaign.pk, send_lease=token).update(
                send_lease_at=now):
            raise LeaseLost(campaign.pk)
        # The due rows, first by ID: pending ones and retries whose time has come, each read in
        # ID order from the (campaign, state, id) index. One query with "pending OR due retry"
        # is read through the campaign index instead, past every row already sent: a scan that
        # grows with each batch of a large campaign.
        recipients = CampaignRecipient.objects.filter(campaign=campaign).order_by("id")
        pending = recipients.filter(state=RecipientState.PENDING).values_list("id", flat=True)[:limit]
        retries = recipients.filter(state=RecipientState.RETRY, next_attempt_at__lte=now).values_list(
            "id", flat=True)[:limit]
        ids = sorted([*pending, *retries])[:limit]
        if not ids:
            return [], 0
        batch = CampaignRecipient.objects.filter(id_filter(ids))
        unreachable = ~Q(Exists(Contact.objects.filter(reachable(campaign.channel), pk=OuterRef("contact_id"))))
        if campaign.channel in (CampaignChannel.EMAIL, CampaignChannel.EVENT):
            unreachable |= Q(Exists(EmailSuppression.objects.filter(email=OuterRef("address"))))
        skipped = batch.filter(unreachable).update(
            state=RecipientState.SKIPPED, last_error=_("No longer reachable: consent withdrawn, do not contact, "
                                                       "erased or address suppressed."))
        batch.filter(state__in=CLAIMABLE).update(
            state=RecipientState.HANDED_OFF, handed_off_at=now, attempts=F("attempts") + 1)
        rows = list(batch.filter(state=RecipientState.HANDED_OFF)
                    .values("id", "contact_id", "address", "language", "variant", "attempts").order_by("id"))
    return rows, skipped


def consecutive(ids: list[int]) -> tuple[int, int] | None:
    """(first, last) when ``ids`` are every integer from first to last, else None."""
    unique = set(ids)
    if unique and max(unique) - min(unique) + 1 == len(unique):
        return min(unique), max(unique)
    return None


def id_filter(ids: list[int]) -> Q:
    """``pk__in=ids`` — as a range when the IDs are consecutive, the same rows then: a
    campaign's recipients are written by one INSERT, so a batch of them usually is. Django
    prepares each of a thousand ``IN`` parameters one by one (about 2 ms per query)."""
    span = consecutive(ids)
    return Q(pk__gte=span[0], pk__lte=span[1]) if span else Q(pk__in=ids)


def _record(campaign: Campaign, outcomes: list[Outcome]) -> None:
    """Store what happened to a batch; one UPDATE per kind of outcome (sent rows in one)."""
    if not outcomes:
        return
    now = timezone.now()
    delays = conf.retry_delays()
    by_result: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_result.setdefault(outcome.result, []).append(outcome)
    with transaction.atomic():
        sent = [outcome.recipient_id for outcome in by_result.get(SENT, [])]
        if sent:
            CampaignRecipient.objects.filter(id_filter(sent), state=RecipientState.HANDED_OFF).update(
                state=RecipientState.SENT, sent_at=now, last_error="",
                message_id=Concat(Value("<gx."), Cast("id", CharField()), Value(f".{campaign.pk}@guanxi>")))
        handed_off = CampaignRecipient.objects.filter(state=RecipientState.HANDED_OFF)
        for outcome in by_result.get(RETRY, []):
            row = CampaignRecipient.objects.filter(pk=outcome.recipient_id).values("attempts").first()
            attempts = row["attempts"] if row else 1
            if attempts > len(delays):
                handed_off.filter(pk=outcome.recipient_id).update(
                    state=RecipientState.FAILED, last_error=(_("Gave up after %(count)d attempts: %(detail)s")
                                                             % {"count": attempts, "detail": outcome.detail})[:500])
            else:
                handed_off.filter(pk=outcome.recipient_id).update(
                    state=RecipientState.RETRY, last_error=outcome.detail[:500],
                    next_attempt_at=now + datetime.timedelta(seconds=delays[attempts - 1]))
        for result, state in ((FAILED, RecipientState.FAILED), (UNCONFIRMED, RecipientState.UNCONFIRMED)):
            for outcome in by_result.get(result, []):
                handed_off.filter(pk=outcome.recipient_id).update(state=state, last_error=outcome.detail[:500])


# ======================================================================================
# Building messages
# ======================================================================================
def message_id_for(recipient_id: int, campaign_id: int) -> str:
    return f"<gx.{recipient_id}.{campaign_id}@guanxi>"


def recipient_from_message_id(message_id: str) -> int | None:
    """The recipient a bounce's original Message-ID names, if it is one of ours."""
    value = (message_id or "").strip().strip("<>")
    if not value.startswith("gx.") or "@" not in value:
        return None
    try:
        return int(value[3:].split("@", 1)[0].split(".")[0])
    except ValueError:
        return None


def campaign_merge_fields(campaign: Campaign | None, event=None) -> dict:
    """The campaign's, event's and sender's fields of the merge context."""
    extra = {"sender": {"name": conf.from_name(), "email": conf.from_email()}}
    if campaign is not None:
        extra["campaign"] = {"name": campaign.name, "description": campaign.description,
                             "landing_url": campaign.landing_url}
        extra["view_url"] = campaign.landing_url
        event = event or campaign.event
    if event is not None:
        extra["event"] = {"name": event.name, "description": event.description, "starts_at": event.starts_at,
                          "ends_at": event.ends_at or "", "venue": event.venue, "address": event.address,
                          "registration_url": tracking.event_registration_url(event, campaign)}
    return extra


class EmailComposer:
    """Renders and wraps campaign email: compiled templates (per A/B variant), merge fields,
    tracked links, open pixel, one-click unsubscribe headers."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        ab_test = AbTest.objects.filter(campaign=campaign).select_related("template_b").first()
        templates = {"A": campaign.template}
        self.renderers = {"A": mail_merge.MessageRenderer(campaign.template)}
        if ab_test is not None:
            templates["B"] = ab_test.template_b or campaign.template
            self.renderers["B"] = mail_merge.MessageRenderer(templates["B"], subject_override=ab_test.subject_b)
        winner = ab_test.winner if ab_test is not None and ab_test.state == AbTestState.DECIDED else "A"
        self.renderers[""] = self.renderers[winner or "A"]
        templates[""] = templates[winner or "A"]
        # A template without the unsubscribe link gets one appended; the header is always there.
        self.mentions_unsubscribe = {variant: "unsubscribe_url" in template.body_en + template.body_zh
                                     for variant, template in templates.items()}
        self.sender = email_bytes.encode_address(conf.from_name(), conf.from_email())
        self.extra = campaign_merge_fields(campaign)

    def contexts(self, rows: list[dict]) -> dict[int, dict]:
        """Merge contexts of the rows' contacts; for a batch of consecutive rows the contacts
        are named by a subquery on the rows, not by a thousand parameters."""
        span = consecutive([row["id"] for row in rows])
        if span is None:
            return mail_merge.contexts_for([row["contact_id"] for row in rows], self.extra)
        return mail_merge.contexts_for(CampaignRecipient.objects.filter(pk__gte=span[0], pk__lte=span[1])
                                       .values("contact_id"), self.extra)

    def compose(self, row: dict, context: dict) -> bytes:
        """The message of one recipient, as the bytes handed to SMTP."""
        recipient_id = row["id"]
        unsubscribe = tracking.unsubscribe_url(row["contact_id"], self.campaign.pk)
        variant = row.get("variant") or ""
        renderer = self.renderers.get(variant, self.renderers[""])
        rendered = renderer.render({**context, "unsubscribe_url": unsubscribe}, context.get("_language"))
        html = tracking.track_links(rendered.body, recipient_id, skip=(unsubscribe,))
        if not self.mentions_unsubscribe.get(variant, False):
            html += (f'<p style="font-size:12px;color:#666"><a href="{unsubscribe}">'
                     f'{"退订" if rendered.language == "zh-hans" else "Unsubscribe"}</a></p>')
        html += f'<img src="{tracking.open_pixel_url(recipient_id)}" width="1" height="1" alt="">'
        return email_bytes.build_message(
            sender=self.sender, to=row["address"], subject=rendered.subject, text=rendered.text, html=html,
            message_id=message_id_for(recipient_id, self.campaign.pk),
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                     "X-Guanxi-Campaign": str(self.campaign.pk)})


# ======================================================================================
# SMTP: a few reused connections, each message's fate classified
# ======================================================================================
def _smtp_outcome(code: int, text: str, recipient_id: int) -> Outcome:
    detail = f"{code} {text}".strip()
    return Outcome(recipient_id, RETRY if 400 <= code < 500 else FAILED, detail)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SmtpLine:
    """One SMTP connection opened through Django's email backend and reused for many messages."""

    def __init__(self):
        self.backend = get_connection(fail_silently=False)
        self.open = False

    def ensure_open(self) -> None:
        if not self.open or self.backend.connection is None:
            self.backend.close()
            self.backend.open()
            self.backend.connection.ehlo_or_helo_if_needed()  # sendmail() would; mail() alone does not
            self.open = True

    def close(self) -> None:
        try:
            self.backend.close()
        except Exception:  # closing a broken connection must not mask the send's outcome
            logger.debug("closing SMTP connection failed", exc_info=True)
        self.open = False

    def deliver_chunk(self, sender: str, chunk: list[tuple[int, str, bytes]]) -> list[Outcome]:
        """Messages (recipient ID, address, bytes) in order on this connection, each with its
        outcome. A message whose commands failed on a connection that then broke is tried
        once more on a fresh one (nothing of it went: the server never said 354)."""
        if len(chunk) > 1 and self._streams():
            return self._stream(sender, chunk)
        outcomes: list[Outcome] = []
        announced = False   # the next message's MAIL, RCPT and DATA already went out
        index, second_try = 0, False
        while index < len(chunk):
            recipient_id, to, data = chunk[index]
            following = chunk[index + 1][1] if index + 1 < len(chunk) else None
            outcome, announced = self._hand_over(recipient_id, sender, to, data, announced, following)
            if outcome.result == RETRY and not self.open and not second_try:
                second_try = True
                continue
            outcomes.append(outcome)
            index, second_try = index + 1, False
        return outcomes

    def _hand_over(self, recipient_id: int, sender: str, to: str, data: bytes, announced: bool,
                   following: str | None) -> tuple[Outcome, bool]:
        """MAIL, RCPT, DATA, then the message: a failure before the server says 354 provably
        sent nothing (retry); a lost connection while the message itself goes over may or may
        not have delivered it (unconfirmed).

        With PIPELINING (RFC 2920) the three commands travel together, and those of the
        ``following`` message travel in the same write as this message's content (a group
        may begin with message content): one round trip per message. Each message is still
        judged by its own replies, read in order, so the rule above is unchanged: the
        following message's content goes only after its own 354. Returns the outcome and
        whether the following message's commands were sent."""
        try:
            self.ensure_open()
            smtp = self.backend.connection
            pipelining = smtp.has_extn("pipelining")
            if pipelining:
                if not announced:
                    smtp.send(_envelope(sender, to))
                replies = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
            else:
                replies = [smtp.mail(sender)]
                if replies[0][0] == 250:
                    replies.append(smtp.rcpt(to))
                if replies[-1][0] in (250, 251):
                    smtp.putcmd("data")
                    replies.append(smtp.getreply())
            refusal = next((reply for reply, wanted in zip(replies, ((250,), (250, 251), (354,)))
                            if reply[0] not in wanted), None)
            if refusal is not None or len(replies) < 3:
                if replies[-1][0] == 354:  # refused recipient but DATA accepted: end it empty
                    smtp.send(b".\r\n")
                    smtp.getreply()
                smtp.rset()
                code, text = refusal or replies[-1]
                return _smtp_outcome(code, _text(text), recipient_id), False
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Outcome(recipient_id, RETRY, _("Not handed over: %(error)s") % {"error": error}), False
        announce = pipelining and following is not None
        try:
            smtp.send(_dot_stuffed(data) + (b".\r\n" + _envelope(sender, following) if announce else b".\r\n"))
            code, text = smtp.getreply()
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Outcome(recipient_id, UNCONFIRMED,
                           _("Connection lost while handing over the message (%(error)s); the server may have "
                             "accepted it, so it is not resent.") % {"error": error}), False
        if code != 250:
            return _smtp_outcome(code, _text(text), recipient_id), announce
        return Outcome(recipient_id, SENT), announce

    def _streams(self) -> bool:
        """Whether whole messages may go out back to back: the server offers CHUNKING (RFC
        3030: BDAT announces the message's size, so no 354 is waited for) and PIPELINING,
        and the connection answers a NOOP now — a line the server closed while idle (often
        after a 421) must not swallow a stream. False also when no connection can be had:
        the one-by-one path then reports that per message."""
        for _attempt in range(2):
            try:
                self.ensure_open()
                smtp = self.backend.connection
                if not (smtp.has_extn("chunking") and smtp.has_extn("pipelining")):
                    return False
                if smtp.noop()[0] == 250:
                    return True
            except (smtplib.SMTPException, OSError):
                logger.debug("SMTP connection not usable for streaming", exc_info=True)
            self.close()
        return False

    def _stream(self, sender: str, chunk: list[tuple[int, str, bytes]]) -> list[Outcome]:
        """RSET, MAIL, RCPT and BDAT … LAST with the message, for every message of the chunk
        in one write, then the four answers of each in order (RSET first so that a refused
        message leaves no transaction open for the next). A message refused by an answer did
        not go (retry or failed as for DATA); one whose answers were lost with the connection
        may have been delivered: unconfirmed, never resent. So a broken line can leave up to
        a chunk (``SMTP_CHUNK``) unconfirmed where the one-by-one path leaves one message."""
        smtp = self.backend.connection
        head = f"RSET\r\nMAIL FROM:<{sender}>\r\n"
        lost = _("Connection lost while handing over the message (%(error)s); the server may have accepted it, "
                 "so it is not resent.")
        try:
            smtp.send(b"".join([f"{head}RCPT TO:<{to}>\r\nBDAT {len(data)} LAST\r\n".encode("ascii") + data
                                for _id, to, data in chunk]))
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return [Outcome(recipient_id, UNCONFIRMED, lost % {"error": error}) for recipient_id, _to, _data in chunk]
        outcomes: list[Outcome] = []
        for recipient_id, _to, _data in chunk:
            refusal = None
            try:
                for wanted in ((250,), (250,), (250, 251), (250,)):
                    code, text = smtp.getreply()
                    if refusal is None and code not in wanted:
                        refusal = (code, text)
            except (smtplib.SMTPException, OSError) as error:
                self.close()
                if refusal is not None:  # refused before the line broke: it did not go
                    outcomes.append(_smtp_outcome(refusal[0], _text(refusal[1]), recipient_id))
                else:
                    outcomes.append(Outcome(recipient_id, UNCONFIRMED, lost % {"error": error}))
                outcomes.extend(Outcome(later_id, UNCONFIRMED, lost % {"error": error})
                                for later_id, _to, _data in chunk[len(outcomes):])
                return outcomes
            outcomes.append(Outcome(recipient_id, SENT) if refusal is None
                            else _smtp_outcome(refusal[0], _text(refusal[1]), recipient_id))
        return outcomes


def _envelope(sender: str, to: str) -> bytes:
    return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode("ascii")


_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets another (rare: base64 never does)."""
    if data[:1] == b"." or b"\n." in data:
        return _DOT_AT_LINE_START.sub(b"..", data)
    return data


class Throttle:
    """At most ``rate`` messages a second (0: no limit), smoothed, for the whole run."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


class SmtpPool:
    """``size`` connections in worker threads; the caller composes, the workers deliver.

    The main thread keeps the database and the rendering; worker threads only talk SMTP,
    which waits on the network and so runs alongside the rendering of the next message.
    """

    def __init__(self, size: int, sender_address: str):
        self.sender_address = sender_address
        self.jobs: queue.Queue = queue.Queue(maxsize=size * 4)
        self.results: list[Outcome] = []
        self.outstanding = 0
        self.changed = threading.Condition()
        self.workers = [threading.Thread(target=self._work, daemon=True, name=f"smtp-{index}")
                        for index in range(size)]
        for worker in self.workers:
            worker.start()

    def _work(self) -> None:
        line = SmtpLine()
        try:
            while True:
                chunk = self.jobs.get()
                if chunk is None:
                    return
                try:
                    outcomes = line.deliver_chunk(self.sender_address, chunk)
                except Exception as error:  # a bug must not leave drain() waiting for ever
                    logger.exception("handing over %d messages failed", len(chunk))
                    line.close()
                    outcomes = [Outcome(recipient_id, UNCONFIRMED, _(
                        "Connection lost while handing over the message (%(error)s); the server may have accepted "
                        "it, so it is not resent.") % {"error": error}) for recipient_id, _to, _data in chunk]
                with self.changed:
                    self.results.extend(outcomes)
                    self.outstanding -= len(chunk)
                    self.changed.notify_all()
        finally:
            line.close()

    def submit(self, chunk: list[tuple[int, str, bytes]], heartbeat: Callable[[], None] | None = None) -> None:
        """Hand over messages (recipient ID, address, bytes); a chunk goes to one connection
        in order, so handing many at once costs the threads one hand-over, not one each."""
        if not chunk:
            return
        with self.changed:
            self.outstanding += len(chunk)
        while True:
            try:
                self.jobs.put(chunk, timeout=1.0)
                return
            except queue.Full:
                if heartbeat is not None:
                    heartbeat()

    def drain(self, heartbeat: Callable[[], None] | None = None) -> list[Outcome]:
        """Wait until every submitted message has an outcome; return and forget them."""
        with self.changed:
            while self.outstanding:
                self.changed.wait(timeout=1.0)
                if self.outstanding and heartbeat is not None:
                    self.changed.release()
                    try:
                        heartbeat()
                    finally:
                        self.changed.acquire()
            results, self.results = self.results, []
        return results

    def close(self) -> None:
        for _worker in self.workers:
            self.jobs.put(None)
        for worker in self.workers:
            worker.join(timeout=30)


# ======================================================================================
# The run
# ======================================================================================
FaultHook = Callable[[str, list[int]], None]


def campaign_send(campaign_id: int, *, progress=None, fault: FaultHook | None = None,
                  batch_size: int | None = None, rate: float | None = None,
                  connections: int | None = None) -> SendReport:
    """Send what is due of a campaign (email or SMS). Safe to run again at any time: it
    resumes where the last run stopped, never sending a message twice.

    ``fault`` lets tests stop the run at the worst moments: it is called with
    ("claimed", ids) after a batch is committed handed_off and with ("accepted", ids) after
    the server accepted the batch but before the outcome is stored.
    """
    started = time.monotonic()
    report = SendReport(campaign_id=campaign_id)
    token = uuid.uuid4().hex
    if not _acquire_lease(campaign_id, token):
        report.busy = True
        return report
    try:
        campaign = Campaign.objects.select_related("template", "event", "segment").get(pk=campaign_id)
        report.recovered_unconfirmed = _recover_interrupted(campaign)
        if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
            return report
        if campaign.status == CampaignStatus.SCHEDULED:
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
        batch_size = batch_size or conf.batch_size()
        throttle = Throttle(conf.send_rate() if rate is None else rate)
        deliverer = _deliverer(campaign, connections)
        done = CampaignRecipient.objects.filter(campaign=campaign).exclude(state__in=CLAIMABLE + (
            RecipientState.HELD,)).count()
        if progress is not None:
            progress.set_total(campaign.audience_count or done, message=_("Sending…"))
            progress.update(done)
        heartbeat = _Heartbeat(campaign.pk, token)
        if throttle.interval:  # a throttled batch must finish well inside the lease
            batch_size = max(1, min(batch_size, int(conf.lease_seconds() / 4 / throttle.interval)))
        # The objects alive before the send (Django, the URL configuration, every API schema:
        # a few hundred thousand) are frozen out of the garbage collector while it runs: each
        # full collection would walk them all (~0.2 s) for cycles a send does not make. The
        # send's own objects are collected as usual; all are handed back at the end.
        gc.freeze()
        try:
            while True:
                if Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.CANCELLED).exists():
                    break
                try:
                    rows, skipped = _claim(campaign, batch_size, token)
                except LeaseLost:
                    report.busy = True
                    break
                report.skipped += skipped
                done += skipped
                if not rows:
                    break
                if fault is not None:
                    fault("claimed", [row["id"] for row in rows])
                outcomes = deliverer.deliver(rows, throttle, heartbeat)
                if fault is not None:
                    fault("accepted", [outcome.recipient_id for outcome in outcomes if outcome.result == SENT])
                _record(campaign, outcomes)
                for outcome in outcomes:
                    setattr(report, outcome.result, getattr(report, outcome.result) + 1)
                done += len(rows)
                if progress is not None:
                    progress.update(done, message=_("%(sent)d sent, %(failed)d failed, %(retry)d to retry")
                                    % {"sent": report.sent, "failed": report.failed, "retry": report.retry})
        finally:
            gc.unfreeze()
            deliverer.close()
        _finish(campaign, report)
    finally:
        _release_lease(campaign_id, token)
        report.seconds = round(time.monotonic() - started, 3)
    return report


class _Heartbeat:
    """Renews the lease now and then while a batch is out (called from the main thread)."""

    def __init__(self, campaign_id: int, token: str):
        self.campaign_id, self.token = campaign_id, token
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last > conf.lease_seconds() / 4:
            _renew_lease(self.campaign_id, self.token)
            self.last = time.monotonic()


def _finish(campaign: Campaign, report: SendReport) -> None:
    """Schedule the next retry round, or complete the campaign when nothing is left."""
    remaining = CampaignRecipient.objects.filter(campaign=campaign, state__in=CLAIMABLE + (RecipientState.HELD,))
    next_retry = (remaining.filter(state=RecipientState.RETRY).order_by("next_attempt_at")
                  .values_list("next_attempt_at", flat=True).first())
    if next_retry is not None:
        report.next_attempt_at = next_retry.isoformat()
        enqueue_send(campaign, run_at=next_retry)
        return
    if not remaining.exists() and campaign.channel != CampaignChannel.EVENT:
        report.finished = True
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.COMPLETED, completed_at=timezone.now())
    elif not remaining.exists():
        report.finished = True


class _EmailDeliverer:
    def __init__(self, campaign: Campaign, connections: int | None):
        self.composer = EmailComposer(campaign)
        self.pool = SmtpPool(connections or conf.smtp_connections(), conf.from_email())

    def deliver(self, rows: list[dict], throttle: Throttle, heartbeat=None) -> list[Outcome]:
        contexts = self.composer.contexts(rows)
        outcomes: list[Outcome] = []
        # Throttled sends hand messages over one by one so the rate stays smooth.
        chunk_size = 1 if throttle.interval else SMTP_CHUNK
        chunk: list[tuple[int, str, bytes]] = []
        for row in rows:
            context = contexts.get(row["contact_id"])
            if context is None:  # the contact was deleted after the launch
                outcomes.append(Outcome(row["id"], FAILED, _("The contact no longer exists.")))
                continue
            try:
                data = self.composer.compose(row, context)
            except Exception as error:  # a checked template does not fail; anything else is this row's failure
                logger.exception("composing recipient %s failed", row["id"])
                outcomes.append(Outcome(row["id"], FAILED, _("Could not compose the message: %(error)s")
                                        % {"error": error}))
                continue
            throttle.wait()
            chunk.append((row["id"], row["address"], data))
            if len(chunk) >= chunk_size:
                self.pool.submit(chunk, heartbeat)
                chunk = []
                if heartbeat is not None:
                    heartbeat()
        self.pool.submit(chunk, heartbeat)
        return outcomes + self.pool.drain(heartbeat)

    def close(self) -> None:
        self.pool.close()


class _SmsDeliverer:
    def __init__(self, campaign: Campaign):
        from guanxi.marketing.sms_gateways import gateway

        self.campaign = campaign
        self.gateway = gateway()
        self.renderer = mail_merge.MessageRenderer(campaign.template)
        self.extra = campaign_merge_fields(campaign)

    def deliver(self, rows: list[dict], throttle: Throttle, heartbeat=None) -> list[Outcome]:
        from guanxi.marketing.sms_gateways import SmsAmbiguous, SmsPermanentError, SmsTemporaryError

        contexts = mail_merge.contexts_for([row["contact_id"] for row in rows], self.extra)
        outcomes = []
        for row in rows:
            context = contexts.get(row["contact_id"])
            if context is None:
                outcomes.append(Outcome(row["id"], FAILED, _("The contact no longer exists.")))
                continue
            text = self.renderer.render(context, context.get("_language")).text.strip()
            throttle.wait()
            if heartbeat is not None:
                heartbeat()
            try:
                self.gateway.send(to=row["address"], body=text, reference=str(row["id"]))
            except SmsTemporaryError as error:
                outcomes.append(Outcome(row["id"], RETRY, str(error)))
            except SmsPermanentError as error:
                outcomes.append(Outcome(row["id"], FAILED, str(error)))
            except SmsAmbiguous as error:
                outcomes.append(Outcome(row["id"], UNCONFIRMED, str(error)))
            else:
                outcomes.append(Outcome(row["id"], SENT))
        return outcomes

    def close(self) -> None:
        return None


def _deliverer(campaign: Campaign, connections: int | None):
    if campaign.channel == CampaignChannel.SMS:
        return _SmsDeliverer(campaign)
    from guanxi.outbox.backend import outbox_in_use

    if outbox_in_use():  # no mail server configured: campaign mail is kept in the outbox
        from guanxi.marketing.outbox_delivery import OutboxEmailDeliverer

        return OutboxEmailDeliverer(campaign, connections)
    return _EmailDeliverer(campaign, connections)
