"""Bulk email through a real SMTP server (aiosmtpd on loopback): one personalized message
per reachable person, consent checked again at sending time, throttling, SMTP failures
retried with backoff and reported per recipient, and crash-and-resume — in-process at the
worst moments and with a real ``kill -9`` of the sending process — with no duplicates and
no unreported gaps (the at-most-once rule of ``guanxi.marketing.sending``)."""

import collections
import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.jobs.models import Job, JobState
from guanxi.marketing import sending, services, tracking
from guanxi.marketing.models import (
    Campaign, CampaignRecipient, CampaignStatus, EmailSuppression, RecipientState,
)

pytestmark = pytest.mark.django_db
PEOPLE = 25
BODY = ('<p>{{ contact.full_name }}，您好！</p><p><a href="https://example.com/5g?src=mail&amp;x=1">5G 优惠</a></p>'
        '<p><a href="{{ unsubscribe_url }}">退订</a></p>')


class Crash(Exception):
    """Stands for the process dying at the worst moment."""


@pytest.fixture
def launched(admin_user, settings):
    """A launched email campaign to PEOPLE consenting contacts, scheduled for later so that
    each test runs the sending itself."""
    settings.GUANXI_MARKETING_SEND_RATE = 0
    for index in range(PEOPLE):
        core_services.contact_create(actor=admin_user, data={
            "full_name": f"客户{index:02d}", "email": f"c{index:02d}@example.cn", "consent_email": True})
    segment = services.segment_create(actor=admin_user, data={
        "name": "All", "rules": {"type": "group", "match": "all", "rules": []}})
    template = services.message_template_create(actor=admin_user, data={
        "name": "Offer", "channel": "email", "subject_zh": "{{ contact.full_name }}：5G 优惠", "body_zh": BODY})
    campaign = services.campaign_create(actor=admin_user, data={
        "name": "Bulk", "channel": "email", "segment_id": segment.pk, "template_id": template.pk,
        "scheduled_at": timezone.now() + datetime.timedelta(days=1)})
    campaign = services.campaign_launch(actor=admin_user, campaign_id=campaign.pk)
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.audience_count == PEOPLE
    return campaign


def received_addresses(sink) -> list[str]:
    return sorted(address for item in sink.received for address in item.recipients)


def states() -> dict[str, int]:
    return dict(collections.Counter(CampaignRecipient.objects.values_list("state", flat=True)))


# ======================================================================================
# The normal run
# ======================================================================================
def test_every_reachable_person_gets_exactly_one_personalized_message(launched, smtp_sink):
    job = sending.enqueue_send(launched)  # runs inline in tests, as the worker would
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    assert (job.progress, job.total, job.result["sent"]) == (PEOPLE, PEOPLE, PEOPLE)
    assert received_addresses(smtp_sink) == [f"c{index:02d}@example.cn" for index in range(PEOPLE)]
    recipient = CampaignRecipient.objects.get(address="c07@example.cn")
    message = next(item.message for item in smtp_sink.received if item.recipients == ["c07@example.cn"])
    assert message["Subject"] == "客户07：5G 优惠"
    assert message["Message-ID"] == f"<gx.{recipient.pk}.{launched.pk}@guanxi>" == recipient.message_id
    unsubscribe = tracking.unsubscribe_url(recipient.contact_id, launched.pk)
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # RFC 8058 one-click (may be folded)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    assert tracking.click_url(recipient.pk, "https://example.com/5g?src=mail&x=1") in html
    assert f'href="{unsubscribe}"' in html  # the unsubscribe link is not sent through the click redirect
    assert tracking.open_pixel_url(recipient.pk) in html
    assert "客户07，您好！" in message.get_body(("plain",)).get_content()
    assert states() == {"sent": PEOPLE}
    assert not CampaignRecipient.objects.filter(sent_at__isnull=True).exists()
    launched.refresh_from_db()
    assert launched.status == CampaignStatus.COMPLETED and launched.send_lease == ""


