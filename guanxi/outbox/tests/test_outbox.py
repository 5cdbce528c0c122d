"""The outbox: with no mail server configured, email that Guanxi sends (a quote, a case
reply, campaign mail) is kept in the database instead of failing, and administrators read it
on the Outbox page; with a mail server configured it goes over SMTP and nothing is kept."""

from __future__ import annotations

import runpy

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse

import guanxi.settings as settings_module
from guanxi.core.models import Role
from guanxi.jobs.models import Job
from guanxi.marketing.tests.smtp_sink import SmtpSink
from guanxi.outbox.backend import BACKEND_PATH
from guanxi.outbox.models import OutboxMessage
from guanxi.outbox.services import outbox_messages_store
from guanxi.sales.models import Quote, QuoteStatus
from guanxi.sales.tests.conftest import catalogue, customer, deal, east, east_team, rep, rep_client  # noqa: F401
from guanxi.service.models import CaseMessage, DeliveryStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def zero_service(settings):
    """No mail server configured: what ``make demo`` runs with."""
    settings.EMAIL_BACKEND = BACKEND_PATH


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


def send_quote(rep_client, deal, catalogue, django_capture_on_commit_callbacks):  # noqa: F811
    created = post(rep_client, "/api/v1/sales/quotes",
                   {"opportunity_id": deal.pk, "lines": [{"product_id": catalogue["router"].pk}]})
    assert created.status_code == 201, created.content
    with django_capture_on_commit_callbacks(execute=True):
        sent = post(rep_client, f"/api/v1/sales/quotes/{created.json()['id']}/send", {"message": "请查收"})
    return created.json(), sent


