"""Campaign email in zero-service mode: with no mail server configured, a campaign still
sends — every reachable person's personalized message is kept in the outbox, with the same
recipient states, Message-IDs and completion as a send over SMTP."""

import datetime

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.jobs.models import JobState
from guanxi.marketing import sending, services
from guanxi.marketing.models import CampaignRecipient, CampaignStatus, RecipientState
from guanxi.outbox.backend import BACKEND_PATH
from guanxi.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db
PEOPLE = 6


@pytest.fixture
def launched(admin_user, settings):
    settings.EMAIL_BACKEND = BACKEND_PATH
    settings.GUANXI_MARKETING_SEND_RATE = 0
    for index in range(PEOPLE):
        core_services.contact_create(actor=admin_user, data={
            "full_name": f"客户{index}", "email": f"c{index}@example.cn", "consent_email": index != 0})
    segment = services.segment_create(actor=admin_user, data={
        "name": "All", "rules": {"type": "group", "match": "all", "rules": []}})
    template = services.message_template_create(actor=admin_user, data={
        "name": "Offer", "channel": "email", "subject_zh": "{{ contact.full_name }}：5G 优惠",
        "body_zh": "<p>{{ contact.full_name }}，您好！</p>"})
    campaign = services.campaign_create(actor=admin_user, data={
        "name": "Demo", "channel": "email", "segment_id": segment.pk, "template_id": template.pk,
        "scheduled_at": timezone.now() + datetime.timedelta(days=1)})
    return services.campaign_launch(actor=admin_user, campaign_id=campaign.pk)


def test_a_campaign_without_a_mail_server_is_kept_in_the_outbox(launched):
    job = sending.enqueue_send(launched)  # runs inline in tests, as the worker would
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["sent"] == PEOPLE - 1  # the one without consent was never in the audience
    kept = {message.recipients: message for message in OutboxMessage.objects.all()}
    assert sorted(kept) == [f"c{index}@example.cn" for index in range(1, PEOPLE)]
    for recipient in CampaignRecipient.objects.all():
        assert recipient.state == RecipientState.SENT and recipient.sent_at is not None
        message = kept[recipient.address]
        assert message.message_id == recipient.message_id == f"<gx.{recipient.pk}.{launched.pk}@guanxi>"
        assert message.subject.endswith("：5G 优惠") and message.source == sending.SEND_JOB
        assert f"X-Guanxi-Campaign: {launched.pk}" in message.raw and "List-Unsubscribe" in message.raw
    launched.refresh_from_db()
    assert launched.status == CampaignStatus.COMPLETED


def test_running_the_send_again_keeps_nothing_twice(launched):
    sending.campaign_send(launched.pk)
    again = sending.campaign_send(launched.pk)
    assert again.sent == 0 and OutboxMessage.objects.count() == PEOPLE - 1
