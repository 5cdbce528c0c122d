"""Demo data of the marketing domain: segments, bilingual templates, campaigns with costs
and responses, an event with registrations and a brochure in the materials library.

Connected to ``guanxi.core.demo.demo_data_loaded``. Definitions go through the services
(validated and audited like real ones); the past of the completed campaign — who got the
email, who opened and clicked — is bulk-written so the demo loads in seconds, with every
response on its contact's timeline like a live one.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from guanxi.core.models import Role
from guanxi.interactions.models import Direction, Interaction
from guanxi.marketing import printing, sending, services
from guanxi.marketing.models import (
    CampaignRecipient, CampaignResponse, CampaignStatus, EventRegistration, RecipientState, RegistrationStatus,
    ResponseKind,
)

OFFER_EN = ("<p>Dear {{ contact.greeting_name }},</p>"
            "<p>Upgrade to our 5G Business plan this spring"
            "{% if contact.value_tier in ['gold', 'platinum'] %} with an extra 20 % off for {{ contact.value_tier }} "
            "customers{% endif %}.</p>"
            "<p><a href=\"https://example.com/5g\">See the offer</a></p>"
            "<p><small><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></small></p>")
OFFER_ZH = ("<p>{{ contact.greeting_name }}，您好！</p>"
            "<p>春季 5G 商务套餐升级优惠{% if contact.value_tier in ['gold', 'platinum'] %}，金卡及以上客户再享八折"
            "{% endif %}。</p>"
            "<p><a href=\"https://example.com/5g\">查看优惠</a></p>"
            "<p><small><a href=\"{{ unsubscribe_url }}\">退订</a></small></p>")
INVITATION_ZH = ("<p>{{ contact.greeting_name }}，您好！</p><p>诚邀您参加 {{ event.name }}，"
                 "时间 {{ event.starts_at|datetime }}，地点 {{ event.venue }}。</p>"
                 "<p><a href=\"{{ event.registration_url }}\">立即报名</a></p>")
INVITATION_EN = ("<p>Dear {{ contact.greeting_name }},</p><p>you are invited to {{ event.name }} on "
                 "{{ event.starts_at|datetime }} at {{ event.venue }}.</p>"
                 "<p><a href=\"{{ event.registration_url }}\">Register now</a></p>")


def _brochure() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setFont(printing.CJK_FONT, 24)
    canvas.drawString(72, 760, "5G 商务套餐 · 5G Business plans")
    canvas.setFont(printing.CJK_FONT, 12)
    for index, line in enumerate(["100GB ¥199 / 月", "300GB ¥399 / 月", "千兆光纤宽带 ¥299 / 月"]):
        canvas.drawString(72, 720 - index * 20, line)
    canvas.save()
    return buffer.getvalue()


def load_marketing_demo_data(sender, *, users, rng, progress, **kwargs) -> None:
    marketer = (users.get(Role.MARKETER) or users[Role.ADMIN])[0]
    now = timezone.now()
    with transaction.atomic():
        gold = services.segment_create(actor=marketer, data={
            "name": "Gold and platinum customers · 金卡及以上客户", "rules": {"type": "group", "match": "all", "rules": [
                {"type": "field", "field": "value_tier", "operator": "in", "value": ["gold", "platinum"]}]}})
        services.segment_create(actor=marketer, data={
            "name": "VIP in Guangdong · 广东 VIP", "rules": {"type": "group", "match": "all", "rules": [
                {"type": "field", "field": "address.province", "operator": "in", "value": ["广东", "广东省"]},
                {"type": "tag", "operator": "has_any", "value": ["VIP"]}]}})
        engaged = services.segment_create(actor=marketer, data={
            "name": "Email-active, not lost · 近期邮件互动", "rules": {"type": "group", "match": "all", "rules": [
                {"type": "interaction", "channel": "email", "within_days": 180},
                {"type": "group", "match": "none", "rules": [
                    {"type": "field", "field": "lifecycle_stage", "operator": "in", "value": ["lost", "at_risk"]}]}]}})
        offer = services.message_template_create(actor=marketer, data={
            "name": "5G spring offer · 5G 春季优惠", "channel": "email",
            "subject_en": "{{ contact.greeting_name }}, your 5G upgrade", "body_en": OFFER_EN,
            "subject_zh": "{{ contact.greeting_name }}，您的 5G 升级优惠", "body_zh": OFFER_ZH})
        sms = services.message_template_create(actor=marketer, data={
            "name": "5G SMS · 5G 短信", "channel": "sms",
            "body_zh": "{{ contact.greeting_name }}：5G 商务套餐春季八折，详询 10086。退订回 T",
            "body_en": "{{ contact.greeting_name }}: 20% off 5G Business plans this spring. Reply T to stop."})
        services.message_template_create(actor=marketer, data={
            "name": "Renewal letter · 续约信函", "channel": "letter", "subject_zh": "续约邀请",
            "body_zh": "{{ contact.greeting_name }}：\n感谢您一直以来的支持。续约即享专属优惠。",
            "subject_en": "Renewal", "body_en": "Dear {{ contact.greeting_name }},\nthank you for staying with us."})
        invitation = services.message_template_create(actor=marketer, data={
            "name": "Summit invitation · 峰会邀请", "channel": "email", "subject_en": "Invitation: {{ event.name }}",
            "body_en": INVITATION_EN, "subject_zh": "邀请：{{ event.name }}", "body_zh": INVITATION_ZH})
        material = services.material_create(actor=marketer, data={
            "title": "5G Business brochure · 5G 商务宣传册", "description": "Prices and plans for enterprise customers.",
            "tags": ["5G", "brochure", "宣传册"], "language": "zh-hans"},
            upload=SimpleUploadedFile("5g-brochure.pdf", _brochure(), content_type="application/pdf"))
    progress("marketing", 1, 4)

    # A completed email campaign: sent three weeks ago, opened and clicked since.
    with transaction.atomic():
        spring = services.campaign_create(actor=marketer, data={
            "name": "5G spring offer 2026 · 5G 春季优惠", "channel": "email", "segment_id": gold.pk,
            "template_id": offer.pk, "budget": Decimal("80000"), "planned_cost": Decimal("60000"),
            "actual_cost": Decimal("52300"), "expected_revenue": Decimal("400000"), "material_ids": [material.pk]})
        spring.launched_by = marketer
        audience, excluded = sending.freeze_audience(spring)
        sent_at = now - datetime.timedelta(days=21)
        type(spring).objects.filter(pk=spring.pk).update(
            status=CampaignStatus.COMPLETED, launched_at=sent_at, completed_at=sent_at, launched_by=marketer,
            audience_count=audience, excluded_count=excluded)
        CampaignRecipient.objects.filter(campaign=spring).update(state=RecipientState.SENT, sent_at=sent_at,
                                                                 handed_off_at=sent_at, attempts=1)
        _responses(spring, rng, sent_at)
    progress("marketing", 2, 4)

    # A phone campaign on the engaged segment, its call list handed to the contact center.
    services.campaign_create(actor=marketer, data={
        "name": "5G SMS reminder · 5G 短信提醒", "channel": "sms", "segment_id": gold.pk, "template_id": sms.pk,
        "budget": Decimal("5000"), "planned_cost": Decimal("3000")})
    campaign = services.campaign_create(actor=marketer, data={
        "name": "Broadband retention calls · 宽带挽留外呼", "channel": "phone", "segment_id": engaged.pk,
        "budget": Decimal("30000"), "planned_cost": Decimal("25000")})
    services.campaign_launch(actor=marketer, campaign_id=campaign.pk)

    # An event with its invitation campaign and registrations, some of whom came.
    with transaction.atomic():
        summit = services.event_create(actor=marketer, data={
            "name": "5G Enterprise Summit Shenzhen · 5G 企业峰会（深圳）", "slug": "5g-summit-shenzhen",
            "starts_at": now + datetime.timedelta(days=10), "venue": "深圳会展中心 5 号馆",
            "address": "广东省深圳市福田区福华三路", "capacity": 120, "reminder_hours": 24,
            "description": "Keynotes, customer stories and the 2026 5G roadmap."})
        services.campaign_create(actor=marketer, data={
            "name": "Summit invitations · 峰会邀请", "channel": "event", "event_id": summit.pk, "segment_id": gold.pk,
            "template_id": invitation.pk, "budget": Decimal("150000"), "planned_cost": Decimal("120000")})
        members = list(CampaignRecipient.objects.filter(campaign=spring).select_related("contact")[:60])
        EventRegistration.objects.bulk_create([EventRegistration(
            event=summit, contact=member.contact, full_name=member.contact.full_name, email=member.address,
            status=RegistrationStatus.REGISTERED, registered_at=now - datetime.timedelta(days=rng.randrange(1, 9)))
            for member in members])
    progress("marketing", 3, 4)
    services.campaign_create(actor=marketer, data={
        "name": "Autumn renewal mailing · 秋季续约信函", "channel": "direct_mail", "segment_id": gold.pk,
        "budget": Decimal("20000"), "planned_cost": Decimal("18000")})
    progress("marketing", 4, 4)


def _responses(campaign, rng, sent_at) -> None:
    """About 35 % open, a quarter of those click; each response on the timeline."""
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign).values_list("id", "contact_id"))
    responses, opened, clicked = [], [], []
    for recipient_id, contact_id in recipients:
        if rng.random() >= 0.35:
            continue
        at = sent_at + datetime.timedelta(minutes=rng.randrange(5, 60 * 24 * 5))
        opened.append((recipient_id, at))
        responses.append(CampaignResponse(campaign=campaign, contact_id=contact_id, recipient_id=recipient_id,
                                          kind=ResponseKind.OPENED, occurred_at=at,
                                          dedupe_key=f"{campaign.pk}:{contact_id}:opened"))
        if rng.random() < 0.25:
            clicked_at = at + datetime.timedelta(minutes=rng.randrange(1, 30))
            clicked.append((recipient_id, clicked_at))
            responses.append(CampaignResponse(
                campaign=campaign, contact_id=contact_id, recipient_id=recipient_id, kind=ResponseKind.CLICKED,
                occurred_at=clicked_at, detail="https://example.com/5g",
                dedupe_key=f"{campaign.pk}:{contact_id}:clicked:demo"))
    CampaignResponse.objects.bulk_create(responses, batch_size=1000)
    stored = list(CampaignResponse.objects.filter(campaign=campaign))
    interactions = [Interaction(contact_id=response.contact_id, channel="email", direction=Direction.INBOUND,
                                occurred_at=response.occurred_at,
                                subject=f"{response.get_kind_display()}: {campaign.name}"[:200],
                                outcome=str(response.get_kind_display()), notes=response.detail,
                                source_type="campaign_response", source_id=str(response.pk)) for response in stored]
    Interaction.objects.bulk_create(interactions, batch_size=1000)
    by_source = dict(Interaction.objects.filter(source_type="campaign_response",
                                                source_id__in=[str(item.pk) for item in stored])
                     .values_list("source_id", "pk"))
    for response in stored:
        response.interaction_id = by_source.get(str(response.pk))
    CampaignResponse.objects.bulk_update(stored, ["interaction"], batch_size=1000)
    for recipient_id, at in opened:
        CampaignRecipient.objects.filter(pk=recipient_id).update(opened_at=at)
    for recipient_id, at in clicked:
        CampaignRecipient.objects.filter(pk=recipient_id).update(clicked_at=at)