def test_consent_is_checked_again_when_sending(launched, smtp_sink, admin_user):
    """Between launch and sending people unsubscribe, are erased, become do-not-contact or
    bounce: none of them is mailed, ever."""
    contacts = {recipient.address: recipient.contact for recipient in
                CampaignRecipient.objects.select_related("contact")}
    core_services.contact_update(actor=admin_user, contact_id=contacts["c01@example.cn"].pk,
                                 data={"consent_email": False})
    core_services.contact_update(actor=admin_user, contact_id=contacts["c02@example.cn"].pk,
                                 data={"do_not_contact": True})
    erased = contacts["c03@example.cn"]
    erased.is_erased = True
    erased.save(update_fields=["is_erased"])
    EmailSuppression.objects.create(email="c04@example.cn", reason="hard_bounce")
    report = sending.campaign_send(launched.pk, batch_size=7)
    excluded = {"c01@example.cn", "c02@example.cn", "c03@example.cn", "c04@example.cn"}
    assert not excluded & set(received_addresses(smtp_sink))
    assert len(received_addresses(smtp_sink)) == PEOPLE - 4
    assert (report.sent, report.skipped) == (PEOPLE - 4, 4)
    skipped = CampaignRecipient.objects.filter(state=RecipientState.SKIPPED)
    assert set(skipped.values_list("address", flat=True)) == excluded
    assert all("No longer reachable" in row.last_error for row in skipped)


def test_sending_is_throttled(launched, smtp_sink):
    CampaignRecipient.objects.filter(id__gt=CampaignRecipient.objects.order_by("id")[11].pk).update(
        state=RecipientState.SKIPPED)
    started = time.monotonic()
    report = sending.campaign_send(launched.pk, rate=40)
    elapsed = time.monotonic() - started
    assert report.sent == 12
    assert elapsed >= 11 / 40 * 0.95  # 12 messages at 40 a second: at least 11 intervals of 25 ms


# ======================================================================================
# SMTP failures: retried with backoff, reported per recipient
# ======================================================================================
def test_temporary_failures_are_retried_with_backoff_and_permanent_ones_reported(launched, smtp_sink, api_client,
                                                                                settings):
    settings.GUANXI_MARKETING_RETRY_DELAYS = "60,300"
    smtp_sink.refuse("c05@example.cn", "451 4.2.0 Mailbox busy, try later")
    smtp_sink.refuse("c06@example.cn", "550 5.1.1 No such user here")
    before = timezone.now()
    report = sending.campaign_send(launched.pk, batch_size=10)
    assert (report.sent, report.retry, report.failed) == (PEOPLE - 2, 1, 1)
    busy = CampaignRecipient.objects.get(address="c05@example.cn")
    assert (busy.state, busy.attempts, busy.last_error) == ("retry", 1, "451 4.2.0 Mailbox busy, try later")
    assert before + datetime.timedelta(seconds=59) < busy.next_attempt_at < timezone.now() + \
        datetime.timedelta(seconds=61)
    gone = CampaignRecipient.objects.get(address="c06@example.cn")
    assert (gone.state, gone.last_error) == ("failed", "550 5.1.1 No such user here")
    # the next round is queued for when the retry is due
    assert Job.objects.filter(kind=sending.SEND_JOB, state=JobState.QUEUED, run_at=busy.next_attempt_at).exists()
    # and the failures are reported per recipient
    failed = api_client.get(f"/api/v1/marketing/campaigns/{launched.pk}/recipients", {"state": "failed"}).json()
    assert [(item["address"], item["last_error"]) for item in failed["items"]] == [
        ("c06@example.cn", "550 5.1.1 No such user here")]
    # when the time comes the retry goes through, once
    CampaignRecipient.objects.filter(pk=busy.pk).update(next_attempt_at=timezone.now())
    report = sending.campaign_send(launched.pk)
    assert report.sent == 1
    assert collections.Counter(received_addresses(smtp_sink))["c05@example.cn"] == 1
    assert "c06@example.cn" not in received_addresses(smtp_sink)
    launched.refresh_from_db()
    assert launched.status == CampaignStatus.COMPLETED


def test_retries_give_up_after_the_configured_attempts(launched, smtp_sink, settings):
    settings.GUANXI_MARKETING_RETRY_DELAYS = "0,0"
    smtp_sink.refuse("c00@example.cn", "421 4.7.0 Too many connections", times=5)
    for _round in range(3):
        CampaignRecipient.objects.filter(state="retry").update(next_attempt_at=timezone.now())
        sending.campaign_send(launched.pk)
    stuck = CampaignRecipient.objects.get(address="c00@example.cn")
    assert (stuck.state, stuck.attempts) == ("failed", 3)
    assert stuck.last_error == "Gave up after 3 attempts: 421 4.7.0 Too many connections"


