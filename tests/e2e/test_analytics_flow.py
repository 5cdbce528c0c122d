"""Analytics as a manager clicks through it, in Chromium against `guanxi serve`: add a
customer, build the warehouse from its page (a background job), build a report in the
report builder with a preview, save it, open it with its chart, export it as CSV, and
view the dashboard with its figures and charts."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def sign_in(page, server):
    page.goto("/login/")
    page.get_by_label("Username").fill(server["admin"][0])
    page.get_by_label("Password").fill(server["admin"][1])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def add_customer(page, family: str, given: str, phone: str) -> None:
    page.goto("/contacts/new/")
    page.get_by_label("Family name", exact=True).fill(family)
    page.get_by_label("Given name", exact=True).fill(given)
    page.get_by_label("Phone", exact=True).fill(phone)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(family + given)


def test_build_save_export_a_report_and_view_the_dashboard(browser, guanxi_server):
    context = browser.new_context(base_url=guanxi_server["url"], locale="en-US", accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, guanxi_server)
    add_customer(page, "陈", "静", "139 0013 8001")
    add_customer(page, "林", "海", "139 0013 8002")

    # the main menu leads to analytics; the warehouse is built by a background job
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Analytics")
    page.goto("/analytics/warehouse/")
    # (the hourly refresh may already have built it; a refresh now picks up the new customers)
    page.get_by_role("button", name="Refresh now").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/"))
    expect(page.locator("#job-card .badge")).to_have_text("Succeeded", timeout=60_000)
    page.goto("/analytics/warehouse/")
    expect(page.locator("main table")).to_contain_text("dim_customer")

    # build a report: customers by lifecycle stage, previewed, then saved
    page.goto("/analytics/reports/new/")
    page.get_by_label("Object").select_option("customers")
    page.get_by_role("button", name="Choose object").click()
    page.get_by_label("Group by", exact=True).select_option("lifecycle_stage")
    page.get_by_label("Measure 1").select_option("count:rows")
    page.get_by_label("Chart").select_option("bar")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-heading")).to_be_visible()
    expect(page.locator("main table").last).to_contain_text("Prospect")
    page.get_by_label("Name", exact=True).fill("客户 by stage")
    page.get_by_label("Show on the dashboard").check()
    page.get_by_role("button", name="Save report").click()

    # the saved report shows its chart and its rows
    expect(page.locator("h1")).to_have_text("客户 by stage")
    expect(page.locator("canvas[data-chart='chart-data-report-chart']")).to_be_visible()
    expect(page.locator("main table").first).to_contain_text("Prospect")
    expect(page.locator("main table").first).to_contain_text("2")

    # export it as CSV
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = open(download.path(), encoding="utf-8-sig").read()
    assert content.splitlines()[0] == "Lifecycle stage,Customers" and "Prospect,2" in content

    # the dashboard: key figures, and the pinned report drawn as a chart
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator(".kpis")).to_contain_text("Customers")
    expect(page.locator(".kpis article").first).to_contain_text("2")
    pinned = page.locator("article", has=page.get_by_role("link", name="客户 by stage"))
    expect(pinned.locator("canvas")).to_be_visible()
    # Chart.js drew on the canvas (it sets a pixel size on it)
    expect(pinned.locator("canvas")).to_have_attribute("height", re.compile(r"\d+"))
    context.close()
