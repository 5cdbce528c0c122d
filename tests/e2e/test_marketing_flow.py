"""Marketing through the real server and a real SMTP server: build a segment in the rule
editor (with its live count), write a template, create and launch a campaign that the
background job sends through SMTP, open a tracked link from a received message, and see
the response and the ROI on the campaign page.

The server of this module is started with its own SMTP server (aiosmtpd on loopback, in
this process) and a public URL pointing at itself, so the links in the messages lead back
to it."""

from __future__ import annotations

import re
import shutil
import tempfile
import time

import pytest

from tests.e2e.conftest import ADMIN, CHROMIUM, _free_port, _guanxi, login, migrated_database, running_server

pytestmark = pytest.mark.e2e

SEED = """
from guanxi.core.services import contact_create
from guanxi.core.models import User
admin = User.objects.get(username='e2e-admin')
for name, email, tier, language in [('王芳', 'wang@example.cn', 'gold', 'zh-hans'),
                                    ('Anna Smith', 'anna@example.com', 'gold', 'en'),
                                    ('李强', 'li@example.cn', 'silver', 'zh-hans')]:
    contact_create(actor=admin, data={'full_name': name, 'email': email, 'value_tier': tier,
                                      'preferred_language': language, 'consent_email': True})
"""


@pytest.fixture(scope="module")
def smtp_server():
    from guanxi.marketing.tests.smtp_sink import SmtpSink

    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def marketing_server(smtp_server):
    """A Guanxi server whose email goes to ``smtp_server`` and whose links point at itself."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    data_dir = tempfile.mkdtemp(prefix="guanxi-e2e-marketing-")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.pop("DATABASE_URL", None)
    env.pop("GUANXI_JOBS_IMMEDIATE", None)
    env.update(GUANXI_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_LOG_LEVEL="WARNING",
               GUANXI_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", GUANXI_EMAIL_HOST="127.0.0.1",
               GUANXI_EMAIL_PORT=str(smtp_server.port), GUANXI_PUBLIC_URL=f"http://127.0.0.1:{port}",
               GUANXI_MARKETING_SEND_RATE="0")
    migrated_database(env)
    _guanxi("createuser", ADMIN[0], "--role", "admin", "--password", ADMIN[1], "--name", "E2E 管理员", env=env)
    _guanxi("shell", "-c", SEED, env=env)
    with running_server(env, data_dir, port) as url:
        yield {"url": url, "data_dir": data_dir}
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def marketing_page(browser, marketing_server):
    context = browser.new_context(base_url=marketing_server["url"], locale="en-US")
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def test_segment_campaign_send_click_and_roi(marketing_page, marketing_server, smtp_server):
    page = marketing_page
    server = marketing_server["url"]
    login(page, *ADMIN)

    # a segment built in the rule editor, counted live while editing
    page.goto("/marketing/segments/new/")
    page.locator("#id_name").fill("Gold customers")
    page.get_by_role("button", name="Add condition").click()
    condition = page.locator(".rule-condition").first
    condition.get_by_label("Field").select_option("value_tier")
    condition.get_by_label("Operator").select_option("eq")
    condition.get_by_label("Value").select_option("gold")
    page.locator("#live-count").get_by_text("2 contacts match").wait_for()
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url(re.compile(r"/marketing/segments/\d+/$"))
    assert page.locator("#member-count").inner_text().startswith("2")
    assert page.get_by_role("link", name="王芳").is_visible()

    # a bilingual template with a link back to this server
    target = f"{server}/sales/web-to-lead/?from=mail"  # a public page: no redirect for a signed-in reader
    page.goto("/marketing/templates/new/")
    page.locator("#id_name").fill("Spring offer")
    page.get_by_label("Subject (English)").fill("{{ contact.full_name }}, your spring offer")
    page.get_by_label("Body (English)").fill(f'<p>Dear {{{{ contact.full_name }}}},</p><p><a href="{target}">See it</a></p>')
    page.get_by_label("Subject (Chinese)").fill("{{ contact.full_name }}，春季优惠")
    page.get_by_label("Body (Chinese)").fill(f'<p>{{{{ contact.full_name }}}}，您好！</p><p><a href="{target}">查看</a></p>')
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/marketing/templates/\d+/$"))

    # the campaign, launched: the background job sends through SMTP
    page.goto("/marketing/campaigns/new/")
    page.locator("#id_name").fill("Spring 5G")
    page.get_by_label("Target segment").select_option(label="Gold customers")
    page.get_by_label("Message template").select_option(label="Spring offer (Email)")
    page.get_by_label("Budget").fill("5000")
    page.get_by_label("Planned cost").fill("2000")
    page.get_by_label("Actual cost").fill("1000")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/marketing/campaigns/\d+/$"))
    campaign_url = page.url
    page.locator("#launch-campaign").click()
    page.get_by_text("Campaign launched.").wait_for()
    smtp_server.wait_for(2, timeout=60)
    received = {item.recipients[0]: item.message for item in smtp_server.received}
    assert sorted(received) == ["anna@example.com", "wang@example.cn"]
    assert received["wang@example.cn"]["Subject"] == "王芳，春季优惠"

    # Wang opens the tracked link in the message
    html = received["wang@example.cn"].get_body(("html",)).get_content()
    tracked = re.search(r'href="(http://127\.0\.0\.1:\d+/marketing/t/c/[^"]+)"', html).group(1)
    page.goto(tracked)
    assert page.url == target

    # and the campaign shows the response and the return on the money spent
    deadline = time.monotonic() + 30
    while True:
        page.goto(campaign_url)
        if page.locator("#campaign-status").inner_text() == "Completed" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert page.locator("#campaign-status").inner_text() == "Completed"
    responses = page.locator("#campaign-responses")
    assert "王芳" in responses.inner_text() and "Clicked a link" in responses.inner_text()
    assert page.locator("#roi-responders").inner_text() == "1"
    assert page.locator("#roi-value").inner_text() == "-100 %"  # 1,000 spent, no revenue won yet
    page.goto("/marketing/campaigns/roi/")
    assert "Spring 5G" in page.locator("main table").inner_text()
