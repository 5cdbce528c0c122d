"""Campaigns: email, SMS (simulator and Twilio adapter), phone (call list), direct mail,
event and web; budget and costs, target segment, schedule, owner, status; launch
validation that names every problem; responses as interactions; ROI from SQL aggregates
with leads and won deals attributed by the sales domain."""

import csv
import datetime
import io
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import AuditLog, Contact, CustomField, Role
from guanxi.interactions.models import Interaction
from guanxi.jobs.models import Job, JobState
from guanxi.marketing import reports, services
from guanxi.marketing.models import (
    AbTest, CallListEntry, Campaign, CampaignRecipient, CampaignResponse, CampaignStatus, EmailSuppression, MessageTemplate,
    RecipientState,
)
from guanxi.marketing.sms_gateways import SimulatorGateway, SmsPermanentError, SmsTemporaryError, TwilioGateway

pytestmark = pytest.mark.django_db
ALL = {"type": "group", "match": "all", "rules": []}


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def audience(admin_user):
    """Six people; only Wang and Li may receive everything."""
    def person(name, **data):
        return core_services.contact_create(actor=admin_user, data={"full_name": name, **data})

    yes = {"consent_email": True, "consent_sms": True, "consent_phone": True, "consent_mail": True}
    return {
        "wang": person("王芳", email="wang@example.cn", phone="13800000001", value_tier="gold", **yes,
                       addresses=[{"province": "广东", "city": "深圳", "street": "深南大道 1 号", "postcode": "518000"}]),
        "li": person("李强", email="li@example.cn", phone="13800000002", value_tier="silver", **yes),
        "no_consent": person("赵无", email="zhao@example.cn", phone="13800000003"),
        "do_not_contact": person("钱止", email="qian@example.cn", phone="13800000004", do_not_contact=True, **yes),
        "erased": person("孙删", email="sun@example.cn", phone="13800000005", **yes),
        "no_email": person("周空", phone="13800000006", **yes),
    }


@pytest.fixture
def erased(audience):
    contact = audience["erased"]
    contact.is_erased = True
    contact.save(update_fields=["is_erased"])
    return contact


@pytest.fixture
def everyone(admin_user, audience, erased):
    return services.segment_create(actor=admin_user, data={"name": "Everyone", "rules": ALL})


@pytest.fixture
def email_template(admin_user):
    return services.message_template_create(actor=admin_user, data={
        "name": "Offer", "channel": "email", "subject_zh": "{{ contact.full_name }}，您好",
        "body_zh": "<p>{{ contact.full_name }}，<a href=\"https://example.com/5g\">5G 优惠</a></p>",
        "subject_en": "Hello {{ contact.full_name }}", "body_en": "<p>Hi</p>"})


def make_campaign(admin_user, **data):
    return services.campaign_create(actor=admin_user, data={"name": "Spring 5G", **data})


# ======================================================================================
# Create, change, delete
# ======================================================================================
def test_create_a_campaign_with_budget_costs_segment_template_schedule_and_owner(api_client, admin_user, everyone,
                                                                                  email_template):
    start = timezone.now() + datetime.timedelta(days=3)
    response = post(api_client, "/api/v1/marketing/campaigns", {
        "name": "Spring 5G", "channel": "email", "segment_id": everyone.pk, "template_id": email_template.pk,
        "budget": "50000", "planned_cost": "30000", "expected_revenue": "200000", "currency": "cny",
        "scheduled_at": start.isoformat(), "ends_at": (start + datetime.timedelta(days=30)).isoformat()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["currency"], body["owner"]["id"]) == ("draft", "CNY", admin_user.pk)
    campaign = Campaign.objects.get(pk=body["id"])
    assert (campaign.segment_id, campaign.template_id, campaign.budget) == (everyone.pk, email_template.pk,
                                                                           Decimal("50000"))
    assert AuditLog.objects.filter(object_type="campaign", object_id=str(campaign.pk), action="create").exists()
    # costs are booked on top
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/costs", {"amount": "1200.50",
                                                                                    "note": "design"})
    assert response.json()["actual_cost"] == "1200.50"