def test_a_server_that_is_down_sends_nothing_and_loses_nothing(launched, smtp_sink, settings):
    from guanxi.marketing.tests.smtp_sink import free_port

    settings.EMAIL_PORT = free_port()  # nobody listens there
    report = sending.campaign_send(launched.pk)
    assert (report.sent, report.retry) == (0, PEOPLE)
    assert all(error.startswith("Not handed over") for error in
               CampaignRecipient.objects.values_list("last_error", flat=True))
    settings.EMAIL_PORT = smtp_sink.port
    CampaignRecipient.objects.update(next_attempt_at=timezone.now())
    report = sending.campaign_send(launched.pk)
    assert report.sent == PEOPLE and len(received_addresses(smtp_sink)) == PEOPLE


# ======================================================================================
# Crash and resume
# ======================================================================================
def crash_on(stage: str, batch_number: int):
    seen = collections.Counter()

    def fault(current: str, ids: list[int]) -> None:
        seen[current] += 1
        if current == stage and seen[current] == batch_number:
            raise Crash(ids)

    return fault


def test_crash_after_the_server_accepted_a_batch_resends_nothing(launched, smtp_sink, api_client):
    """The worst moment: the server took batch 2 but the run died before writing it down."""
    with pytest.raises(Crash) as crashed:
        sending.campaign_send(launched.pk, batch_size=5, fault=crash_on("accepted", 2))
    lost_ids = crashed.value.args[0]
    assert len(lost_ids) == 5
    assert CampaignRecipient.objects.filter(state=RecipientState.HANDED_OFF).count() == 5
    # the resumed run (the lease of the dead one was released by its finally; a killed process's
    # lease expires, see the kill -9 test) turns them into "unconfirmed" and never resends them
    report = sending.campaign_send(launched.pk, batch_size=5)
    assert report.recovered_unconfirmed == 5
    counts = collections.Counter(received_addresses(smtp_sink))
    assert set(counts.values()) == {1}, "someone got a message twice"
    assert len(counts) == PEOPLE, "someone got nothing"
    assert states() == {"sent": PEOPLE - 5, "unconfirmed": 5}
    unconfirmed = api_client.get(f"/api/v1/marketing/campaigns/{launched.pk}/recipients",
                                 {"state": "unconfirmed"}).json()["items"]
    assert sorted(item["id"] for item in unconfirmed) == sorted(lost_ids)
    assert all("not resent (at most once)" in item["last_error"] for item in unconfirmed)


def test_crash_before_the_hand_off_leaves_a_reported_gap_never_a_duplicate(launched, smtp_sink):
    """Batch 2 was claimed (written handed_off) but the run died before talking to SMTP: by
    the at-most-once rule those five are not sent again — they are the reported gap."""
    with pytest.raises(Crash) as crashed:
        sending.campaign_send(launched.pk, batch_size=5, fault=crash_on("claimed", 2))
    lost = set(CampaignRecipient.objects.filter(pk__in=crashed.value.args[0]).values_list("address", flat=True))
    sending.campaign_send(launched.pk, batch_size=5)
    counts = collections.Counter(received_addresses(smtp_sink))
    assert set(counts.values()) == {1}
    assert set(counts) == {f"c{index:02d}@example.cn" for index in range(PEOPLE)} - lost
    assert set(CampaignRecipient.objects.filter(state="unconfirmed").values_list("address", flat=True)) == lost


def test_one_run_at_a_time(launched, smtp_sink):
    assert sending._acquire_lease(launched.pk, "another-live-run")
    report = sending.campaign_send(launched.pk)
    assert report.busy and smtp_sink.count == 0 and states() == {"pending": PEOPLE}


def test_cancelling_stops_the_send_between_batches(launched, smtp_sink, admin_user):
    def cancel_after_first(stage, ids):
        if stage == "accepted":
            Campaign.objects.filter(pk=launched.pk).update(status=CampaignStatus.CANCELLED)

    report = sending.campaign_send(launched.pk, batch_size=5, fault=cancel_after_first)
    assert report.sent == 5 and smtp_sink.count == 5


