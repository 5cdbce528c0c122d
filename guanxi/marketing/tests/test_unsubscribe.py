"""One-click unsubscribe (RFC 8058): a signed link per person and campaign; GET asks,
POST (the button or a mail client's one-click request) withdraws email consent with a
consent record and an audit entry — and nothing is sent to that person afterwards."""

import pytest

from guanxi.core import services as core_services
from guanxi.core.models import AuditLog, ConsentRecord, Contact
from guanxi.marketing import tracking
from guanxi.marketing.models import Campaign, CampaignResponse

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscriber(admin_user):
    return core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang@example.cn", "consent_email": True})


@pytest.fixture
def campaign(admin_user):
    return Campaign.objects.create(name="Spring", channel="email", owner=admin_user, status="running")


def path_of(url: str) -> str:
    return url.replace("http://127.0.0.1:8000", "")


def test_get_only_asks_so_link_scanners_unsubscribe_nobody(client, subscriber, campaign):
    response = client.get(path_of(tracking.unsubscribe_url(subscriber.pk, campaign.pk)))
    assert response.status_code == 200 and b"<form method=\"post\">" in response.content
    subscriber.refresh_from_db()
    assert subscriber.consent_email is True


def test_one_click_post_withdraws_consent_once(client, subscriber, campaign):
    url = path_of(tracking.unsubscribe_url(subscriber.pk, campaign.pk))
    before_version = subscriber.version
    for _click in range(2):  # RFC 8058: a POST without a CSRF token, from the mail client
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200 and response.content == b"Unsubscribed."
    subscriber.refresh_from_db()
    assert subscriber.consent_email is False and subscriber.version == before_version + 1
    [record] = ConsentRecord.objects.filter(contact=subscriber, granted=False)
    assert (record.channel, record.source) == ("email", "unsubscribe link: Spring")
    audit = AuditLog.objects.filter(object_type="contact", object_id=str(subscriber.pk), action="update")
    assert [entry.changes["consent_email"] for entry in audit] == [[True, False]]
    assert CampaignResponse.objects.filter(campaign=campaign, kind="unsubscribed").count() == 1


def test_the_button_on_the_page_unsubscribes_too(client, subscriber, campaign):
    response = client.post(path_of(tracking.unsubscribe_url(subscriber.pk, campaign.pk)))
    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    assert Contact.objects.get(pk=subscriber.pk).consent_email is False


def test_a_forged_link_changes_nothing(client, subscriber, campaign, admin_user):
    other = core_services.contact_create(actor=admin_user, data={"full_name": "李强", "consent_email": True})
    token = tracking.unsubscribe_token(subscriber.pk, campaign.pk)
    value, signature = token.rsplit(":", 1)
    forged = tracking.unsubscribe_token(other.pk).split(":")[0].split(".")[0] + "." + value.split(".")[1] + \
        ":" + signature
    assert client.post(f"/marketing/u/{forged}/").status_code == 404
    assert client.get("/marketing/u/garbage/").status_code == 404
    assert Contact.objects.get(pk=other.pk).consent_email is True


def test_nothing_is_sent_after_unsubscribing(client, admin_user, subscriber, smtp_sink):
    from guanxi.marketing import services
    from guanxi.marketing.models import CampaignRecipient

    segment = services.segment_create(actor=admin_user, data={"name": "All", "rules": {}})
    template = services.message_template_create(actor=admin_user, data={
        "name": "T", "channel": "email", "subject_zh": "好", "body_zh": "<p>好</p>"})
    first = services.campaign_create(actor=admin_user, data={"name": "First", "segment_id": segment.pk,
                                                              "template_id": template.pk})
    services.campaign_launch(actor=admin_user, campaign_id=first.pk)
    assert smtp_sink.recipients() == ["wang@example.cn"]
    client.post(path_of(tracking.unsubscribe_url(subscriber.pk, first.pk)), {"List-Unsubscribe": "One-Click"})
    second = services.campaign_create(actor=admin_user, data={"name": "Second", "segment_id": segment.pk,
                                                               "template_id": template.pk})
    launched = services.campaign_launch(actor=admin_user, campaign_id=second.pk)
    assert (launched.audience_count, launched.excluded_count) == (0, 1)
    assert not CampaignRecipient.objects.filter(campaign=second).exists()
    assert smtp_sink.recipients() == ["wang@example.cn"]