def test_a_template_of_the_wrong_channel_is_refused(api_client, admin_user, everyone):
    sms = services.message_template_create(actor=admin_user, data={"name": "Text", "channel": "sms",
                                                                   "body_zh": "您好"})
    response = post(api_client, "/api/v1/marketing/campaigns", {"name": "X", "channel": "email",
                                                               "template_id": sms.pk})
    assert response.status_code == 422 and "template_id" in response.json()["errors"]
    response = post(api_client, "/api/v1/marketing/campaigns", {"name": "X", "channel": "email",
                                                               "segment_id": 99999, "currency": "RM"})
    assert set(response.json()["errors"]) == {"segment_id", "currency"}
    assert not Campaign.objects.exists()


def test_segment_and_template_are_fixed_after_launch(api_client, admin_user, everyone, email_template, smtp_sink):
    other = services.segment_create(actor=admin_user, data={"name": "Other", "rules": ALL})
    campaign = make_campaign(admin_user, segment_id=everyone.pk, template_id=email_template.pk)
    services.campaign_launch(actor=admin_user, campaign_id=campaign.pk)
    response = api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}", {"segment_id": other.pk},
                                content_type="application/json")
    assert response.status_code == 422 and "segment_id" in response.json()["errors"]
    campaign.refresh_from_db()
    assert campaign.segment_id == everyone.pk
    # a launched campaign that sent mail is history: not deleted
    assert api_client.delete(f"/api/v1/marketing/campaigns/{campaign.pk}").status_code == 409


# ======================================================================================
# Launch validation: problems named before anything is sent
# ======================================================================================
def test_a_launched_campaign_says_so_in_chinese(client, admin_user, everyone, email_template):
    campaign = make_campaign(admin_user, channel="email", segment_id=everyone.pk, template_id=email_template.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING, launched_at=timezone.now())
    client.force_login(admin_user)
    page = client.get(f"/marketing/campaigns/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<dt>已启动</dt>" in page  # the campaign's launch, not a product's launch date (上市日期)


def test_launch_names_every_missing_piece(api_client, admin_user):
    campaign = make_campaign(admin_user, channel="email")
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"segment_id", "template_id"}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.recipients.exists()


def test_a_template_with_an_unknown_field_fails_at_launch_not_mid_send(api_client, admin_user, everyone, smtp_sink):
    core_services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "vip_code",
                                                              "label": "VIP code"})
    template = services.message_template_create(actor=admin_user, data={
        "name": "VIP", "channel": "email", "subject_zh": "好", "body_zh":
        "{% if contact.value_tier == 'platinum' %}{{ contact.custom.vip_code }}{% endif %}"})
    campaign = make_campaign(admin_user, segment_id=everyone.pk, template_id=template.pk)
    core_services.custom_field_delete(actor=admin_user, field_id=CustomField.objects.get(key="vip_code").pk)
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    assert response.status_code == 422
    [message] = response.json()["errors"]["template_id"]
    assert message == "VIP (body_zh): line 1: unknown field “contact.custom.vip_code”"
    assert not CampaignRecipient.objects.exists() and smtp_sink.count == 0
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_a_segment_rule_on_a_removed_field_fails_at_launch_naming_it(api_client, admin_user, audience,
                                                                     email_template):
    core_services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "region",
                                                              "label": "Region"})
    segment = services.segment_create(actor=admin_user, data={"name": "South", "rules": {
        "type": "group", "match": "all", "rules": [{"type": "custom_field", "key": "region", "operator": "is_set"}]}})
    campaign = make_campaign(admin_user, segment_id=segment.pk, template_id=email_template.pk)
    core_services.custom_field_delete(actor=admin_user, field_id=CustomField.objects.get(key="region").pk)
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    assert response.status_code == 422
    assert "“region” no longer exists" in response.json()["errors"]["segment_id"][0]
    assert "South" in response.json()["errors"]["segment_id"][0]


def test_launch_freezes_only_reachable_people(api_client, admin_user, audience, everyone, email_template,
                                              smtp_sink):
    EmailSuppression.objects.create(email="li@example.cn", reason="hard_bounce")
    campaign = make_campaign(admin_user, segment_id=everyone.pk, template_id=email_template.pk)
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    assert response.status_code == 200, response.content
    body = response.json()
    # Wang only: Li is suppressed, the rest lack consent, are do-not-contact, erased or have no email
    assert (body["audience_count"], body["excluded_count"]) == (1, 5)
    assert list(CampaignRecipient.objects.values_list("contact__full_name", "address")) == [
        ("王芳", "wang@example.cn")]
    assert smtp_sink.recipients() == ["wang@example.cn"]
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED


