"""Email in: real SMTP to the aiosmtpd receiver on loopback, new cases, threading of
replies (In-Reply-To, References, case number), unknown senders, reopening, duplicates,
malformed MIME, oversized attachments and messages, failures kept for reprocessing, and
auto-replies and bounces that never open, reopen or add to a case."""

import smtplib
import socket
from email import policy
from email.message import EmailMessage

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.core import services as core_services
from guanxi.interactions.models import Interaction
from guanxi.service import email_in, services
from guanxi.service.models import Case, CaseAttachment, CaseMessage, CaseStatus, InboundEmail

SUPPORT = "support@guanxi.example"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_receiver():
    """The service desk's SMTP receiver on a random free loopback port."""
    from guanxi.service.mail_server import start_mail_server

    port = _free_port()
    controller = start_mail_server("127.0.0.1", port)
    yield port
    controller.stop()


def send(port: int, message: EmailMessage | bytes, sender: str = "customer@example.cn") -> tuple[int, bytes]:
    """Deliver over SMTP; returns the server's answer to the message data."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail(sender)
        client.rcpt(SUPPORT)
        data = message.as_bytes(policy=policy.SMTP) if isinstance(message, EmailMessage) else message
        return client.data(data)


def email(subject: str, body: str, *, sender: str = "王芳 <wang.fang@example.cn>", message_id: str | None = None,
          **headers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@pytest.fixture
def known_customer(admin_user):
    return core_services.contact_create(actor=admin_user, data={"full_name": "王芳", "email": "wang.fang@example.cn"})


# ======================================================================================
# Through real SMTP
# ======================================================================================
@pytest.mark.django_db(transaction=True)
def test_an_email_over_smtp_opens_a_case_for_the_known_sender(smtp_receiver, known_customer):
    # when the customer writes to the service desk
    code, answer = send(smtp_receiver, email("宽带断了", "从昨天晚上开始没有网络。", message_id="<m1@example.cn>"))
    # then the server accepted it and a case exists for the contact, with the mail as its first message
    assert code == 250 and b"created CS-" in answer
    case = Case.objects.get()
    assert (case.origin, case.contact_id, case.needs_triage) == ("email", known_customer.pk, False)
    assert case.subject == "宽带断了" and "没有网络" in case.description
    message = CaseMessage.objects.get(case=case)
    assert message.message_id == "<m1@example.cn>" and message.from_address == "wang.fang@example.cn"
    assert Interaction.objects.filter(contact=known_customer, channel="email", source_type="case_message").count() == 1
    inbound = InboundEmail.objects.get()
    assert inbound.outcome == "created" and inbound.case == case and default_storage.exists(inbound.raw_file)


@pytest.mark.django_db(transaction=True)
def test_the_customers_answer_to_an_emailed_reply_threads_back_by_in_reply_to(smtp_receiver, known_customer,
                                                                           make_user):
    from guanxi.core.models import Role

    agent = make_user("agent-email", Role.SERVICE_AGENT)
    send(smtp_receiver, email("Router broken", "It blinks red.", message_id="<m1@example.cn>"))
    case = Case.objects.get()
    # when the agent replies (sent by email with its own Message-ID) …
    reply = services.case_reply(actor=agent, case_id=case.pk, body="Please hold reset for 10 s.",
                                new_status=CaseStatus.PENDING_CUSTOMER)
    sent = mail.outbox[-1]
    assert sent.extra_headers["Message-ID"] == reply.message_id and sent.to == ["wang.fang@example.cn"]
    assert sent.extra_headers["In-Reply-To"] == "<m1@example.cn>" and case.number in sent.subject
    # … and the customer answers that email
    code, answer = send(smtp_receiver, email(f"Re: {sent.subject}", "Done, it works now.",
                                             message_id="<m2@example.cn>", In_Reply_To=reply.message_id,
                                             References=f"<m1@example.cn> {reply.message_id}"))
    # then the answer joined the same case, which is no longer pending
    assert code == 250 and b"threaded" in answer
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert list(case.messages.values_list("kind", flat=True)) == ["customer", "reply", "customer"]


@pytest.mark.django_db(transaction=True)
def test_the_same_message_delivered_twice_makes_one_case(smtp_receiver, known_customer):
    message = email("Double", "Sent twice by a retrying server", message_id="<dup@example.cn>")
    first, second = send(smtp_receiver, message), send(smtp_receiver, message)
    assert first[0] == second[0] == 250
    assert Case.objects.count() == 1 and InboundEmail.objects.count() == 1 and CaseMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_over_the_size_limit_is_refused_during_smtp(settings, known_customer):
    from guanxi.service.mail_server import start_mail_server

    settings.GUANXI_SERVICE_MAX_EMAIL_BYTES = 2000
    port = _free_port()
    controller = start_mail_server("127.0.0.1", port)
    try:
        code, _answer = send(port, email("Huge", "\n".join(["x" * 70] * 100)))
    finally:
        controller.stop()
    assert code == 552
    assert not Case.objects.exists() and not InboundEmail.objects.exists()


# ======================================================================================
# Through the ingest function (what an IMAP poller calls)
# ======================================================================================
@pytest.mark.django_db
def test_unknown_sender_gets_a_contact_less_case_flagged_for_triage(admin_user, standard_policy):
    result = email_in.ingest_raw_email(email("Need help", "Who do I talk to?", sender="Stranger <x@unknown.cn>",
                                             message_id="<s1@unknown.cn>").as_bytes(), received_via="imap")
    case = result.case
    assert result.outcome == "created" and case.contact_id is None and case.account_id is None
    assert case.needs_triage and case.requester_email == "x@unknown.cn" and case.requester_name == "Stranger"
    assert any("Unknown sender" in problem for problem in result.inbound.problems)
    assert not Interaction.objects.exists()  # nobody's timeline yet
    # when an agent links the case to a new contact, its messages land on that timeline
    contact = core_services.contact_create(actor=admin_user, data={"full_name": "Stranger Li"})
    services.case_link_customer(actor=admin_user, case_id=case.pk, contact_id=contact.pk)
    case.refresh_from_db()
    assert not case.needs_triage and case.sla_policy_id == standard_policy.pk
    assert Interaction.objects.filter(contact=contact, source_type="case_message").count() == 1


@pytest.mark.django_db
def test_a_reply_quoting_the_case_number_in_the_subject_threads(known_customer):
    first = email_in.ingest_raw_email(email("Bill wrong", "Charged twice", message_id="<b1@example.cn>").as_bytes())
    number = first.case.number
    second = email_in.ingest_raw_email(email(f"Re: [{number}] Bill wrong", "Any news?",
                                             message_id="<b2@example.cn>").as_bytes())
    assert second.outcome == "threaded" and second.case.pk == first.case.pk
    assert Case.objects.count() == 1 and first.case.messages.count() == 2


@pytest.mark.django_db
def test_a_reply_to_a_closed_case_reopens_it(known_customer, admin_user):
    first = email_in.ingest_raw_email(email("Slow line", "Very slow", message_id="<c1@example.cn>").as_bytes())
    case = first.case
    services.case_change_status(actor=admin_user, case_id=case.pk, status=CaseStatus.RESOLVED)
    services.case_change_status(actor=admin_user, case_id=case.pk, status=CaseStatus.CLOSED)
    again = email_in.ingest_raw_email(email("Re: Slow line", "It is slow again", message_id="<c2@example.cn>",
                                            In_Reply_To="<c1@example.cn>").as_bytes())
    assert again.outcome == "reopened" and again.case.pk == case.pk
    case.refresh_from_db()
    assert case.status == CaseStatus.REOPENED and case.reopened_count == 1
    assert case.messages.last().body == "It is slow again"


@pytest.mark.django_db
def test_a_message_without_message_id_is_recognised_when_delivered_again(known_customer):
    raw = email("No id", "A client that sets no Message-ID").as_bytes()
    first, second = email_in.ingest_raw_email(raw), email_in.ingest_raw_email(raw)
    assert second.duplicate and second.case.pk == first.case.pk and Case.objects.count() == 1


@pytest.mark.django_db
def test_malformed_mime_is_read_as_far_as_it_goes(known_customer):
    raw = (b"From: wang.fang@example.cn\r\nTo: support@guanxi.example\r\nSubject: =?utf-8?b?5a695bim?=\r\n"
           b"Message-ID: <broken@example.cn>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"missing\"\r\n\r\n"
           b"--other\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n"
           b"\xe7\xbd\x91\xe7\xbb\x9c\xe6\x96\xad\r\n")
    result = email_in.ingest_raw_email(raw)
    assert result.outcome == "created" and result.case.subject == "宽带"
    assert result.inbound.problems and "malformed" in " ".join(result.inbound.problems)
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_wrong_charset_text_is_kept_with_replacement_characters(known_customer):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "wang.fang@example.cn", SUPPORT, "Charset"
    message["Message-ID"] = "<cs@example.cn>"
    message.set_content("网络".encode("gb18030"), maintype="text", subtype="plain", cte="base64")
    message.replace_header("Content-Type", "text/plain; charset=x-unknown")
    result = email_in.ingest_raw_email(message.as_bytes())
    assert result.case.description == "网络"  # recovered by trying GB 18030
    assert any("character set" in problem for problem in result.inbound.problems)


@pytest.mark.django_db
def test_oversized_attachments_are_left_out_with_a_note_and_small_ones_kept(known_customer, settings):
    settings.GUANXI_SERVICE_ATTACHMENT_MAX_BYTES = 1000
    message = email("Photos", "See attached", message_id="<att@example.cn>")
    message.add_attachment(b"\x89PNG small", maintype="image", subtype="png", filename="router.png")
    message.add_attachment(b"A" * 5000, maintype="application", subtype="pdf", filename="manual.pdf")
    result = email_in.ingest_raw_email(message.as_bytes())
    attachment = CaseAttachment.objects.get()
    assert (attachment.name, attachment.size, attachment.content_type) == ("router.png", 10, "image/png")
    with attachment.file.open("rb") as handle:
        assert handle.read() == b"\x89PNG small"
    first = result.case.messages.get()
    assert "manual.pdf" in first.body and "over the size limit" in first.body
    assert any("manual.pdf" in problem for problem in result.inbound.problems)


@pytest.mark.django_db
def test_a_failure_keeps_the_message_and_a_redelivery_processes_it(known_customer, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(email_in, "case_open", broken)
    raw = email("Lost?", "Must not be lost", message_id="<f1@example.cn>").as_bytes()
    failed = email_in.ingest_raw_email(raw)
    assert failed.outcome == "failed" and not Case.objects.exists()
    inbound = InboundEmail.objects.get()
    assert inbound.outcome == "failed" and "database hiccup" in inbound.problems[-1]
    assert default_storage.exists(inbound.raw_file)
    monkeypatch.undo()
    again = email_in.inbound_email_reprocess(inbound)
    assert again.outcome == "created" and Case.objects.count() == 1 and InboundEmail.objects.count() == 1


@pytest.mark.django_db
def test_failed_emails_are_retried_by_the_scheduler_for_a_day(known_customer, monkeypatch):
    import datetime as dt

    from django.utils import timezone
    from huey.contrib.djhuey import HUEY

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(email_in, "case_open", broken)
    email_in.ingest_raw_email(email("Lost?", "Must not be lost", message_id="<r1@example.cn>").as_bytes())
    email_in.ingest_raw_email(email("Old", "Failed long ago", message_id="<r0@example.cn>").as_bytes())
    InboundEmail.objects.filter(message_id="<r0@example.cn>").update(
        received_at=timezone.now() - dt.timedelta(hours=25))
    # while the problem lasts, a retry fails again and keeps the message
    assert email_in.inbound_email_retry_failed() == {"retried": 1, "recovered": 0}
    monkeypatch.undo()
    # the scheduler runs the retry every ten minutes; the recent email becomes a case, the old one waits
    due = {task.name: task for task in HUEY.read_periodic(dt.datetime(2026, 3, 2, 3, 10))}
    HUEY.execute(due["retry_failed_inbound_email"])
    recent = InboundEmail.objects.get(message_id="<r1@example.cn>")
    assert recent.outcome == "created" and recent.case.subject == "Lost?"
    assert InboundEmail.objects.get(message_id="<r0@example.cn>").outcome == "failed"
    assert Case.objects.count() == 1 and InboundEmail.objects.count() == 2


# ======================================================================================
# Auto-replies, out-of-office notices and bounces
# ======================================================================================
@pytest.mark.django_db
@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"Auto_Submitted": "auto-generated; owner-email=\"it@example.cn\""},
    {"X_Autoreply": "yes"},
    {"X_Autorespond": "Out of office"},
    {"X_Autogenerated": "Reply"},
    {"Precedence": "auto_reply"},
    {"Precedence": "bulk"},
    {"Return_Path": "<>"},
], ids=lambda headers: "-".join(f"{name}:{value}" for name, value in headers.items()))
def test_an_auto_reply_to_a_closed_case_neither_reopens_nor_joins_it(known_customer, admin_user, headers):
    first = email_in.ingest_raw_email(email("Slow line", "Very slow", message_id="<o1@example.cn>").as_bytes())
    case = first.case
    services.case_change_status(actor=admin_user, case_id=case.pk, status=CaseStatus.RESOLVED)
    services.case_change_status(actor=admin_user, case_id=case.pk, status=CaseStatus.CLOSED)
    messages_before = case.messages.count()
    away = email_in.ingest_raw_email(email("Out of office: Re: Slow line", "I am away until Monday.",
                                           message_id="<o2@example.cn>", In_Reply_To="<o1@example.cn>",
                                           **headers).as_bytes())
    assert away.outcome == "automatic" and away.case.pk == case.pk and not away.duplicate
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.reopened_count == 0
    assert case.messages.count() == messages_before and Case.objects.count() == 1
    inbound = InboundEmail.objects.get(message_id="<o2@example.cn>")
    assert inbound.outcome == "automatic" and inbound.case_id == case.pk and inbound.problems
    assert default_storage.exists(inbound.raw_file)   # kept, not lost


@pytest.mark.django_db
def test_an_auto_reply_or_bounce_opens_no_case(known_customer):
    notice = email_in.ingest_raw_email(email("Automatic reply: hello", "I am on leave.", message_id="<a1@x.cn>",
                                             Auto_Submitted="auto-replied").as_bytes())
    report = (b"From: Mail Delivery System <bounces@mx.example.cn>\r\nTo: support@guanxi.example\r\n"
              b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <a2@mx.example.cn>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
              b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
              b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.cn\r\n"
              b"\r\nFinal-Recipient: rfc822; gone@example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\n--b1--\r\n")
    daemon = email("Returned mail", "User unknown", sender="MAILER-DAEMON@mx.example.cn",
                   message_id="<a3@mx.example.cn>").as_bytes()
    returned, returned_again = email_in.ingest_raw_email(report), email_in.ingest_raw_email(daemon)
    assert [(result.outcome, result.case) for result in (notice, returned, returned_again)] == [
        ("automatic", None)] * 3
    assert not Case.objects.exists() and not Interaction.objects.exists()
    assert InboundEmail.objects.filter(outcome="automatic").count() == 3
    again = email_in.ingest_raw_email(report)
    assert again.duplicate and InboundEmail.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_bounce_over_smtp_with_an_empty_envelope_sender_opens_no_case(smtp_receiver, known_customer):
    code, answer = send(smtp_receiver, email("Delivery Status Notification (Failure)", "Address not found.",
                                              message_id="<dsn1@mx.example.cn>"), sender="")
    assert code == 250 and b"automatic" in answer
    inbound = InboundEmail.objects.get(message_id="<dsn1@mx.example.cn>")
    assert (inbound.outcome, inbound.envelope_from, inbound.case) == ("automatic", "<>", None)
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_a_person_writing_no_to_auto_submitted_still_opens_a_case(known_customer):
    result = email_in.ingest_raw_email(email("Router broken", "It does not start.", message_id="<p1@example.cn>",
                                             Auto_Submitted="no", X_Autogenerated="Forward").as_bytes())
    assert result.outcome == "created" and Case.objects.count() == 1


def test_mail_in_command_refuses_a_bad_port():
    with pytest.raises(CommandError):
        call_command("mail_in", "--port", "0")
