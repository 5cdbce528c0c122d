"""The marketing part of the demo company: segments, bilingual templates, campaigns with
costs and responses on the timelines, an event with registrations, a brochure."""

import io

import pytest
from django.core.management import call_command

from guanxi.interactions.models import Interaction
from guanxi.marketing import reports
from guanxi.marketing.models import (
    Campaign, CampaignResponse, Event, EventRegistration, Material, MessageTemplate, Segment,
)

pytestmark = pytest.mark.django_db


def test_demo_data_brings_a_working_marketing_department():
    call_command("demo_data", "--contacts", "300", "--accounts", "40", stdout=io.StringIO())
    assert Segment.objects.count() >= 3
    assert all(segment.member_count >= 0 for segment in Segment.objects.all())
    offer = MessageTemplate.objects.get(channel="email", name__startswith="5G spring offer")
    assert offer.body_en and offer.body_zh and offer.subject_zh
    spring = Campaign.objects.get(name__startswith="5G spring offer 2026")
    assert spring.status == "completed" and spring.actual_cost > 0 and spring.audience_count > 0
    responses = CampaignResponse.objects.filter(campaign=spring)
    assert responses.filter(kind="opened").exists()
    assert Interaction.objects.filter(source_type="campaign_response").count() == responses.count()
    figures = reports.roi_figures(spring)
    assert figures["reached"] == spring.audience_count and figures["responders"] > 0
    assert Campaign.objects.filter(channel="phone", status="running").exists()
    assert EventRegistration.objects.filter(event__in=Event.objects.all()).exists()
    assert Material.objects.get().current_version == 1