def test_kill_minus_nine_mid_send_then_resume(smtp_sink):
    """The real thing: the sending process is killed with SIGKILL in the middle of a
    throttled send, on a database file; a second process resumes after the dead run's lease
    expires. Every address gets at most one message, and every recipient is either sent or
    reported unconfirmed (at most one batch)."""
    project = Path(__file__).resolve().parents[3]
    data_dir = tempfile.mkdtemp(prefix="guanxi-kill-")
    database = Path(data_dir) / "kill.sqlite3"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_DATA_DIR=data_dir, GUANXI_SQLITE_PATH=str(database),
               GUANXI_EMAIL_HOST="127.0.0.1", GUANXI_EMAIL_PORT=str(smtp_sink.port),
               GUANXI_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
               GUANXI_MARKETING_LEASE_SECONDS="2", GUANXI_JOBS_IMMEDIATE="0", GUANXI_LOG_LEVEL="ERROR")
    env.pop("DATABASE_URL", None)

    def guanxi(*args, **kwargs):
        return subprocess.run([sys.executable, "-m", "guanxi.cli", *args], env=env, cwd=project, check=True,
                              capture_output=True, text=True, timeout=600, **kwargs)

    guanxi("migrate", "--noinput", "-v", "0")
    seed = (
        "from django.utils import timezone; import datetime\n"
        "from guanxi.core.services import user_create, contact_create\n"
        "from guanxi.marketing import services\n"
        "admin = user_create(actor=None, username='kill', password='kill-test-2026', role='admin', is_superuser=True)\n"
        "for index in range(60):\n"
        "    contact_create(actor=admin, data={'full_name': f'P{index:02d}', 'email': f'p{index:02d}@example.cn',"
        " 'consent_email': True})\n"
        "segment = services.segment_create(actor=admin, data={'name': 'All', 'rules': {}})\n"
        "template = services.message_template_create(actor=admin, data={'name': 'T', 'channel': 'email',"
        " 'subject_en': 'Hi {{ contact.full_name }}', 'body_en': '<p>Hi</p>'})\n"
        "campaign = services.campaign_create(actor=admin, data={'name': 'Kill', 'segment_id': segment.pk,"
        " 'template_id': template.pk, 'scheduled_at': timezone.now() + datetime.timedelta(days=1)})\n"
        "print(services.campaign_launch(actor=admin, campaign_id=campaign.pk).pk)\n")
    campaign_id = guanxi("shell", "-c", seed).stdout.strip().splitlines()[-1]
    sender = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "marketing-send", campaign_id, "--rate", "25",
                               "--batch", "4"], env=env, cwd=project, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    smtp_sink.wait_for(15, timeout=120)
    os.kill(sender.pid, signal.SIGKILL)
    sender.wait(timeout=30)
    received_at_kill = smtp_sink.count
    assert 15 <= received_at_kill < 60, "the kill should land in the middle of the send"
    time.sleep(2.5)  # the dead run's lease expires
    resumed = guanxi("marketing-send", campaign_id, "--rate", "0")
    assert '"recovered_unconfirmed"' in resumed.stdout
    counts = collections.Counter(received_addresses(smtp_sink))
    assert set(counts.values()) == {1}, f"duplicates: {[a for a, n in counts.items() if n > 1]}"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT address, state FROM marketing_campaignrecipient WHERE campaign_id = ?",
                          (int(campaign_id),)).fetchall()
    by_state = collections.defaultdict(set)
    for address, state in rows:
        by_state[state].add(address)
    assert set(by_state) <= {"sent", "unconfirmed"}
    assert len(rows) == 60
    assert by_state["sent"] <= set(counts), "a row marked sent that the server never got"
    assert set(counts) | by_state["unconfirmed"] == {f"p{index:02d}@example.cn" for index in range(60)}, \
        "a gap that is not reported"
    assert len(by_state["unconfirmed"]) <= 4, "more than the batch in flight was left unconfirmed"


