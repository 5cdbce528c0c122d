"""The case API: open, list and filter, read, change, status, assignment, triage, thread
with attachments, history, email-in over HTTP, notifications, configuration — each with
its failure answers and the stored state checked."""

import base64

import pytest
from django.test import Client

from guanxi.core.models import Role
from guanxi.service import services
from guanxi.service.models import Case, CaseAttachment, CaseMessage, InboundEmail, ServiceNotification, SlaPolicy

pytestmark = pytest.mark.django_db
API = "/api/v1/service"


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_open_a_case_with_an_attachment(api_client, customer, standard_policy):
    response = post(api_client, f"{API}/cases", {
        "subject": "Screen cracked", "description": "Dropped the phone", "contact_id": customer.pk,
        "category": "product", "priority": "high", "product": "Phone X", "order_ref": "SO-2026-17",
        "attachments": [{"name": "photo.jpg", "content_type": "image/jpeg", "content_base64": b64(b"JPEG")}]})
    assert response.status_code == 201
    body = response.json()
    assert body["number"].startswith("CS-") and body["status"] == "new" and body["sla_state"] == "ok"
    assert body["contact"]["id"] == customer.pk and body["account"]["id"] == customer.account_id
    case = Case.objects.get(pk=body["id"])
    assert (case.priority, case.product, case.order_ref) == ("high", "Phone X", "SO-2026-17")
    attachment = CaseAttachment.objects.get(message__case=case)
    download = api_client.get(f"{API}/attachments/{attachment.pk}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"JPEG"


def test_order_and_contract_numbers_of_the_customer_become_links(api_client, admin_user, customer, standard_policy):
    from guanxi.core import services as core_services
    from guanxi.sales.models import Contract, Order

    # given an order and a contract of the customer's account, and an order of another customer
    order = Order.objects.create(number="SO-2026-000017", account_id=customer.account_id, currency="CNY")
    contract = Contract.objects.create(number="CT-2026-000003", title="Fibre 2 years", account_id=customer.account_id,
                                       start_date="2026-01-01", end_date="2027-12-31")
    stranger = core_services.account_create(actor=admin_user, data={"name": "别家公司"})
    foreign = Order.objects.create(number="SO-2026-000099", account=stranger, currency="CNY")
    # when a case names them (in lower case)
    response = post(api_client, f"{API}/cases", {"subject": "Router missing", "contact_id": customer.pk,
                                                 "order_ref": "so-2026-000017", "sales_contract_ref": "CT-2026-000003"})
    # then the case links the documents and reads their numbers as stored
    assert response.status_code == 201
    body = response.json()
    assert (body["order"], body["sales_contract"], body["order_ref"]) == (order.pk, contract.pk, "SO-2026-000017")
    case = Case.objects.get(pk=body["id"])
    assert (case.order_id, case.sales_contract_id) == (order.pk, contract.pk)
    assert list(order.service_cases.all()) == [case]
    # an outside number stays as typed; another customer's order is refused and nothing changes
    outside = patch(api_client, f"{API}/cases/{case.pk}", {"order_ref": "TMALL-88812"})
    assert outside.status_code == 200 and outside.json()["order"] is None
    refused = patch(api_client, f"{API}/cases/{case.pk}", {"order_ref": foreign.number})
    assert refused.status_code == 422 and "order_ref" in refused.json()["errors"]
    case.refresh_from_db()
    assert (case.order_ref, case.order_id) == ("TMALL-88812", None)
    refused_new = post(api_client, f"{API}/cases", {"subject": "x", "contact_id": customer.pk,
                                                    "order_ref": foreign.number})
    assert refused_new.status_code == 422 and Case.objects.count() == 1
    # the case page links the sales contract
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/service/cases/{case.pk}/").content.decode()
    assert f'href="/sales/contracts/{contract.pk}/">CT-2026-000003</a>' in page and "TMALL-88812" in page


@pytest.mark.parametrize(("body", "fields"), [
    ({"subject": "x"}, {"contact_id"}),
    ({"subject": "x", "contact_id": 999999}, {"contact_id"}),
    ({"subject": "x", "account_id": 999999}, {"account_id"}),
    ({"subject": "", "contact_id": None}, {"subject", "contact_id"}),
    ({"subject": "x", "priority": "whenever"}, {"priority"}),
    ({"subject": "x", "requester_email": "not-an-email"}, {"requester_email"}),
    ({"subject": "x", "surprise": 1}, {"surprise"}),
    ({"subject": "x", "queue_id": 999999, "requester_email": "a@b.cn"}, {"queue_id"}),
])
def test_bad_cases_are_refused_with_field_errors(api_client, body, fields):
    response = post(api_client, f"{API}/cases", body)
    assert response.status_code == 422
    assert fields <= set(response.json()["errors"]), response.json()
    assert not Case.objects.exists()


def test_attachments_over_the_limit_or_not_base64_are_refused(api_client, customer, settings):
    settings.GUANXI_SERVICE_ATTACHMENT_MAX_BYTES = 10
    too_big = post(api_client, f"{API}/cases", {"subject": "x", "contact_id": customer.pk, "attachments": [
        {"name": "big.bin", "content_base64": b64(b"x" * 11)}]})
    assert too_big.status_code == 422 and "attachments" in too_big.json()["errors"]
    garbled = post(api_client, f"{API}/cases", {"subject": "x", "contact_id": customer.pk, "attachments": [
        {"name": "bad.bin", "content_base64": "***"}]})
    assert garbled.status_code == 422 and "attachments.0.content_base64" in garbled.json()["errors"]
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


def test_list_filters_and_search(api_client, open_case, agent):
    first = open_case(subject="Router broken", assignee_id=agent.pk)
    second = open_case(subject="Bill too high", category="billing", priority="urgent")
    listing = api_client.get(f"{API}/cases", {"count": "true"}).json()
    assert listing["count"] == 2 and [item["id"] for item in listing["items"]] == [second.pk, first.pk]
    assert [item["id"] for item in api_client.get(f"{API}/cases", {"priority": "urgent"}).json()["items"]] == [
        second.pk]
    assert [item["id"] for item in api_client.get(f"{API}/cases", {"assignee_id": agent.pk}).json()["items"]] == [
        first.pk]
    assert [item["id"] for item in api_client.get(f"{API}/cases", {"q": first.number}).json()["items"]] == [first.pk]
    assert [item["id"] for item in api_client.get(f"{API}/cases", {"q": "router"}).json()["items"]] == [first.pk]
    assert [item["id"] for item in api_client.get(f"{API}/cases", {"sort": "priority"}).json()["items"]][0] == \
        second.pk
    assert api_client.get(f"{API}/cases", {"status": "nonsense"}).status_code == 422


def test_status_changes_and_refusals(api_client, open_case):
    case = open_case()
    ok = post(api_client, f"{API}/cases/{case.pk}/status", {"status": "pending_customer", "version": 1})
    assert ok.status_code == 200 and ok.json()["sla_state"] == "paused"
    stale = post(api_client, f"{API}/cases/{case.pk}/status", {"status": "open", "version": 1})
    assert stale.status_code == 409
    wrong = post(api_client, f"{API}/cases/{case.pk}/status", {"status": "closed"})
    assert wrong.status_code == 422 and "status" in wrong.json()["errors"]
    case.refresh_from_db()
    assert case.status == "pending_customer"


def test_patch_refuses_fields_with_their_own_routes(api_client, open_case):
    case = open_case()
    response = patch(api_client, f"{API}/cases/{case.pk}", {"status": "resolved"})
    assert response.status_code == 422  # unknown field for PATCH
    renamed = patch(api_client, f"{API}/cases/{case.pk}", {"subject": "新的标题", "version": 1})
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    assert Case.objects.get(pk=case.pk).subject == "新的标题"


def test_thread_reply_note_and_history(api_client, open_case, admin_user):
    case = open_case()
    note = post(api_client, f"{API}/cases/{case.pk}/messages", {"kind": "note", "body": "Customer is VIP"})
    reply = post(api_client, f"{API}/cases/{case.pk}/messages", {
        "body": "请重启光猫。", "new_status": "pending_customer",
        "attachments": [{"name": "guide.pdf", "content_type": "application/pdf", "content_base64": b64(b"%PDF")}]})
    assert (note.status_code, reply.status_code) == (201, 201)
    assert reply.json()["delivery_status"] == "sent" and reply.json()["attachments"][0]["name"] == "guide.pdf"
    thread = api_client.get(f"{API}/cases/{case.pk}/messages").json()["items"]
    assert [item["kind"] for item in thread] == ["customer", "note", "reply"]
    assert CaseMessage.objects.get(pk=note.json()["id"]).interaction_id is None  # notes stay internal
    history = [item["kind"] for item in api_client.get(f"{API}/cases/{case.pk}/history").json()["items"]]
    assert history[:1] == ["created"] and "first_response" in history and "status" in history
    empty = post(api_client, f"{API}/cases/{case.pk}/messages", {"body": "  "})
    assert empty.status_code == 422 and "body" in empty.json()["errors"]


def test_assign_and_link_customer(api_client, agent, customer, admin_user):
    triage = services.case_open(actor=None, data={"subject": "Who am I?", "requester_email": "who@x.cn"})
    linked = post(api_client, f"{API}/cases/{triage.pk}/customer", {"contact_id": customer.pk})
    assert linked.status_code == 200 and linked.json()["needs_triage"] is False
    both = post(api_client, f"{API}/cases/{triage.pk}/assign", {"assignee_id": agent.pk, "queue_id": 1})
    assert both.status_code == 422
    assigned = post(api_client, f"{API}/cases/{triage.pk}/assign", {"assignee_id": agent.pk, "note": "Yours"})
    assert assigned.status_code == 200 and assigned.json()["assignee"]["id"] == agent.pk
    assert ServiceNotification.objects.filter(recipient=agent, kind="assigned").exists()


def test_roles_see_and_change_only_their_cases(open_case, make_user, client_for, agent):
    case = open_case(assignee_id=agent.pk)
    rep = client_for(make_user("rep", Role.SALES_REP))
    assert rep.get(f"{API}/cases/{case.pk}").status_code == 404
    cc_agent = client_for(make_user("cc", Role.CONTACT_CENTER_AGENT))
    assert cc_agent.get(f"{API}/cases/{case.pk}").status_code == 200
    assert patch(cc_agent, f"{API}/cases/{case.pk}", {"subject": "mine"}).status_code == 403
    assert Case.objects.get(pk=case.pk).subject != "mine"


def test_email_in_over_http(api_client, customer):
    raw = (b"From: wang.fang@example.cn\r\nTo: support@guanxi.example\r\nSubject: HTTP mail\r\n"
           b"Message-ID: <http-1@example.cn>\r\n\r\nDelivered by a gateway\r\n")
    first = api_client.post(f"{API}/email-in", raw, content_type="message/rfc822")
    again = api_client.post(f"{API}/email-in", raw, content_type="message/rfc822")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["case_number"].startswith("CS-") and again.json()["duplicate"] is True
    assert InboundEmail.objects.count() == 1 and Case.objects.count() == 1
    empty = api_client.post(f"{API}/email-in", b"", content_type="message/rfc822")
    assert empty.status_code == 422


def test_notifications_are_listed_and_marked_read(open_case, agent, client_for):
    case = open_case(assignee_id=agent.pk)
    services.case_add_customer_message(case_id=case.pk, body="Any news?")
    client = client_for(agent)
    unread = client.get(f"{API}/notifications").json()["items"]
    assert {item["kind"] for item in unread} >= {"customer_message"}
    marked = post(client, f"{API}/notifications/read", {})
    assert marked.status_code == 200 and marked.json()["marked"] == len(unread)
    assert not ServiceNotification.objects.filter(recipient=agent, read_at__isnull=True).exists()


def test_configuration_validation(api_client, office_hours):
    bad_calendar = post(api_client, f"{API}/calendars", {"name": "Bad", "time_zone": "Mars/Base",
                                                          "weekly_hours": {"mon": "18:00-09:00", "funday": "1"}})
    assert bad_calendar.status_code == 422
    assert {"time_zone", "weekly_hours", "weekly_hours.mon"} <= set(bad_calendar.json()["errors"])
    no_calendar = post(api_client, f"{API}/sla-policies", {"name": "X", "first_response_minutes": 10,
                                                            "resolution_minutes": 60})
    assert no_calendar.status_code == 422 and "calendar_id" in no_calendar.json()["errors"]
    bad_rule = post(api_client, f"{API}/sla-policies", {"name": "X", "calendar_id": office_hours.pk,
                                                         "first_response_minutes": 10, "resolution_minutes": 60,
                                                         "escalation_rules": [{"trigger": "resolution_breach",
                                                                               "reassign_to_id": 999999}]})
    assert bad_rule.status_code == 422 and "escalation_rules.0.reassign_to_id" in bad_rule.json()["errors"]
    assert not SlaPolicy.objects.exists()
    bad_queue = post(api_client, f"{API}/queues", {"code": "q", "name": "Q", "required_skills": {"x": 0},
                                                   "categories": ["weather"]})
    assert bad_queue.status_code == 422 and {"required_skills", "categories"} <= set(bad_queue.json()["errors"])


def test_queues_and_agents_show_waiting_and_load(api_client, admin_user, agent, customer, standard_policy):
    queue = post(api_client, f"{API}/queues", {"code": "network", "name": "Network", "categories": ["network"],
                                               "required_skills": {"network": 2}}).json()
    saved = api_client.put(f"{API}/agents/{agent.pk}", {"skills": {"network": 6}, "max_open_cases": 1},
                           content_type="application/json")
    assert saved.status_code == 200
    for subject in ("One", "Two"):
        services.case_open(actor=admin_user, data={"subject": subject, "contact_id": customer.pk,
                                                   "category": "network"})
    queues = {item["code"]: item for item in api_client.get(f"{API}/queues").json()}
    assert queues["network"]["waiting"] == 1 and queues["network"]["id"] == queue["id"]
    agents = {item["user"]["id"]: item for item in api_client.get(f"{API}/agents").json()}
    assert agents[agent.pk]["open_cases"] == 1
