"""The foundation as a user clicks through it, in Chromium against `guanxi serve`:
sign in, create a contact with a Chinese name and a local +86 mobile, find it by the
phone written another way, open its 360° page, watch a new interaction arrive live in a
second window, and switch the interface to Chinese."""

from __future__ import annotations

import re

from playwright.sync_api import expect



def sign_in(page, server):
    page.goto("/login/")
    page.get_by_label("Username").fill(server["admin"][0])
    page.get_by_label("Password").fill(server["admin"][1])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_contact_with_chinese_name_found_by_phone_and_live_360(browser, guanxi_server):
    context = browser.new_context(base_url=guanxi_server["url"], locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, guanxi_server)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Contacts")

    # create a contact: Chinese name, mobile typed the local way
    page.goto("/contacts/new/")
    page.get_by_label("Family name", exact=True).fill("王")
    page.get_by_label("Given name", exact=True).fill("小明")
    page.get_by_label("Phone", exact=True).fill("138 0013 8000")
    page.get_by_label("Email", exact=True).fill("Wang.XiaoMing@Example.cn")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("王小明")
    expect(page.locator("main")).to_contain_text("+86 138 0013 8000")
    contact_url = page.url

    # a validation error is shown next to the field and nothing is saved
    page.goto("/contacts/new/")
    page.get_by_label("Family name", exact=True).fill("李")
    page.get_by_label("Phone", exact=True).fill("12345")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("not a valid phone number")

    # find it with the phone written in the international format, from the header search box
    page.goto("/")
    page.get_by_role("searchbox").first.fill("+86-138-0013-8000")
    page.get_by_role("searchbox").first.press("Enter")
    page.wait_for_url(re.compile(r"/search/"))
    page.get_by_role("link", name="王小明").first.click()
    expect(page.locator("h1")).to_contain_text("王小明")

    # the 360° page, with the timeline
    match = re.search(r"/contacts/(\d+)/", contact_url)
    contact_id = match.group(1)
    page.goto(f"/contacts/{contact_id}/360/")
    expect(page.locator("h1")).to_contain_text("王小明")
    expect(page.locator("#timeline-entries")).to_have_attribute("data-live-contact", contact_id)
    page.wait_for_timeout(500)  # the socket subscribes on load

    # a colleague's window logs an interaction; the first window shows it without reload
    other = context.new_page()
    other.goto(f"/contacts/{contact_id}/360/")
    other.locator("details.log-interaction").evaluate("details => { details.open = true; }")
    log_form = other.locator("details.log-interaction form")
    log_form.get_by_label("Channel").select_option("phone")
    log_form.get_by_label("Reason").fill("Asked about 5G roaming")
    log_form.locator("button[type=submit]").click()
    expect(page.locator("#timeline-entries li").first).to_contain_text("Asked about 5G roaming")
    expect(page.locator("#timeline-notice")).not_to_be_empty()

    # switch the interface to Simplified Chinese
    page.locator("#language-select").select_option("zh-hans")
    page.locator("form.language-switcher button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    context.close()


def test_wrong_password_is_refused(page, guanxi_server):
    page.goto("/login/")
    page.get_by_label("Username").fill(guanxi_server["admin"][0])
    page.get_by_label("Password").fill("wrong-password")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator("main")).to_contain_text(re.compile("correct username and password|not correct", re.I))