def test_a_server_without_pipelining_gets_the_commands_one_by_one(launched, settings):
    from guanxi.marketing.tests.smtp_sink import SmtpSink

    with SmtpSink(pipelining=False) as plain_server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", plain_server.port
        plain_server.refuse("c03@example.cn", "550 5.1.1 No such user here")
        report = sending.campaign_send(launched.pk)
        assert (report.sent, report.failed) == (PEOPLE - 1, 1)
        assert len(received_addresses(plain_server)) == PEOPLE - 1
        assert CampaignRecipient.objects.get(address="c03@example.cn").last_error == "550 5.1.1 No such user here"


def test_messages_parse_as_standard_mime(launched, smtp_sink):
    """The bytes written by ``email_bytes`` read back with the standard library's parser."""
    sending.campaign_send(launched.pk)
    for item in smtp_sink.received[:5]:
        message = item.message
        assert message.get_content_type() == "multipart/alternative"
        assert message["To"] == item.recipients[0]
        assert message["Subject"].endswith("：5G 优惠") and message["From"].endswith("<guanxi@example.com>")
        plain, html = message.get_body(("plain",)), message.get_body(("html",))
        assert plain.get_content_charset() == "utf-8" and "您好" in plain.get_content()
        assert "5G 优惠" in html.get_content()
    long_subject = "很长的主题" * 30
    from guanxi.marketing import email_bytes

    raw = email_bytes.build_message(sender="a@b.cn", to="c@d.cn", subject=long_subject, text="x", html="<p>x</p>",
                                    message_id="<m@x>")
    import email
    import email.policy

    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == long_subject
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    # encoded words are cut only between characters (1 to 4 bytes of UTF-8), whatever the length
    for subject in ("a" * 90 + "é", "é" * 45, "主" * 27, "😀" * 21 + "x", "ab主" * 14, "x"):
        raw = email_bytes.build_message(sender="a@b.cn", to="c@d.cn", subject=subject, text="", html="",
                                        message_id="<m@x>")
        assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == subject


def test_a_sent_message_parses_as_django_would_have_written_it(launched, smtp_sink):
    """The message bytes written directly (``email_bytes``) read back with the standard
    library exactly as the same message written by Django's EmailMultiAlternatives does:
    headers (List-Unsubscribe included), multipart structure, charsets and both parts."""
    import email
    import email.policy

    from django.core.mail import EmailMultiAlternatives

    sending.campaign_send(launched.pk)
    item = next(item for item in smtp_sink.received if item.recipients == ["c03@example.cn"])
    ours = email.message_from_bytes(item.data, policy=email.policy.default)
    text, html = ours.get_body(("plain",)).get_content(), ours.get_body(("html",)).get_content()
    headers = ("List-Unsubscribe", "List-Unsubscribe-Post", "X-Guanxi-Campaign")
    django_message = EmailMultiAlternatives(ours["Subject"], text, ours["From"], [ours["To"]],
                                            headers={"Message-ID": ours["Message-ID"], "Date": ours["Date"],
                                                     **{name: ours[name] for name in headers}})
    django_message.attach_alternative(html, "text/html")
    theirs = email.message_from_bytes(django_message.message().as_bytes(), policy=email.policy.default)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", *headers):
        assert str(ours[name]).strip() == str(theirs[name]).strip(), name  # Django folds long ones
    assert [part.get_content_type() for part in ours.walk()] == [part.get_content_type() for part in theirs.walk()] \
        == ["multipart/alternative", "text/plain", "text/html"]
    assert [part.get_content_charset() for part in ours.walk()] == [None, "utf-8", "utf-8"]
    assert [part.get_content_charset() for part in theirs.walk()] == [None, "utf-8", "utf-8"]
    assert [part.get_content() for part in ours.iter_parts()] == [part.get_content() for part in theirs.iter_parts()]
    recipient = CampaignRecipient.objects.get(address="c03@example.cn")
    unsubscribe = tracking.unsubscribe_url(recipient.contact_id, launched.pk)
    assert ours["List-Unsubscribe"] == f"<{unsubscribe}>" and ours["List-Unsubscribe-Post"] == \
        "List-Unsubscribe=One-Click"
    assert "客户03，您好" in text and f'href="{unsubscribe}"' in html and tracking.open_pixel_url(recipient.pk) in html
    assert "/t/c/" in html and "https://example.com/5g" not in html  # the offer's link goes through the tracker


