"""Customer service as people click through it, in Chromium against `guanxi serve`: a
customer's email reaches the running email-in receiver (`guanxi mail-in`, real SMTP), an
agent finds the new case in the queue, replies and waits for the customer, the customer's
answer threads back by the case number in its subject, the agent resolves the case, and
the customer answers the satisfaction survey on its public page."""

from __future__ import annotations

import re
import smtplib
import socket
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PROJECT, _free_port

CUSTOMER_EMAIL = "zhang.wei@example.cn"


def sign_in(page, server):
    page.goto("/login/")
    page.get_by_label("Username").fill(server["admin"][0])
    page.get_by_label("Password").fill(server["admin"][1])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def mail_in(guanxi_server):
    """`guanxi mail-in` next to the running server, on the same database."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "mail-in", "--port", str(port)],
                               env=guanxi_server["env"], cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stdout.read())
            time.sleep(0.2)
    yield port
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def send_email(port: int, subject: str, body: str, message_id: str) -> None:
    message = EmailMessage()
    message["From"] = f"张伟 <{CUSTOMER_EMAIL}>"
    message["To"] = "support@guanxi.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        refused = client.sendmail(CUSTOMER_EMAIL, ["support@guanxi.example"], message.as_bytes(policy=policy.SMTP))
    assert refused == {}


def reload_until(page, locator, text: str, seconds: float = 20) -> None:
    """The receiver is another process: reload until its work shows."""
    deadline = time.monotonic() + seconds
    while True:
        if text in (locator.text_content() or ""):
            return
        if time.monotonic() > deadline:
            expect(locator).to_contain_text(text)
        page.wait_for_timeout(500)
        page.reload()


def test_agent_handles_an_emailed_case_to_resolution_and_the_customer_rates_it(browser, guanxi_server, mail_in):
    context = browser.new_context(base_url=guanxi_server["url"], locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, guanxi_server)

    # the customer is on file with the address they will write from
    page.goto("/contacts/new/")
    page.get_by_label("Family name", exact=True).fill("张")
    page.get_by_label("Given name", exact=True).fill("伟")
    page.get_by_label("Email", exact=True).fill(CUSTOMER_EMAIL)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("张伟")

    # the customer emails the service desk
    send_email(mail_in, "宽带无法连接 Broadband down", "从昨晚开始光猫红灯闪烁，无法上网。", "<e2e-1@example.cn>")

    # the agent finds the new case in the queue and opens it
    page.goto("/service/")
    reload_until(page, page.locator("main table"), "宽带无法连接")
    page.get_by_role("link", name=re.compile(r"CS-\d{4}-\d{6}")).first.click()
    expect(page.locator("h1")).to_contain_text("宽带无法连接")
    number = re.search(r"CS-\d{4}-\d{6}", page.locator("h1").text_content()).group(0)
    expect(page.locator("#thread")).to_contain_text("光猫红灯闪烁")
    expect(page.locator("#case-status")).to_have_text("New")
    expect(page.locator("main")).to_contain_text("张伟")  # linked to the known contact, not triage

    # the agent takes the case and replies, waiting for the customer
    page.locator("#assign-form select[name=target]").select_option(label="E2E 管理员")
    page.locator("#assign-form button[type=submit]").click()
    expect(page.locator("#case-assignee")).to_contain_text("E2E 管理员")
    page.locator("#reply-form textarea[name=body]").fill("请检查光纤接头并重启光猫，然后告诉我们结果。")
    page.locator("#reply-form select[name=new_status]").select_option("pending_customer")
    page.locator("#reply-form button[type=submit]").click()
    expect(page.locator("#case-status")).to_have_text("Pending customer")
    expect(page.locator("#thread")).to_contain_text("请检查光纤接头")

    # the customer answers; the case number in the subject threads it back into the case
    send_email(mail_in, f"Re: [{number}] 宽带无法连接 Broadband down", "重启以后可以上网了，谢谢！",
               "<e2e-2@example.cn>")
    reload_until(page, page.locator("#thread"), "重启以后可以上网了")
    expect(page.locator("#case-status")).to_have_text("Open")

    # the agent resolves the case
    page.locator("#status-form select[name=status]").select_option("resolved")
    page.locator("#status-form textarea[name=note]").fill("Fibre connector reseated, modem restarted.")
    page.locator("#status-form button[type=submit]").click()
    expect(page.locator("#case-status")).to_have_text("Resolved")
    survey_link = page.locator("#survey-link").get_attribute("href")

    # the customer answers the satisfaction survey from the link, without signing in
    customer = browser.new_context(locale="zh-CN")
    survey_page = customer.new_page()
    survey_page.goto(survey_link)
    expect(survey_page.locator("main")).to_contain_text(number)
    survey_page.locator("input[name=csat_score][value='5']").check()
    survey_page.locator("input[name=nps_score][value='9']").check()
    survey_page.locator("textarea[name=comment]").fill("处理得很快")
    survey_page.locator("main form button[type=submit]").click()
    expect(survey_page.locator("#survey-thanks")).to_be_visible()
    customer.close()

    # the agent sees the rating on the case
    page.reload()
    expect(page.locator("#case-satisfaction")).to_contain_text("CSAT 5/5")
    context.close()
