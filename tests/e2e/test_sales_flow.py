"""One lead from the public web form to a signed contract, in Chromium against `guanxi serve`:
the enquiry is sent from the embeddable form, converted, dragged to a later stage on the
kanban board, quoted with two products and a discount, the PDF downloaded, the quote
accepted by the customer through the signed link, ordered, and the contract signed."""

from __future__ import annotations

import re
import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.conftest import PROJECT


def sign_in(page, server):
    page.goto("/login/")
    page.get_by_label("Username").fill(server["admin"][0])
    page.get_by_label("Password").fill(server["admin"][1])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def api_token(server) -> str:
    completed = subprocess.run([sys.executable, "-m", "guanxi.cli", "token", server["admin"][0], "--name", "e2e"],
                               env=server["env"], cwd=PROJECT, check=True, capture_output=True, text=True,
                               timeout=120)
    return completed.stdout.strip().splitlines()[-1]


def catalogue(page, server) -> None:
    """Two products priced in a CNY list, through the REST API."""
    headers = {"Authorization": f"Bearer {api_token(server)}"}
    products = []
    for sku, name, name_zh in (("E2E-ROUTER", "Business router", "企业路由器"), ("E2E-5G", "5G plan", "5G 套餐")):
        response = page.request.post("/api/v1/sales/products", headers=headers,
                                     data={"sku": sku, "name": name, "name_zh": name_zh})
        assert response.status == 201, response.text()
        products.append(response.json()["id"])
    response = page.request.post("/api/v1/sales/price-lists", headers=headers, data={
        "name": "E2E China list", "currency": "CNY",
        "entries": [{"product_id": products[0], "unit_price": "1200"}, {"product_id": products[1], "unit_price": "199"}]})
    assert response.status == 201, response.text()


def test_a_web_lead_becomes_a_signed_contract(browser, guanxi_server):
    context = browser.new_context(base_url=guanxi_server["url"], locale="en-US", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    catalogue(page, guanxi_server)

    # 1. a visitor sends the public, embeddable enquiry form
    visitor = browser.new_context(base_url=guanxi_server["url"], locale="en-US").new_page()
    visitor.goto("/sales/web-to-lead/?embed=1&campaign=E2E%20Spring%20promotion")
    visitor.get_by_label("Family name").fill("赵")
    visitor.get_by_label("Given name").fill("敏")
    visitor.get_by_label("Company").fill("E2E 远航物流有限公司")
    visitor.get_by_label("Email").fill("zhao.min@yuanhang.example")
    visitor.get_by_label("Phone").fill("139 0013 9001")
    visitor.get_by_label("How can we help?").fill("We need routers and 5G plans for 20 people.")
    visitor.wait_for_timeout(2200)  # the form refuses what is sent faster than a person types
    visitor.locator("form.web-to-lead button[type=submit]").click()
    expect(visitor.locator("h1")).to_contain_text("Thank you")
    visitor.context.close()

    # 2. sales converts the lead in one step
    sign_in(page, guanxi_server)
    page.goto("/sales/leads/?status=all&q=E2E")
    page.get_by_role("link", name="赵敏").click()
    expect(page.locator("main")).to_contain_text("E2E Spring promotion")
    page.locator("main .actions").get_by_role("button", name="Convert", exact=True).click()
    page.get_by_label("Opportunity name").fill("E2E Yuanhang fleet")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("E2E Yuanhang fleet")
    expect(page.locator("#current-stage")).to_contain_text("Prospecting")
    opportunity_url = page.url

    # 3. on the kanban board the deal is dragged to a later stage
    page.goto("/sales/pipeline/")
    card = page.locator(".board-card", has_text="E2E Yuanhang fleet")
    proposal = page.locator(".board-column[data-stage-name='Proposal']")
    card.drag_to(proposal.locator(".board-cards"))
    expect(page.locator("#board-status")).to_contain_text("moved to Proposal")
    expect(proposal.locator(".board-card", has_text="E2E Yuanhang fleet")).to_have_count(1)
    page.goto(opportunity_url)
    expect(page.locator("#current-stage")).to_contain_text("Proposal")

    # 4. a quote with two products and a discount
    page.get_by_role("button", name="New quote").click()
    expect(page.locator("h1")).to_contain_text("Quote Q-")
    add_line = page.locator("form.add-line")
    add_line.get_by_label("Product").select_option(label="E2E-ROUTER · Business router")
    add_line.get_by_label("Quantity").fill("2")
    add_line.get_by_label("Discount (%)").fill("5")
    add_line.locator("button[type=submit]").click()
    add_line = page.locator("form.add-line")
    add_line.get_by_label("Product").select_option(label="E2E-5G · 5G plan")
    add_line.get_by_label("Quantity").fill("20")
    add_line.locator("button[type=submit]").click()
    expect(page.locator("#quote-lines tbody tr")).to_have_count(2)
    expect(page.locator("#quote-total")).to_have_text("7,073.80")  # (2,280 + 3,980) × 1.13

    # 5. the PDF downloads
    with page.expect_download() as download_info:
        page.get_by_role("button", name="PDF (English)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # 6. sent, and accepted by the customer through the signed link
    page.get_by_role("button", name="Send the quote").click()
    expect(page.locator("#quote-status")).to_have_text("Sent")
    accept_url = page.locator("#accept-link").get_attribute("href")
    customer = browser.new_context(locale="zh-CN").new_page()
    customer.goto(accept_url)  # in the quote's language, the contact's (Chinese)
    expect(customer.locator("h1")).to_contain_text("Q-")
    customer.locator("#accepted_by_name").fill("赵敏")
    customer.locator("form.accept-quote button[value=accept]").click()
    expect(customer.locator(".message-success[role=status]")).to_contain_text("Q-")
    customer.context.close()

    # 7. the order, then the contract, signed
    page.reload()
    expect(page.locator("#quote-status")).to_have_text("Accepted")
    page.get_by_role("button", name="Create the order").click()
    expect(page.locator("h1")).to_contain_text("Order SO-")
    expect(page.locator("#order-status")).to_have_text("Confirmed")
    page.get_by_role("button", name="Create the contract").click()
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Contract CT-")
    page.get_by_label("Signed by (customer)").fill("赵敏")
    page.get_by_role("button", name="Record the signature").click()
    expect(page.locator("#contract-status")).to_have_text("Active")
    expect(page.locator("main")).to_contain_text("赵敏")
    assert re.search(r"/sales/contracts/\d+/$", page.url)
    context.close()