# ======================================================================================
# The lean SMTP server of the benchmark, and a connection lost in the middle
# ======================================================================================
@pytest.fixture
def lean_sink(settings):
    from guanxi.marketing.tests.smtp_sink import LeanSmtpSink

    with LeanSmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", sink.port, False
        settings.EMAIL_TIMEOUT = 5
        yield sink


def test_the_benchmark_server_speaks_smtp_to_the_standard_client(lean_sink):
    """The lean server stands in for a real MTA in the benchmark: smtplib, one command at a
    time and pipelined, gets the answers RFC 5321 prescribes, and what arrives is what was
    sent, dot-stuffing undone."""
    import smtplib

    lean_sink.refuse("nobody@example.cn", "550 5.1.1 No such user here")
    with smtplib.SMTP("127.0.0.1", lean_sink.port, timeout=5) as client:
        assert client.docmd("MAIL", "FROM:<a@example.cn>")[0] == 503  # before EHLO
        code, features = client.ehlo("client.example.cn")
        assert code == 250 and client.has_extn("pipelining") and client.has_extn("size")
        assert client.rcpt("x@example.cn")[0] == 503  # RCPT before MAIL
        assert client.docmd("DATA")[0] == 503          # DATA before RCPT
        assert client.docmd("FROB")[0] == 500
        refused = client.sendmail("a@example.cn", ["nobody@example.cn", "b@example.cn"],
                                  b"Subject: x\r\n\r\n.leading dot\r\nend\r\n")
        assert refused == {"nobody@example.cn": (550, b"5.1.1 No such user here")}
        # MAIL, RCPT and DATA in one write (RFC 2920), then the message and the next MAIL at once
        client.send(b"MAIL FROM:<a@example.cn>\r\nRCPT TO:<c@example.cn>\r\nDATA\r\n")
        assert [client.getreply()[0] for _ in range(3)] == [250, 250, 354]
        client.send(b"Subject: y\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@example.cn>\r\nRCPT TO:<d@example.cn>\r\nDATA\r\n")
        assert [client.getreply()[0] for _ in range(4)] == [250, 250, 250, 354]
        client.send(b".\r\n")
        assert client.getreply()[0] == 250
        assert client.noop()[0] == 250
    received = lean_sink.received
    assert [item.recipients for item in received] == [["b@example.cn"], ["c@example.cn"], ["d@example.cn"]]
    assert received[0].data.endswith(b"\r\n.leading dot\r\nend\r\n") and received[0].mail_from == "a@example.cn"
    assert received[1].message["Subject"] == "y" and received[2].data == b""


def test_a_whole_campaign_through_the_benchmark_server(launched, lean_sink):
    lean_sink.refuse("c05@example.cn", "451 4.2.0 Mailbox busy, try later")
    report = sending.campaign_send(launched.pk, batch_size=10)
    assert (report.sent, report.retry) == (PEOPLE - 1, 1)
    assert sorted(lean_sink.recipients()) == [f"c{index:02d}@example.cn" for index in range(PEOPLE) if index != 5]
    message = lean_sink.received[0].message
    assert message.get_content_type() == "multipart/alternative" and message["List-Unsubscribe"]
    assert states() == {"sent": PEOPLE - 1, "retry": 1}


def test_a_connection_lost_after_a_message_leaves_that_one_unconfirmed_and_the_next_is_sent(launched, settings):
    """Without CHUNKING (one message at a time, DATA): the server drops the line after
    taking c07's message but before answering. c07 may or may not have been delivered
    (unconfirmed, never resent); c08, whose commands were already on their way behind
    c07's message, had no 354 and so went nowhere: it is sent on a fresh connection."""
    from guanxi.marketing.tests.smtp_sink import LeanSmtpSink

    with LeanSmtpSink(chunking=False) as lean_sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", lean_sink.port, False
        lean_sink.hang_up_after("c07@example.cn")
        report = sending.campaign_send(launched.pk, connections=1)
    assert (report.sent, report.unconfirmed) == (PEOPLE - 1, 1)
    lost = CampaignRecipient.objects.get(address="c07@example.cn")
    assert lost.state == RecipientState.UNCONFIRMED and "Connection lost" in lost.last_error
    assert CampaignRecipient.objects.get(address="c08@example.cn").state == RecipientState.SENT
    assert sorted(lean_sink.recipients()) == [f"c{index:02d}@example.cn" for index in range(PEOPLE) if index != 7]


