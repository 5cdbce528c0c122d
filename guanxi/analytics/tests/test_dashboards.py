"""Dashboards per role: the key figures and charts each role works with, reports pinned to
the dashboard, the reader's visibility, and the page without a warehouse."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.analytics.services.reports import report_create
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import Role

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def company(warehouse_engine, admin_user, make_user):
    rep = make_user("rep", Role.SALES_REP)
    plan = history.product("PLAN", "Plan", family="plans")
    mine = history.customer(admin_user, "王芳", owner_id=rep.pk)
    theirs = history.customer(admin_user, "李雷")
    history.order(mine, [(plan, 1, "100.00")], at="2025-03-01 10:00")
    history.order(theirs, [(plan, 1, "900.00")], at="2025-03-02 10:00")
    history.case(theirs, category="billing")
    warehouse_refresh(actor=None)
    return {"rep": rep}


def test_each_role_gets_its_own_widgets(company, make_user, admin_user):
    expected = {Role.SALES_REP: {"sales", "key-accounts"}, Role.SERVICE_AGENT: {"service"},
                Role.CONTACT_CENTER_AGENT: {"contact-center"}, Role.ANALYST: {"sales", "value-by-segment",
                                                                               "new-vs-existing", "service"}}
    for role, widgets in expected.items():
        user = company["rep"] if role == Role.SALES_REP else make_user(f"user-{role}", role)
        board = browser(user).get("/api/v1/analytics/dashboard").json()
        assert board["role"] == role and {widget["key"] for widget in board["widgets"]} == widgets


def test_the_figures_count_only_the_readers_customers(company, admin_user):
    everyone = dict(browser(admin_user).get("/api/v1/analytics/dashboard").json()["kpis"])
    own = dict(browser(company["rep"]).get("/api/v1/analytics/dashboard").json()["kpis"])
    assert everyone["Customers"] == "2" and own["Customers"] == "1"
    assert everyone["Open cases"] == "1" and own["Open cases"] == "0"


def test_pinned_reports_appear_on_the_dashboard(company, admin_user):
    report = report_create(actor=company["rep"], data={
        "name": "My plans", "source": "order_lines", "on_dashboard": True, "chart_type": "bar",
        "definition": {"group_by": ["product_family"], "measures": [{"aggregate": "sum", "field": "revenue"}]}})
    board = browser(company["rep"]).get("/api/v1/analytics/dashboard").json()
    pinned = {item["name"]: item for item in board["reports"]}
    assert pinned["My plans"]["chart"]["datasets"][0]["data"] == [100.0]
    page = browser(company["rep"]).get(reverse("analytics:dashboard")).content.decode()
    assert f'id="chart-data-report-{report.pk}"' in page and 'data-chart="chart-data-report-' in page
    # the administrator's dashboard does not show the rep's pinned report
    assert browser(admin_user).get("/api/v1/analytics/dashboard").json()["reports"] == []


def test_the_page_the_menu_and_the_missing_warehouse(company, admin_user, make_user, settings, tmp_path):
    page = browser(company["rep"]).get(reverse("analytics:dashboard")).content.decode()
    assert 'id="widget-sales"' in page and reverse("analytics:dashboard") in page
    agent = make_user("agent", Role.SERVICE_AGENT)
    agent_page = browser(agent).get(reverse("analytics:dashboard")).content.decode()
    # no link into analyses for a role that may not open them
    assert 'id="widget-service"' in agent_page and reverse("analytics:analysis_detail", args=["service"]) \
        not in agent_page
    partner = make_user("partner", Role.PARTNER)
    assert browser(partner).get(reverse("analytics:dashboard")).status_code == 403
    assert 'href="/analytics/"' not in browser(partner).get("/").content.decode()
    settings.GUANXI_WAREHOUSE_PATH = str(tmp_path / "none.duckdb")
    settings.GUANXI_WAREHOUSE_ENGINE = "duckdb"
    missing = browser(admin_user).get(reverse("analytics:dashboard")).content.decode()
    assert "has not been built yet" in missing
