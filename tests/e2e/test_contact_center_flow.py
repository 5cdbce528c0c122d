"""The contact center as people use it, in Chromium against `guanxi serve`: a supervisor
sets up a queue, an IVR menu and an agent; a simulated customer calls, keys in the account
number; the call pops up on the agent's desktop with the customer's record and the IVR
data; the agent answers, records the disposition and hangs up; the call is on the
customer's timeline and on the wallboard."""

from __future__ import annotations

import re
import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.conftest import PROJECT

AGENT = ("e2e-agent", "agent-password-2026")
MENU = """language: en
start: welcome
nodes:
  welcome:
    type: prompt
    say: "Welcome to Guanxi Telecom."
    next: account
  account:
    type: capture
    say: "Enter your account number, then the hash key."
    field: account_number
    min_digits: 6
    max_digits: 10
    next: agent
    on_failure: agent
  agent:
    type: queue
    queue: billing
    reason: Billing question
    say: "Please hold for an agent."
"""


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def api_post(page, path: str, body: dict) -> dict:
    """POST to the REST API with the page's session and CSRF token."""
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    response = page.request.post("/api/v1" + path, data=body, headers={"X-CSRFToken": token})
    assert response.ok, (path, response.status, response.text())
    return response.json()


def test_a_call_through_the_ivr_to_the_agent_desktop_timeline_and_wallboard(browser, guanxi_server):
    subprocess.run([sys.executable, "-m", "guanxi.cli", "createuser", AGENT[0], "--role", "cc_agent", "--password",
                    AGENT[1], "--name", "坐席 Ana"], env=guanxi_server["env"], cwd=PROJECT, check=True,
                   capture_output=True, text=True, timeout=120)

    # a supervisor (the admin) sets up the queue, the IVR menu, the agent and a customer
    admin = browser.new_context(base_url=guanxi_server["url"], locale="en-US")
    admin.set_default_timeout(15_000)
    supervisor = admin.new_page()
    sign_in(supervisor, *guanxi_server["admin"])
    supervisor.goto("/contact-center/calls/")  # sets the CSRF cookie
    api_post(supervisor, "/contact-center/skills", {"code": "billing", "name": "Billing"})
    api_post(supervisor, "/contact-center/queues", {"code": "billing", "name": "Billing",
                                                    "required_skills": {"billing": 1}})
    api_post(supervisor, "/contact-center/dispositions", {"code": "resolved", "label": "Resolved",
                                                          "outcome": "Question answered"})
    agent_user = next(user for user in supervisor.request.get("/api/v1/users?limit=200").json()["items"]
                      if user["username"] == AGENT[0])
    api_post(supervisor, "/contact-center/agents", {"user_id": agent_user["id"], "skills": {"billing": 5}})
    customer = api_post(supervisor, "/contacts", {"full_name": "王芳", "phone": "138 0013 8000",
                                                  "external_id": "60012345", "value_tier": "gold"})

    # the IVR menu is written in the web editor
    supervisor.goto("/contact-center/ivr-menus/new/")
    supervisor.locator("#id_name").fill("Customer line")
    supervisor.locator("#id_numbers").fill("95555")
    supervisor.locator("#id_source").fill(MENU)
    supervisor.locator("main form button[type=submit]").click()
    expect(supervisor.locator(".messages")).to_contain_text("IVR menu saved.")

    # the agent signs in to the desktop and becomes available
    agent_context = browser.new_context(base_url=guanxi_server["url"], locale="en-US")
    agent_context.set_default_timeout(15_000)
    desk = agent_context.new_page()
    sign_in(desk, *AGENT)
    desk.goto("/contact-center/")
    expect(desk.locator("#call-cards")).to_have_attribute("data-connected", "true")
    desk.locator("#state-form button[data-state=available]").click()
    expect(desk.locator("#agent-state")).to_have_attribute("data-state", "available")

    # a customer calls from an unknown number and keys in the account number
    supervisor.goto("/contact-center/simulator/")
    supervisor.locator("#id_ani").fill("+86 139 0000 1111")
    supervisor.locator("#id_dnis").fill("95555")
    supervisor.locator("#dial").click()
    expect(supervisor.locator("#transcript")).to_contain_text("Enter your account number")
    supervisor.locator("#keys").fill("60012345#")
    supervisor.locator("#send-keys").click()
    expect(supervisor.locator("#transcript")).to_contain_text("Please hold for an agent.")

    # the call pops up on the agent's desktop with the customer and the IVR data
    card = desk.locator(".call-card").first
    expect(card).to_have_attribute("data-state", "ringing")
    expect(card.locator("h2")).to_have_text("王芳")
    expect(card).to_contain_text("Gold")
    expect(card.locator(".ivr-data")).to_contain_text("Account number")
    expect(card.locator(".ivr-data")).to_contain_text("60012345")
    expect(supervisor.locator("#call-status")).to_have_attribute("data-state", "ringing")

    # the agent answers, records the disposition and hangs up
    card.get_by_role("button", name="Answer").click()
    expect(desk.locator(".call-card").first).to_have_attribute("data-state", "connected")
    expect(desk.locator("#agent-state")).to_have_attribute("data-state", "busy")
    card = desk.locator(".call-card").first
    card.get_by_label("Disposition").select_option(label="Resolved")
    card.get_by_label("Notes").fill("Explained the roaming charges")
    card.get_by_role("button", name="Save disposition").click()
    expect(desk.locator("#desk-notice")).to_contain_text("Saved.")
    desk.locator(".call-card").first.get_by_role("button", name="Hang up").click()
    expect(desk.locator(".call-card")).to_have_count(0)
    expect(supervisor.locator("#call-status")).to_have_attribute("data-state", "ended")

    # the call is on the customer's timeline
    supervisor.goto(f"/contacts/{customer['id']}/360/")
    timeline = supervisor.locator("#timeline-entries")
    expect(timeline).to_contain_text("Call from +8613900001111")
    expect(timeline).to_contain_text("Question answered")
    expect(supervisor.locator("#panel-calls")).to_contain_text("Billing")

    # and on the wallboard
    supervisor.goto("/contact-center/wallboard/")
    expect(supervisor.locator('#wallboard-totals [data-figure="answered"]')).to_have_text("1")
    expect(supervisor.locator('#wallboard-totals [data-figure="service_level"]')).to_have_text(re.compile(r"%$"))
    expect(supervisor.locator('#wallboard-queues tr[data-queue="billing"]')).to_be_visible()
    admin.close()
    agent_context.close()
