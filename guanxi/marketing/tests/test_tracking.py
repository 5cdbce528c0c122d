"""Open and click tracking with signed URLs: each recorded once as a campaign response and
an interaction on the contact's timeline, feeding the sales lead score; tampered links
record nothing and never redirect."""

import pytest

from guanxi.core import services as core_services
from guanxi.interactions.models import Interaction
from guanxi.marketing import services, tracking
from guanxi.marketing.models import Campaign, CampaignRecipient, CampaignResponse
from guanxi.marketing.signals import marketing_engagement

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipient(admin_user):
    contact = core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang@example.cn", "consent_email": True})
    campaign = Campaign.objects.create(name="Spring", channel="email", owner=admin_user, status="running")
    return CampaignRecipient.objects.create(campaign=campaign, contact=contact, address=contact.email,
                                            state="sent")


def test_open_pixel_records_one_open_on_the_campaign_and_the_timeline(client, recipient):
    url = tracking.open_pixel_url(recipient.pk).replace("http://127.0.0.1:8000", "")
    for _load in range(3):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
        assert "no-cache" in response["Cache-Control"]
    [opened] = CampaignResponse.objects.filter(kind="opened")
    assert (opened.campaign_id, opened.contact_id, opened.recipient_id) == (recipient.campaign_id,
                                                                            recipient.contact_id, recipient.pk)
    interaction = Interaction.objects.get(source_type="campaign_response", source_id=str(opened.pk))
    assert (interaction.channel, interaction.direction, interaction.subject) == ("email", "in", "Opened: Spring")
    recipient.refresh_from_db()
    assert recipient.opened_at is not None and recipient.clicked_at is None


def test_click_redirects_to_the_signed_target_and_records_the_click(client, recipient):
    target = "https://example.com/5g?src=mail&x=1"
    response = client.get(tracking.click_url(recipient.pk, target).replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 302 and response["Location"] == target
    click = CampaignResponse.objects.get(kind="clicked")
    assert click.detail == target and click.interaction.notes == target
    recipient.refresh_from_db()
    assert recipient.clicked_at is not None and recipient.opened_at is not None  # a click proves an open
    # the same link again is the same response; another link is another
    client.get(tracking.click_url(recipient.pk, target).replace("http://127.0.0.1:8000", ""))
    client.get(tracking.click_url(recipient.pk, "https://example.com/other").replace("http://127.0.0.1:8000", ""))
    assert CampaignResponse.objects.filter(kind="clicked").count() == 2


def test_tokens_written_directly_are_the_ones_django_signing_writes():
    """A bulk send writes the signed tokens itself (faster); links already sent, and links
    Django's ``Signer`` makes, must read the same."""
    from django.core import signing

    targets = ((1, "https://example.com/5g?utm_campaign=spring&x=1"), (987654321, "https://例子.cn/页面"),
               (42, 'https://example.com/"quoted"\\path'))
    for recipient_id, target in targets:
        expected = signing.Signer(salt=tracking.CLICK_SALT).sign_object({"r": recipient_id, "u": target})
        assert tracking.click_token(recipient_id, target) == expected
        assert tracking.read_click_token(expected) == (recipient_id, target)
        assert tracking.open_token(recipient_id) == signing.Signer(salt=tracking.OPEN_SALT).sign(
            signing.b62_encode(recipient_id))
        value = f"{signing.b62_encode(recipient_id)}.{signing.b62_encode(7)}"
        assert tracking.unsubscribe_token(recipient_id, 7) == signing.Signer(salt=tracking.UNSUBSCRIBE_SALT).sign(value)


def test_tampered_links_record_nothing_and_never_redirect(client, recipient):
    good = tracking.click_url(recipient.pk, "https://example.com/").replace("http://127.0.0.1:8000", "")
    token = good.split("/t/c/")[1].rstrip("/")
    forged = tracking.click_url(recipient.pk + 1, "https://evil.example/")  # signed for another row…
    forged_token = forged.split("/t/c/")[1].rstrip("/")
    mixed = token.split(":")[0] + ":" + forged_token.split(":")[-1]  # …its signature on our payload
    assert client.get(f"/marketing/t/c/{mixed}/").status_code == 404
    assert client.get("/marketing/t/c/not-a-token/").status_code == 404
    assert client.get("/marketing/t/o/123:forged.gif").status_code == 200  # the pixel is served anyway
    assert not CampaignResponse.objects.exists()


def test_engagement_feeds_the_sales_lead_score(client, recipient, admin_user, django_capture_on_commit_callbacks):
    """Opens and clicks reach the open leads of the same person through sales'
    lead_behaviour_record; ``marketing_engagement`` tells any other domain."""
    from guanxi.sales.models import Lead, LeadBehaviour, LeadScoringRule

    lead = Lead.objects.create(full_name="王芳", email="wang@example.cn")
    LeadScoringRule.objects.create(name="Clicked an email", kind="behaviour", behaviour_kind="email_click",
                                   min_count=1, points=15)
    heard = []

    def listener(sender, **kwargs):
        heard.append((kwargs["kind"], kwargs["email"], kwargs["campaign_id"]))

    marketing_engagement.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client.get(tracking.click_url(recipient.pk, "https://example.com/").replace("http://127.0.0.1:8000", ""))
    finally:
        marketing_engagement.disconnect(listener)
    assert heard == [("clicked", "wang@example.cn", recipient.campaign_id)]
    assert list(LeadBehaviour.objects.filter(lead=lead).values_list("kind", flat=True)) == ["email_click"]
    lead.refresh_from_db()
    assert lead.score == 15


def test_a_response_for_a_contact_without_leads_changes_no_lead(client, recipient,
                                                                django_capture_on_commit_callbacks):
    from guanxi.sales.models import Lead, LeadBehaviour

    Lead.objects.create(full_name="Someone else", email="else@example.cn")
    with django_capture_on_commit_callbacks(execute=True):
        client.get(tracking.open_pixel_url(recipient.pk).replace("http://127.0.0.1:8000", ""))
    assert not LeadBehaviour.objects.exists()


def test_responses_recorded_by_services_are_idempotent(recipient):
    first = services.campaign_response_record(campaign_id=recipient.campaign_id, contact_id=recipient.contact_id,
                                              recipient_id=recipient.pk, kind="opened")
    second = services.campaign_response_record(campaign_id=recipient.campaign_id, contact_id=recipient.contact_id,
                                               recipient_id=recipient.pk, kind="opened")
    assert first.pk == second.pk
    assert Interaction.objects.filter(source_type="campaign_response").count() == 1
