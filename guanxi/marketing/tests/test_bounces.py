"""Bounce handling: delivery status notifications (RFC 3464 multipart/report) are parsed,
each failed recipient logged; a permanent failure — or the third temporary one — puts the
address on the suppression list and marks the campaign recipient bounced."""

import pytest

from guanxi.core import services as core_services
from guanxi.marketing import bounces, services
from guanxi.marketing.models import (
    Campaign, CampaignRecipient, CampaignResponse, EmailBounce, EmailSuppression,
)

pytestmark = pytest.mark.django_db


def dsn(recipient: str, status: str, message_id: str = "<gx.1.1@guanxi>", action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.cn\r\n"
        "To: guanxi@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "Your message could not be delivered.\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.cn\r\n"
        "Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0800\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} Mailbox problem\r\n"
        "\r\n"
        "--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n"
        "Subject: 5G offer\r\n"
        "\r\n"
        "--B--\r\n").encode()


@pytest.fixture
def sent(admin_user):
    contact = core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang@example.cn", "consent_email": True})
    campaign = Campaign.objects.create(name="Spring", channel="email", owner=admin_user, status="running")
    return CampaignRecipient.objects.create(campaign=campaign, contact=contact, address="wang@example.cn",
                                            state="sent")


def test_parse_a_dsn():
    report = bounces.parse_dsn(dsn("Wang@Example.CN", "5.1.1", "<gx.42.7@guanxi>"))
    assert report.original_message_id == "<gx.42.7@guanxi>"
    [failure] = report.failures
    assert (failure.email, failure.action, failure.status, failure.permanent) == (
        "wang@example.cn", "failed", "5.1.1", True)
    assert failure.diagnostic == "smtp; 550 5.1.1 Mailbox problem"
    assert bounces.parse_dsn(b"Subject: hello\r\n\r\nnot a report") is None
    assert bounces.parse_dsn(dsn("a@b.cn", "4.4.1", action="delayed")).failures == []  # a warning


def test_a_hard_bounce_suppresses_the_address_and_marks_the_recipient(api_client, sent):
    response = api_client.post("/api/v1/marketing/bounces", {
        "raw_message": dsn("wang@example.cn", "5.1.1", f"<gx.{sent.pk}.{sent.campaign_id}@guanxi>").decode()},
        content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == [{"email": "wang@example.cn", "status": "5.1.1", "action": "failed",
                                "diagnostic": "smtp; 550 5.1.1 Mailbox problem", "is_permanent": True,
                                "recipient_id": sent.pk}]
    sent.refresh_from_db()
    assert sent.state == "bounced" and sent.last_error.startswith("5.1.1")
    assert EmailSuppression.objects.get(email="wang@example.cn").reason == "hard_bounce"
    assert CampaignResponse.objects.filter(kind="bounced", recipient=sent).exists()


def test_three_soft_bounces_suppress_two_do_not(sent):
    for count in range(1, 4):
        services.bounce_process(raw_message=dsn("wang@example.cn", "4.2.2"))
        assert EmailSuppression.objects.filter(email="wang@example.cn").exists() == (count == 3)
    assert EmailBounce.objects.filter(email="wang@example.cn", is_permanent=False).count() == 3
    sent.refresh_from_db()
    assert sent.state == "sent"  # a temporary failure does not mean the message bounced


def test_a_message_that_is_not_a_dsn_is_refused(api_client, sent):
    response = api_client.post("/api/v1/marketing/bounces", {"raw_message": "Subject: hi\r\n\r\nhello"},
                               content_type="application/json")
    assert response.status_code == 422 and "delivery status notification" in response.json()["errors"][
        "raw_message"][0]
    assert not EmailBounce.objects.exists()


def test_bounce_files_through_the_command_line(sent, tmp_path):
    from django.core.management import call_command

    good = tmp_path / "bounce.eml"
    good.write_bytes(dsn("wang@example.cn", "5.2.1"))
    bad = tmp_path / "not-a-bounce.eml"
    bad.write_bytes(b"Subject: hi\r\n\r\nhello")
    with pytest.raises(SystemExit) as exit_info:
        call_command("marketing_bounces", str(good), str(bad))
    assert exit_info.value.code == 1
    assert EmailSuppression.objects.filter(email="wang@example.cn").exists()