def test_a_scheduled_campaign_waits_for_its_time(api_client, admin_user, everyone, email_template, smtp_sink):
    later = timezone.now() + datetime.timedelta(hours=2)
    campaign = make_campaign(admin_user, segment_id=everyone.pk, template_id=email_template.pk, scheduled_at=later)
    body = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch").json()
    assert body["status"] == "scheduled"
    job = Job.objects.get(pk=body["send_job_id"])
    assert job.state == JobState.QUEUED and abs((job.run_at - later).total_seconds()) < 1
    assert smtp_sink.count == 0 and CampaignRecipient.objects.filter(state="pending").count() == 2
    # cancelling before the time: nobody is ever mailed
    post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/cancel")
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {RecipientState.SKIPPED}


# ======================================================================================
# Other channels
# ======================================================================================
def test_phone_campaign_produces_a_call_list_best_customers_first(api_client, admin_user, audience, everyone):
    campaign = make_campaign(admin_user, channel="phone", segment_id=everyone.pk)
    body = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch").json()
    assert body["status"] == "running" and body["audience_count"] == 3  # phone consent: Wang, Li, Zhou
    entries = api_client.get(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list").json()["items"]
    assert [(entry["contact"]["full_name"], entry["phone"], entry["priority"]) for entry in entries] == [
        ("王芳", "+8613800000001", 2), ("李强", "+8613800000002", 3), ("周空", "+8613800000006", 5)]
    # the contact center reports the call: a response on the campaign and the timeline
    response = api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list/{entries[0]['id']}",
                                {"status": "done", "disposition": "interested"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["attempts"] == 1
    called = CampaignResponse.objects.get(campaign=campaign, kind="called")
    assert called.contact_id == audience["wang"].pk and called.interaction.channel == "phone"
    # bad reports are refused by field and change nothing
    second = entries[1]["id"]
    for body, field_name in (({"status": "maybe"}, "status"), ({"status": "callback"}, "callback_at")):
        response = api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list/{second}", body,
                                    content_type="application/json")
        assert response.status_code == 422 and field_name in response.json()["errors"], response.content
    assert CallListEntry.objects.filter(pk=second).values_list("status", "attempts").get() == ("pending", 0)
    assert api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list/987654", {"status": "done"},
                            content_type="application/json").status_code == 404
    # a call back is kept with its time; the contact center reads what is still to call
    callback_at = (timezone.now() + datetime.timedelta(days=1)).replace(microsecond=0)
    response = api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list/{second}",
                                {"status": "callback", "callback_at": callback_at.isoformat()},
                                content_type="application/json")
    assert response.status_code == 200, response.content
    assert CallListEntry.objects.get(pk=second).callback_at == callback_at
    pending = api_client.get(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list", {"status": "pending"}).json()
    assert [entry["contact"]["full_name"] for entry in pending["items"]] == ["周空"]
    assert CampaignResponse.objects.filter(campaign=campaign).count() == 1


def test_the_call_list_drops_people_no_longer_reachable_and_downloads_as_csv(client, api_client, admin_user,
                                                                             make_user, audience, everyone):
    campaign = make_campaign(admin_user, channel="phone", segment_id=everyone.pk)
    post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    wang_entry = CallListEntry.objects.get(campaign=campaign, contact=audience["wang"])
    services.call_list_entry_update(actor=admin_user, campaign_id=campaign.pk, entry_id=wang_entry.pk, status="done",
                                    disposition="interested")
    # after launch Wang is erased (his done call stays as history) and Li asks not to be called again
    core_services.contact_update(actor=admin_user, contact_id=audience["li"].pk, data={"do_not_contact": True})
    Contact.objects.filter(pk=audience["wang"].pk).update(is_erased=True)
    entries = api_client.get(f"/api/v1/marketing/campaigns/{campaign.pk}/call-list").json()["items"]
    assert [(entry["contact"]["full_name"], entry["status"]) for entry in entries] == [
        ("王芳", "done"), ("周空", "pending")]
    client.force_login(admin_user)
    page = client.get(f"/marketing/campaigns/{campaign.pk}/").content.decode()
    assert f"/marketing/campaigns/{campaign.pk}/call-list.csv" in page
    response = client.get(f"/marketing/campaigns/{campaign.pk}/call-list.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Priority", "Contact ID", "Name", "Phone"]
    assert [(row[2], row[3], row[6]) for row in rows[1:]] == [("王芳", "+8613800000001", "done"),
                                                              ("周空", "+8613800000006", "pending")]
    # the stored list itself is unchanged: the filter is applied when it is read
    assert CallListEntry.objects.filter(campaign=campaign).count() == 3
    # only phone campaigns have one, and only for those who may see the campaign
    email = make_campaign(admin_user, name="Mail")
    assert client.get(f"/marketing/campaigns/{email.pk}/call-list.csv").status_code == 404
    client.force_login(make_user("agent", Role.SERVICE_AGENT))
    assert client.get(f"/marketing/campaigns/{campaign.pk}/call-list.csv").status_code == 403


def test_sms_campaign_through_the_simulator_with_retries_and_failures(api_client, admin_user, audience, everyone):
    SimulatorGateway.reset()
    SimulatorGateway.fail("+8613800000002", SmsTemporaryError("gateway busy"))
    SimulatorGateway.fail("+8613800000006", SmsPermanentError("number blocked"))
    template = services.message_template_create(actor=admin_user, data={
        "name": "Text", "channel": "sms", "body_zh": "{{ contact.full_name }}：5G 套餐八折。退订回 T"})
    campaign = make_campaign(admin_user, channel="sms", segment_id=everyone.pk, template_id=template.pk)
    post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/launch")
    assert [(text.to, text.body) for text in SimulatorGateway.outbox] == [
        ("+8613800000001", "王芳：5G 套餐八折。退订回 T")]
    states = dict(CampaignRecipient.objects.values_list("address", "state"))
    assert states == {"+8613800000001": "sent", "+8613800000002": "retry", "+8613800000006": "failed"}
    failed = CampaignRecipient.objects.get(address="+8613800000006")
    assert failed.last_error == "number blocked"
    # the retry round, when due, delivers the text held back
    CampaignRecipient.objects.filter(state="retry").update(next_attempt_at=timezone.now())
    from guanxi.marketing.sending import campaign_send

    campaign_send(campaign.pk)
    assert [text.to for text in SimulatorGateway.outbox] == ["+8613800000001", "+8613800000002"]
    SimulatorGateway.reset()


class _FakeTwilio(BaseHTTPRequestHandler):
    """Twilio's Messages endpoint as the twilio client calls it, on loopback."""

    requests: list = []
    answers: list = []

    def do_POST(self):
        from urllib.parse import parse_qs

        length = int(self.headers["Content-Length"])
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        type(self).requests.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
        status, body = type(self).answers.pop(0) if type(self).answers else (201, {
            "sid": "SM" + "0" * 32, "status": "queued", "to": form.get("To"), "from": form.get("From"),
            "body": form.get("Body"), "account_sid": "AC123"})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_twilio_gateway_posts_to_the_messages_api_and_classifies_errors():
    server = HTTPServer(("127.0.0.1", 0), _FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeTwilio.requests.clear()
    try:
        gateway = TwilioGateway(account_sid="AC123", auth_token="secret", from_number="+15005550006",
                                api_base=f"http://127.0.0.1:{server.server_port}")
        assert gateway.send(to="+8613800000001", body="您好") == "SM" + "0" * 32
        [sent] = _FakeTwilio.requests
        assert sent["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
        assert sent["form"] == {"To": "+8613800000001", "From": "+15005550006", "Body": "您好"}
        assert sent["auth"].startswith("Basic ")
        _FakeTwilio.answers.extend([(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
                                    (503, {"code": 20503, "message": "Service unavailable", "status": 503})])
        with pytest.raises(SmsPermanentError, match="21211"):
            gateway.send(to="+86123", body="x")
        with pytest.raises(SmsTemporaryError, match="503"):
            gateway.send(to="+8613800000001", body="x")
    finally:
        server.shutdown()


def test_direct_mail_and_web_campaigns(api_client, admin_user, audience, everyone):
    letter = services.message_template_create(actor=admin_user, data={
        "name": "Letter", "channel": "letter", "subject_zh": "邀请函", "body_zh": "{{ contact.greeting_name }}：您好"})
    mail = make_campaign(admin_user, channel="direct_mail", segment_id=everyone.pk, template_id=letter.pk)
    body = post(api_client, f"/api/v1/marketing/campaigns/{mail.pk}/launch").json()
    assert body["audience_count"] == 1  # mail consent and an address: Wang only
    web = make_campaign(admin_user, channel="web")
    response = post(api_client, f"/api/v1/marketing/campaigns/{web.pk}/launch")
    assert response.json()["errors"] == {"landing_url": ["A web campaign needs the page it leads to."]}
    services.campaign_update(actor=admin_user, campaign_id=web.pk, data={"landing_url": "https://example.com/5g"})
    assert post(api_client, f"/api/v1/marketing/campaigns/{web.pk}/launch").json()["status"] == "running"


# ======================================================================================
# Responses and ROI
# ======================================================================================
def test_a_response_is_recorded_once_and_lands_on_the_timeline(api_client, admin_user, audience):
    campaign = make_campaign(admin_user, channel="phone")
    for _attempt in range(2):
        response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/responses", {
            "contact_id": audience["wang"].pk, "kind": "replied", "detail": "Wants a quote"})
        assert response.status_code == 201, response.content
    [stored] = CampaignResponse.objects.filter(campaign=campaign)
    interaction = Interaction.objects.get(source_type="campaign_response", source_id=str(stored.pk))
    assert (interaction.contact_id, interaction.direction, interaction.channel) == (audience["wang"].pk, "in",
                                                                                   "phone")
    assert interaction.subject == "Replied: Spring 5G" and interaction.notes == "Wants a quote"
    response = post(api_client, f"/api/v1/marketing/campaigns/{campaign.pk}/responses",
                    {"contact_id": audience["wang"].pk, "kind": "fainted"})
    assert response.status_code == 422


def test_roi_counts_cost_responses_leads_and_won_revenue_in_sql(api_client, admin_user, audience):
    from guanxi.sales.models import Lead, Opportunity, Pipeline, Stage

    campaign = make_campaign(admin_user, channel="event", budget="20000", planned_cost="15000")
    other = make_campaign(admin_user, name="Other", channel="web")
    services.campaign_add_cost(actor=admin_user, campaign_id=campaign.pk, amount=Decimal("10000"))
    for person, kind in ((audience["wang"], "registered"), (audience["wang"], "attended"), (audience["li"],
                                                                                              "registered")):
        services.campaign_response_record(campaign_id=campaign.pk, contact_id=person.pk, kind=kind)
    Lead.objects.create(full_name="新客户", email="new@example.cn", campaign_id=campaign.pk)
    Lead.objects.create(full_name="另一个", email="another@example.cn", campaign_id=other.pk)
    pipeline = Pipeline.objects.first() or Pipeline.objects.create(name="Default")
    stage = Stage.objects.filter(pipeline=pipeline).first() or Stage.objects.create(pipeline=pipeline, name="New")
    today = timezone.localdate()
    for amount, won in (("30000", True), ("12000", True), ("99999", False)):
        Opportunity.objects.create(name="Deal", pipeline=pipeline, stage=stage, amount=Decimal(amount),
                                   amount_base=Decimal(amount), close_date=today, is_closed=won, is_won=won,
                                   campaign_id=campaign.pk)
    body = api_client.get(f"/api/v1/marketing/campaigns/{campaign.pk}/roi").json()
    assert (body["cost"], body["cost_is_planned"]) == ("10000.00", False)
    assert (body["responders"], body["registered"], body["leads"], body["opportunities"], body["won"]) == (
        2, 2, 1, 3, 2)
    assert body["won_revenue"] == "42000.00"
    assert body["roi"] == 3.2  # (42000 − 10000) / 10000
    assert body["cost_per_lead"] == "10000.00"
    report = api_client.get("/api/v1/marketing/campaigns/roi").json()
    assert {row["name"]: row["leads"] for row in report} == {"Spring 5G": 1, "Other": 1}
    assert {row["name"]: row["roi"] for row in report}["Other"] is None  # no cost, no ROI


def test_the_roi_report_is_one_query_for_any_number_of_campaigns(admin_user, django_assert_num_queries):
    for index in range(5):
        make_campaign(admin_user, name=f"C{index}", planned_cost="100")
    with django_assert_num_queries(1):
        rows = reports.roi_report(Campaign.objects.all())
    assert len(rows) == 5


# ======================================================================================
# Web pages
# ======================================================================================
def test_campaign_pages_create_launch_and_show_results(client, admin_user, everyone, email_template, smtp_sink):
    client.force_login(admin_user)
    response = client.post("/marketing/campaigns/new/", {
        "name": "Web-made", "channel": "email", "segment_id": everyone.pk, "template_id": email_template.pk,
        "currency": "CNY", "budget": "1000", "planned_cost": "800", "actual_cost": "0", "expected_revenue": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Web-made")
    response = client.post(f"/marketing/campaigns/{campaign.pk}/launch/")
    assert response.status_code == 302
    page = client.get(f"/marketing/campaigns/{campaign.pk}/").content.decode()
    assert "Completed" in page and 'id="roi-figures"' in page
    assert client.get("/marketing/campaigns/roi/").status_code == 200
    assert client.get("/marketing/campaigns/").status_code == 200


def test_campaign_page_actions_refuse_bad_input_with_4xx_and_store_nothing(client, admin_user, everyone,
                                                                            email_template, smtp_sink):
    client.force_login(admin_user)
    campaign = make_campaign(admin_user)
    # launching a campaign without audience or message names both and stays a draft
    response = client.post(f"/marketing/campaigns/{campaign.pk}/launch/")
    assert response.status_code == 400 and Campaign.objects.get(pk=campaign.pk).status == "draft"
    # costs: a negative amount is refused on the form, a good one raises the actual cost
    response = client.post(f"/marketing/campaigns/{campaign.pk}/cost/", {"amount": "-5", "note": "oops"})
    assert response.status_code == 400 and 'id="id_amount_error"' in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).actual_cost == Decimal("0")
    response = client.post(f"/marketing/campaigns/{campaign.pk}/cost/", {"amount": "250.50", "note": "printing"})
    assert response.status_code == 302 and Campaign.objects.get(pk=campaign.pk).actual_cost == Decimal("250.50")
    # the A/B test form: B must differ from A; a good one is stored
    services.campaign_update(actor=admin_user, campaign_id=campaign.pk, data={
        "segment_id": everyone.pk, "template_id": email_template.pk})
    form = {"metric": "open", "sample_percent": "30", "subject_b": "", "template_b_id": "", "decide_after_hours": "4"}
    response = client.post(f"/marketing/campaigns/{campaign.pk}/ab-test/", form)
    assert response.status_code == 400 and not AbTest.objects.filter(campaign=campaign).exists()
    response = client.post(f"/marketing/campaigns/{campaign.pk}/ab-test/", {**form, "subject_b": "B 版本"})
    assert response.status_code == 302
    assert AbTest.objects.filter(campaign=campaign).values_list("subject_b", "sample_percent").get() == ("B 版本", 30)
    # cancelled, it can no longer be launched: 409 on the page, still cancelled
    assert client.post(f"/marketing/campaigns/{campaign.pk}/cancel/").status_code == 302
    response = client.post(f"/marketing/campaigns/{campaign.pk}/launch/")
    assert response.status_code == 409 and Campaign.objects.get(pk=campaign.pk).status == "cancelled"
    assert smtp_sink.count == 0
    assert client.post(f"/marketing/campaigns/{campaign.pk}/explode/").status_code == 404


def test_roles_without_campaign_rights(client_for, make_user, admin_user):
    campaign = make_campaign(admin_user)
    rep = make_user("rep", Role.SALES_REP)
    agent = make_user("agent", Role.SERVICE_AGENT)
    assert client_for(rep).get(f"/api/v1/marketing/campaigns/{campaign.pk}").status_code == 200  # view only
    assert post(client_for(rep), f"/api/v1/marketing/campaigns/{campaign.pk}/launch").status_code == 403
    assert client_for(agent).get(f"/api/v1/marketing/campaigns/{campaign.pk}").status_code == 403
    assert MessageTemplate.objects.count() == 0 and CallListEntry.objects.count() == 0
