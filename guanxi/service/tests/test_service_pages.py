"""The service web pages: case queue with filters, new case (with knowledge suggestions),
case detail with thread, reply form and agent actions, knowledge base, complaints,
contracts, the field-visit calendar, dashboard and reports, the 360° and home panels."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from guanxi.core.models import Role
from guanxi.service import services
from guanxi.service.models import Case, CaseAttachment, CaseMessage, Complaint, KnowledgeArticleVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def test_case_queue_lists_filters_and_shows_sla_time_left(browser, open_case, agent, clock):
    mine = open_case(subject="路由器坏了", assignee_id=agent.pk)
    other = open_case(subject="Invoice wrong", category="billing")
    page = browser.get("/service/")
    assert page.status_code == 200
    html = page.content.decode()
    assert mine.number in html and other.number in html and "8 h 0 min left" in html
    assert 'href="/service/contact-us/"' in html   # the public web form, to link from the website
    filtered = browser.get("/service/", {"assigned": "mine"}).content.decode()
    assert mine.number in filtered and other.number not in filtered
    assert other.number in browser.get("/service/", {"q": "invoice"}).content.decode()
    assert browser.get("/service/", {"status": "bogus"}).status_code == 400


def test_new_case_form_opens_a_case_with_an_attachment(browser, customer, standard_policy):
    page = browser.get(f"/service/cases/new/?contact={customer.pk}")
    assert page.status_code == 200 and f"#{customer.pk}" in page.content.decode()
    response = browser.post("/service/cases/new/", {
        "contact": f"王芳 · #{customer.pk}", "subject": "手机屏幕碎了", "description": "摔了一下",
        "category": "product", "priority": "normal", "origin": "visit",
        "attachments": SimpleUploadedFile("photo.jpg", b"JPEG", content_type="image/jpeg")})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/service/cases/{case.pk}/"
    assert case.origin == "visit" and CaseAttachment.objects.get().name == "photo.jpg"


def test_new_case_form_shows_errors_and_saves_nothing(browser):
    response = browser.post("/service/cases/new/", {"contact": "Nobody Known", "subject": "",
                                                    "category": "other", "priority": "normal", "origin": "phone"})
    assert response.status_code == 400
    assert "Pick the contact from the suggestions." in response.content.decode()
    assert not Case.objects.exists()


def test_suggestions_while_typing_a_new_case(browser, admin_user):
    services.article_create(actor=admin_user, data={"status": "published", "translations": [
        {"language": "zh-hans", "title": "宽带无法连接", "solution": "重启光猫"}]})
    fragment = browser.get("/service/cases/new/suggestions/", {"subject": "宽带连不上", "description": ""})
    assert fragment.status_code == 200 and "宽带无法连接" in fragment.content.decode()


def test_contact_suggestions(browser, customer):
    options = browser.get("/service/contacts/suggestions/", {"contact": "王芳"}).content.decode()
    assert f"王芳 · #{customer.pk}" in options


def test_case_detail_reply_status_and_assignment(browser, open_case, agent, make_user, admin_user):
    case = open_case()
    page = browser.get(f"/service/cases/{case.pk}/")
    assert page.status_code == 200 and "Since this morning" in page.content.decode()
    replied = browser.post(f"/service/cases/{case.pk}/reply/", {
        "body": "请重启光猫", "kind": "reply", "new_status": "pending_customer",
        "attachments": SimpleUploadedFile("guide.pdf", b"%PDF", content_type="application/pdf")})
    assert replied.status_code == 302
    case.refresh_from_db()
    assert case.status == "pending_customer" and CaseMessage.objects.filter(case=case, kind="reply").count() == 1
    colleague = make_user("agent-wang", Role.SERVICE_AGENT)
    services.agent_save(actor=admin_user, user_id=colleague.pk, data={})
    assigned = browser.post(f"/service/cases/{case.pk}/assign/", {"target": f"user:{colleague.pk}", "note": "VIP"})
    assert assigned.status_code == 302
    case.refresh_from_db()
    assert case.assignee_id == colleague.pk
    resolved = browser.post(f"/service/cases/{case.pk}/status/", {"status": "resolved", "note": "Restarted",
                                                                 "version": case.version})
    assert resolved.status_code == 302
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution_note == "Restarted"


def test_refused_actions_re_render_with_the_reason(browser, open_case):
    case = open_case()
    empty = browser.post(f"/service/cases/{case.pk}/reply/", {"body": "", "kind": "reply"})
    assert empty.status_code == 400 and "Write a message or attach a file." in empty.content.decode()
    stale = browser.post(f"/service/cases/{case.pk}/status/", {"status": "open", "version": 99})
    assert stale.status_code == 400 and "changed by someone else" in stale.content.decode()
    case.refresh_from_db()
    assert case.status == "new" and not CaseMessage.objects.filter(case=case, kind="reply").exists()


def test_triage_form_links_an_unknown_sender(browser, customer, standard_policy):
    case = services.case_open(actor=None, data={"subject": "Help", "requester_email": "x@unknown.cn",
                                                "description": "Please call me"})
    page = browser.get(f"/service/cases/{case.pk}/").content.decode()
    assert "Unknown sender" in page
    linked = browser.post(f"/service/cases/{case.pk}/customer/", {"contact": f"王芳 · #{customer.pk}"})
    assert linked.status_code == 302
    case.refresh_from_db()
    assert case.contact_id == customer.pk and not case.needs_triage


def test_knowledge_pages_search_write_and_restore(browser, admin_user, make_user):
    editor = make_user("kb-editor", Role.SUPERVISOR)
    client = Client()
    client.force_login(editor)
    created = client.post("/service/knowledge/new/", {"language": "en", "title": "Slow Wi-Fi",
                                                     "solution": "Change the channel", "category": "technical",
                                                     "status": "published"})
    assert created.status_code == 302
    article_id = int(created["Location"].rstrip("/").split("/")[-1])
    edited = client.post(f"/service/knowledge/{article_id}/edit/", {
        "language": "en", "title": "Slow Wi-Fi", "solution": "Use the 5 GHz band", "category": "technical",
        "status": "published", "change_note": "5 GHz first"})
    assert edited.status_code == 302
    first = KnowledgeArticleVersion.objects.get(article_id=article_id, number=1)
    restored = client.post(f"/service/knowledge/{article_id}/versions/{first.pk}/restore/")
    assert restored.status_code == 302
    assert KnowledgeArticleVersion.objects.get(article_id=article_id, is_current=True).solution == \
        "Change the channel"
    listing = browser.get("/service/knowledge/", {"q": "wi-fi"}).content.decode()
    assert "Slow Wi-Fi" in listing
    detail = browser.get(f"/service/knowledge/{article_id}/").content.decode()
    assert "5 GHz first" in detail


def test_complaint_pages(browser, open_case, agent):
    case = open_case()
    created = browser.post(f"/service/cases/{case.pk}/complaint/", {"subject": "Rude", "description": "Shouted",
                                                                    "severity": "low"})
    complaint = Complaint.objects.get()
    assert created.status_code == 302 and complaint.owner_id == agent.pk
    stepped = browser.post(f"/service/complaints/{complaint.pk}/", {"status": "investigating",
                                                                    "version": complaint.version})
    assert stepped.status_code == 302
    refused = browser.post(f"/service/complaints/{complaint.pk}/", {"status": "action", "version": 2})
    assert refused.status_code == 400 and "Write this down before moving on." in refused.content.decode()
    assert complaint.number in browser.get("/service/complaints/").content.decode()


def test_field_visit_booking_and_calendar(browser, open_case, admin_user, make_user, office_hours, clock):
    technician = make_user("tech-ma", Role.SERVICE_AGENT)
    services.agent_save(actor=admin_user, user_id=technician.pk, data={"is_technician": True,
                                                                       "calendar_id": office_hours.pk})
    case = open_case()
    booked = browser.post(f"/service/cases/{case.pk}/visit/", {
        "technician": technician.pk, "starts_at": "2026-03-03T09:00", "ends_at": "2026-03-03T10:30",
        "address": "上海市静安区南京西路1号"})
    assert booked.status_code == 302
    calendar = browser.get("/service/visits/", {"week": "2026-03-02"}).content.decode()
    assert case.number in calendar and "10:30–12:00" in calendar  # free until lunch
    evening = browser.post(f"/service/cases/{case.pk}/visit/", {
        "technician": technician.pk, "starts_at": "2026-03-03T20:00", "ends_at": "2026-03-03T21:00",
        "address": "x"})
    assert evening.status_code == 400


def test_dashboard_and_reports_render(browser, open_case, agent, clock):
    case = open_case(assignee_id=agent.pk)
    services.case_reply(actor=agent, case_id=case.pk, body="Done", new_status="resolved")
    dashboard = browser.get("/service/dashboard/")
    assert dashboard.status_code == 200 and "chart.umd.min.js" in dashboard.content.decode()
    assert 'id="dashboard-data"' in dashboard.content.decode()
    by_agent = browser.get("/service/reports/sla/", {"group_by": "agent"})
    assert by_agent.status_code == 200 and '<th scope="row">agent-li</th><td>1</td>' in by_agent.content.decode()
    by_priority = browser.get("/service/reports/sla/", {"group_by": "priority"}).content.decode()
    assert '<th scope="col">Priority</th>' in by_priority and '<th scope="row">Normal</th>' in by_priority
    download = browser.get("/service/reports/sla/", {"group_by": "priority", "format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    lines = download.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Priority,Resolved,") and lines[1].startswith("Normal,1,1,100")
    assert browser.get("/service/reports/sla/", {"group_by": "weather"}).status_code == 400
    assert browser.get("/service/reports/satisfaction/", {"group_by": "channel"}).status_code == 200
    assert browser.get("/service/contracts/").status_code == 200


def test_panels_on_the_360_page_and_home(browser, open_case, customer, agent, admin_user):
    case = open_case(assignee_id=agent.pk)
    page = browser.get(f"/contacts/{customer.pk}/360/").content.decode()
    assert case.number in page and "No satisfaction surveys answered yet." in page
    home = browser.get("/").content.decode()
    assert case.number in home


def test_roles_without_service_rights_are_refused(make_user, open_case):
    marketer = make_user("marketer", Role.MARKETER)
    client = Client()
    client.force_login(marketer)
    case = open_case()
    assert client.get("/service/").status_code == 403
    assert client.get(f"/service/cases/{case.pk}/").status_code == 403
    assert client.get("/service/dashboard/").status_code == 403
    assert client.get("/service/knowledge/").status_code == 200  # everyone may read the knowledge base


def test_pages_render_in_chinese(browser, open_case):
    case = open_case()
    browser.cookies["django_language"] = "zh-hans"
    page = browser.get(f"/service/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and 'lang="zh-hans"' in page.content.decode()


def test_dates_in_the_calendar_week_parameter_are_forgiving(browser):
    assert browser.get("/service/visits/", {"week": "not-a-date"}).status_code == 200
    assert dt.date.today()  # the page falls back to this week


def test_the_public_web_form_opens_a_case_for_a_known_or_unknown_customer(customer, standard_policy):
    visitor = Client()
    assert visitor.get("/service/contact-us/").status_code == 200
    known = visitor.post("/service/contact-us/", {
        "name": "王芳", "email": "Wang.Fang@Example.cn", "subject": "网速慢", "category": "network",
        "description": "晚上网速很慢。"})
    case = Case.objects.get()
    assert known.status_code == 200 and case.number in known.content.decode()
    assert (case.origin, case.contact_id, case.needs_triage) == ("web", customer.pk, False)
    # a stranger quoting someone's order number gets a case, but not a link to that order
    from guanxi.sales.models import Order

    Order.objects.create(number="SO-2026-000017", account_id=customer.account_id, currency="CNY")
    visitor.post("/service/contact-us/", {"name": "Visitor", "email": "visitor@elsewhere.com",
                                          "order_ref": "SO-2026-000017", "subject": "Question", "category": "other",
                                          "description": "Hello"})
    stranger = Case.objects.get(requester_email="visitor@elsewhere.com")
    assert stranger.needs_triage and (stranger.order_ref, stranger.order_id) == ("SO-2026-000017", None)


def test_the_web_form_refuses_bad_input_robots_and_floods(customer, settings):
    visitor = Client()
    bad = visitor.post("/service/contact-us/", {"name": "", "email": "nope", "subject": "", "category": "other",
                                                "description": ""})
    assert bad.status_code == 400 and not Case.objects.exists()
    robot = visitor.post("/service/contact-us/", {"name": "Bot", "email": "bot@spam.example", "subject": "Buy",
                                                  "category": "other", "description": "Cheap", "website": "x"})
    assert robot.status_code == 200 and not Case.objects.exists()
    answers = [visitor.post("/service/contact-us/", {"name": "A", "email": "a@b.cn", "subject": f"S{index}",
                                                     "category": "other", "description": "D"}).status_code
               for index in range(6)]
    assert answers.count(429) >= 1 and Case.objects.count() <= 5