# ======================================================================================
# Which backend the settings choose
# ======================================================================================
@pytest.mark.parametrize(("environment", "backend"), [
    ({}, BACKEND_PATH),
    ({"GUANXI_EMAIL_HOST": "mail.example.cn"}, "django.core.mail.backends.smtp.EmailBackend"),
    ({"GUANXI_EMAIL_PORT": "2525"}, "django.core.mail.backends.smtp.EmailBackend"),
    ({"GUANXI_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
     "django.core.mail.backends.console.EmailBackend"),
])
def test_without_a_mail_server_the_settings_choose_the_outbox(monkeypatch, environment, backend):
    for name in ("GUANXI_EMAIL_HOST", "GUANXI_EMAIL_PORT", "GUANXI_EMAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    chosen = runpy.run_path(settings_module.__file__)
    assert chosen["EMAIL_BACKEND"] == backend
    assert chosen["EMAIL_HOST"] == environment.get("GUANXI_EMAIL_HOST", "127.0.0.1")


# ======================================================================================
# Domains' mail lands in the outbox
# ======================================================================================
def test_a_sent_quote_is_kept_in_the_outbox_with_its_pdf(zero_service, rep_client, deal, catalogue,  # noqa: F811
                                                          django_capture_on_commit_callbacks, admin_user):
    quote, sent = send_quote(rep_client, deal, catalogue, django_capture_on_commit_callbacks)
    # then sending succeeded as it would with a server, and the message is kept
    assert sent.status_code == 200, sent.content
    assert sent.json()["sent_to"] == "wang.fang@xinghe.example"
    assert Quote.objects.get(pk=quote["id"]).status == QuoteStatus.SENT
    kept = OutboxMessage.objects.get()
    assert kept.recipients == "wang.fang@xinghe.example" and quote["number"] in kept.subject
    assert kept.source == "sales.send_quote" and kept.domain == "sales"
    assert Job.objects.get(pk=kept.job_id).params["quote_id"] == quote["id"]
    # and the administrator reads it, PDF attachment and accept link included
    page = browser(admin_user).get(reverse("outbox:detail", args=[kept.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f"{quote['number']}.pdf" in html and "application/pdf" in html
    assert "/sales/q/" in html and "请查收" in html


def test_a_case_reply_is_kept_in_the_outbox_and_marked_sent(zero_service, api_client, admin_user):
    from guanxi.core import services as core_services

    contact = core_services.contact_create(actor=admin_user, data={"full_name": "王芳",
                                                                   "email": "wang.fang@example.cn"})
    case = post(api_client, "/api/v1/service/cases", {"subject": "宽带断了", "contact_id": contact.pk})
    assert case.status_code == 201, case.content
    reply = post(api_client, f"/api/v1/service/cases/{case.json()['id']}/messages",
                 {"body": "请重启路由器。", "kind": "reply"})
    assert reply.status_code == 201, reply.content
    message = CaseMessage.objects.get(pk=reply.json()["id"])
    assert message.delivery_status == DeliveryStatus.SENT
    kept = OutboxMessage.objects.get()
    assert (kept.recipients, kept.message_id, kept.source) == ("wang.fang@example.cn", message.message_id,
                                                               "service.send_case_message")
    assert "请重启路由器。" in browser(admin_user).get(reverse("outbox:detail", args=[kept.pk])).content.decode()


def test_with_a_mail_server_configured_mail_goes_over_smtp_and_nothing_is_kept(
        settings, rep_client, deal, catalogue, django_capture_on_commit_callbacks):  # noqa: F811
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", sink.port, 5
        quote, sent = send_quote(rep_client, deal, catalogue, django_capture_on_commit_callbacks)
        assert sent.status_code == 200, sent.content
        assert [item.recipients for item in sink.received] == [["wang.fang@xinghe.example"]]
    assert quote["number"] in sink.received[0].message["Subject"]
    assert not OutboxMessage.objects.exists()


# ======================================================================================
# The Outbox page
# ======================================================================================
def html_mail(subject: str, to: str, html: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject, "Plain words", "guanxi@example.com", [to])
    message.attach_alternative(html, "text/html")
    return message


def test_the_outbox_lists_searches_and_pages_kept_mail(zero_service, admin_user):
    for index in range(53):
        html_mail(f"Offer {index:02d}", f"person{index:02d}@example.cn", "<p>Hi</p>").send()
    html_mail("账单提醒", "li.lei@example.cn", "<p>您好</p>").send()
    client = browser(admin_user)

    first = client.get(reverse("outbox:list"))
    html = first.content.decode()
    assert first.status_code == 200
    assert "no mail server is configured" in html.lower() and "GUANXI_EMAIL_HOST" in html
    assert html.index("账单提醒") < html.index("Offer 52") < html.index("Offer 04")  # newest first
    assert "Offer 03" not in html and 'rel="next"' in html  # fifty a page
    second = client.get(reverse("outbox:list"), {"page": 2}).content.decode()
    assert "Offer 03" in second and "Offer 00" in second and "Offer 52" not in second

    found = client.get(reverse("outbox:list"), {"q": "li.lei"}).content.decode()
    assert "账单提醒" in found and "Offer" not in found
    assert "No kept email matches" in client.get(reverse("outbox:list"), {"q": "nobody"}).content.decode()


def test_a_kept_messages_html_is_shown_only_in_a_sandboxed_frame(zero_service, admin_user):
    html_mail("Hostile", "x@example.cn", '<p>Hello</p><script>alert("owned")</script>').send()
    kept = OutboxMessage.objects.get()
    html = browser(admin_user).get(reverse("outbox:detail", args=[kept.pk])).content.decode()
    # the HTML body is inert: escaped into the srcdoc of a frame with every permission withheld
    assert '<script>alert("owned")</script>' not in html
    assert 'sandbox=""' in html and "srcdoc=\"&lt;p&gt;Hello&lt;/p&gt;&lt;script&gt;alert(&quot;owned&quot;)" in html
    assert "Plain words" in html  # the text part, as text
    assert "Content-Type" in html and "x@example.cn" in html  # the headers


def test_only_administrators_may_read_the_outbox(zero_service, make_user, admin_user):
    [kept] = outbox_messages_store(messages=[("guanxi@example.com", ["wang@example.cn"],
                                              b"Subject: Secret offer\r\n\r\nBody\r\n")])
    administrator = make_user("admin.li", Role.ADMIN)
    for role in (Role.SALES_MANAGER, Role.SERVICE_AGENT, Role.SUPERVISOR, Role.ANALYST):
        client = browser(make_user(f"user.{role}", role))
        listing, detail = client.get(reverse("outbox:list")), client.get(reverse("outbox:detail", args=[kept.pk]))
        assert (listing.status_code, detail.status_code) == (403, 403), role
        assert "Secret offer" not in listing.content.decode() + detail.content.decode()
        assert reverse("outbox:list") not in client.get(reverse("core:home")).content.decode()  # not in the menu
    client = browser(administrator)
    assert reverse("outbox:list") in client.get(reverse("core:home")).content.decode()
    assert "Secret offer" in client.get(reverse("outbox:list")).content.decode()
    assert client.get(reverse("outbox:detail", args=[kept.pk + 1])).status_code == 404
    assert Client().get(reverse("outbox:list")).status_code == 302  # signed out: to the login page


def test_the_outbox_page_speaks_chinese(zero_service, admin_user):
    html_mail("Offer", "x@example.cn", "<p>Hi</p>").send()
    client = browser(admin_user)
    html = client.get(reverse("outbox:list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "发件箱" in html and "未配置邮件服务器" in html
