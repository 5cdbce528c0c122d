"""A/B tests of subject or content: a sample gets A or B, the rest are held; the winner by
open or click rate (computed in SQL) is sent to everyone held back, once."""

import collections
import datetime

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.jobs.models import Job, JobState
from guanxi.marketing import services
from guanxi.marketing.models import AbTest, CampaignRecipient, CampaignStatus

pytestmark = pytest.mark.django_db
PEOPLE = 20


def put(client, path, body):
    return client.put(path, body, content_type="application/json")


@pytest.fixture
def draft(admin_user):
    for index in range(PEOPLE):
        core_services.contact_create(actor=admin_user, data={
            "full_name": f"客户{index:02d}", "email": f"c{index:02d}@example.cn", "consent_email": True})
    segment = services.segment_create(actor=admin_user, data={"name": "All", "rules": {}})
    template = services.message_template_create(actor=admin_user, data={
        "name": "A", "channel": "email", "subject_zh": "A：5G 优惠", "body_zh": "<p><a href=\"https://e.cn/a\">A</a></p>"})
    return services.campaign_create(actor=admin_user, data={"name": "AB", "segment_id": segment.pk,
                                                            "template_id": template.pk})


def subjects(sink) -> dict[str, str]:
    return {item.recipients[0]: item.message["Subject"] for item in sink.received}


def test_set_up_an_ab_test(api_client, draft, admin_user):
    response = put(api_client, f"/api/v1/marketing/campaigns/{draft.pk}/ab-test",
                   {"metric": "click", "sample_percent": 30, "subject_b": "B：限时 5G 优惠", "decide_after_hours": 6})
    assert response.status_code == 200, response.content
    test = AbTest.objects.get(campaign=draft)
    assert (test.metric, test.sample_percent, test.subject_b, test.state) == ("click", 30, "B：限时 5G 优惠",
                                                                              "collecting")
    # B must differ from A
    response = put(api_client, f"/api/v1/marketing/campaigns/{draft.pk}/ab-test", {"subject_b": ""})
    assert response.status_code == 422 and "subject_b" in response.json()["errors"]
    assert AbTest.objects.get(campaign=draft).subject_b == "B：限时 5G 优惠"
    sms = services.campaign_create(actor=admin_user, data={"name": "Text", "channel": "sms"})
    response = put(api_client, f"/api/v1/marketing/campaigns/{sms.pk}/ab-test", {"subject_b": "x"})
    assert response.status_code == 422 and "campaign" in response.json()["errors"]


def test_the_sample_gets_a_or_b_the_rest_waits_then_gets_the_winner_once(api_client, admin_user, draft, smtp_sink,
                                                                           django_capture_on_commit_callbacks):
    services.ab_test_set(actor=admin_user, campaign_id=draft.pk, data={
        "metric": "open", "sample_percent": 40, "subject_b": "B：限时 5G 优惠", "decide_after_hours": 4})
    with django_capture_on_commit_callbacks(execute=True):
        campaign = services.campaign_launch(actor=admin_user, campaign_id=draft.pk)
    variants = collections.Counter(CampaignRecipient.objects.values_list("variant", "state"))
    assert variants == {("A", "sent"): 4, ("B", "sent"): 4, ("", "held"): 12}
    sent = subjects(smtp_sink)
    assert sorted(collections.Counter(sent.values()).items()) == [("A：5G 优惠", 4), ("B：限时 5G 优惠", 4)]
    # the decision is scheduled for when the test's time is up
    decide = Job.objects.get(kind="marketing.decide_ab_test")
    assert decide.state == JobState.QUEUED
    assert abs((decide.run_at - (campaign.launched_at + datetime.timedelta(hours=4))).total_seconds()) < 5
    # B's recipients open more
    for recipient in CampaignRecipient.objects.filter(variant="B")[:3]:
        services.track_open(_open_token(recipient))
    services.track_open(_open_token(CampaignRecipient.objects.filter(variant="A").first()))
    response = api_client.post(f"/api/v1/marketing/campaigns/{draft.pk}/ab-test/decide")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["winner"] == "B" and body["state"] == "decided"
    assert body["results"]["B"]["open_rate"] == 0.75 and body["results"]["A"]["open_rate"] == 0.25
    # the twelve held back got B, each exactly once, and the campaign is done
    assert CampaignRecipient.objects.filter(state="sent").count() == PEOPLE
    counts = collections.Counter(item.recipients[0] for item in smtp_sink.received)
    assert len(counts) == PEOPLE and set(counts.values()) == {1}
    assert collections.Counter(subjects(smtp_sink).values())["B：限时 5G 优惠"] == 16
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    # deciding again changes nothing
    assert api_client.post(f"/api/v1/marketing/campaigns/{draft.pk}/ab-test/decide").json()["winner"] == "B"


def test_a_tie_goes_to_a_and_the_job_decides_by_click_rate(admin_user, draft, smtp_sink):
    from guanxi.jobs.services import job_run

    services.ab_test_set(actor=admin_user, campaign_id=draft.pk, data={
        "metric": "click", "sample_percent": 20, "subject_b": "B", "decide_after_hours": 0})
    services.campaign_launch(actor=admin_user, campaign_id=draft.pk)
    job = Job.objects.get(kind="marketing.decide_ab_test")
    Job.objects.filter(pk=job.pk).update(run_at=timezone.now())
    job_run(job.pk)
    test = AbTest.objects.get(campaign=draft)
    assert (test.winner, test.results["A"]["click_rate"], test.results["B"]["click_rate"]) == ("A", 0.0, 0.0)
    assert collections.Counter(subjects(smtp_sink).values())["A：5G 优惠"] == PEOPLE - 2


def test_content_variant_uses_template_b(admin_user, draft, smtp_sink):
    template_b = services.message_template_create(actor=admin_user, data={
        "name": "B", "channel": "email", "subject_zh": "B 内容", "body_zh": "<p>完全不同的内容</p>"})
    services.ab_test_set(actor=admin_user, campaign_id=draft.pk, data={
        "metric": "open", "sample_percent": 100, "template_b_id": template_b.pk})
    services.campaign_launch(actor=admin_user, campaign_id=draft.pk)
    bodies = [item.message.get_body(("html",)).get_content() for item in smtp_sink.received]
    assert sum("完全不同的内容" in body for body in bodies) == PEOPLE // 2
    assert not CampaignRecipient.objects.filter(state="held").exists()


def test_the_ab_test_is_fixed_at_launch(api_client, admin_user, draft, smtp_sink):
    services.campaign_launch(actor=admin_user, campaign_id=draft.pk)
    response = put(api_client, f"/api/v1/marketing/campaigns/{draft.pk}/ab-test", {"subject_b": "late"})
    assert response.status_code == 409
    assert not AbTest.objects.exists()


def _open_token(recipient) -> str:
    from guanxi.marketing import tracking

    return tracking.open_token(recipient.pk)