def test_messages_stream_back_to_back_when_the_server_offers_chunking(launched, lean_sink):
    """With CHUNKING and PIPELINING a chunk of messages goes out in one write (BDAT), each
    judged by its own answers: refusals are retried or failed as with DATA."""
    lean_sink.refuse("c05@example.cn", "451 4.2.0 Mailbox busy, try later")
    lean_sink.refuse("c06@example.cn", "550 5.1.1 No such user here")
    report = sending.campaign_send(launched.pk, connections=1)
    assert (report.sent, report.retry, report.failed) == (PEOPLE - 2, 1, 1)
    assert CampaignRecipient.objects.get(address="c06@example.cn").last_error == "550 5.1.1 No such user here"
    assert sorted(lean_sink.recipients()) == [f"c{index:02d}@example.cn" for index in range(PEOPLE)
                                              if index not in (5, 6)]
    for item in lean_sink.received[:3]:
        assert item.message.get_body(("html",)).get_content().count("/t/o/") == 1  # whole, with its open pixel


def test_a_connection_lost_while_streaming_leaves_what_was_in_flight_unconfirmed(launched, lean_sink):
    """The server drops the line after taking c07's message, with the rest of the chunk
    already sent behind it: any of those may have been delivered, so all of them are
    unconfirmed and none is ever resent; the messages before were answered and are sent."""
    lean_sink.hang_up_after("c07@example.cn")
    report = sending.campaign_send(launched.pk, connections=1)
    assert (report.sent, report.unconfirmed) == (7, PEOPLE - 7)
    assert sorted(lean_sink.recipients()) == [f"c{index:02d}@example.cn" for index in range(7)]
    unconfirmed = CampaignRecipient.objects.filter(state=RecipientState.UNCONFIRMED)
    assert all("not resent" in row.last_error for row in unconfirmed)
    assert sending.campaign_send(launched.pk).sent == 0 and lean_sink.count == 7


def test_an_unexpected_error_while_handing_over_ends_the_run_with_the_chunk_unconfirmed(launched, lean_sink,
                                                                                     monkeypatch):
    """A bug in a connection thread must not leave the run waiting for outcomes for ever:
    the chunk it held is unconfirmed (it may have gone out), never resent."""
    def broken(self, sender, chunk):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sending.SmtpLine, "_stream", broken)
    report = sending.campaign_send(launched.pk, connections=1)
    assert (report.sent, report.unconfirmed) == (0, PEOPLE)
    assert states() == {"unconfirmed": PEOPLE}


def test_a_batch_costs_the_same_few_queries_whatever_its_size(launched, lean_sink):
    """The send's hot path has a query budget: reading, claiming, composing and recording a
    batch takes a fixed number of queries, none per message, so 100,000 messages cost a
    hundred batches' worth (GUANXI_MARKETING_BATCH=1000), not 100,000 round trips."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    marks = []
    with CaptureQueriesContext(connection) as captured:
        sending.campaign_send(launched.pk, batch_size=10, connections=1,
                              fault=lambda stage, ids: marks.append((stage, len(ids), len(captured))))
    assert [(stage, size) for stage, size, _count in marks] == [
        ("claimed", 10), ("accepted", 10), ("claimed", 10), ("accepted", 10), ("claimed", 5), ("accepted", 5)]
    counts = [count for _stage, _size, count in marks]
    composing = [accepted - claimed for claimed, accepted in zip(counts[0::2], counts[1::2])]
    between = [claimed - accepted for accepted, claimed in zip(counts[1::2], counts[2::2])]
    # composing a batch: its contacts, their own addresses, the custom fields (account
    # addresses only for contacts with an account: none here)
    assert composing == [3, 3, 3]
    # between batches: the outcomes (1 UPDATE), the cancel check, the next claim (lease,
    # pending rows, due retries, no longer reachable, handed_off, the rows) and the two
    # transactions' savepoints (the test runs inside a transaction)
    assert between == [12, 12]
