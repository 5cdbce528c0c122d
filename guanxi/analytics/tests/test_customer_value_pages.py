"""The customer-value pages: the 360° panel (tier, RFM, tier history, lifetime value or the
"too little history" message), the value-pyramid page with this quarter's moves, scoring
from the page, and the warehouse page — with the rights of each role."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.analytics.models import ScoringRun
from guanxi.analytics.services.scoring import lifetime_values_compute, rfm_scores_compute
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import Contact, Role
from guanxi.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db
REFERENCE = datetime.date(2025, 6, 30)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scored(warehouse_engine, admin_user, make_user):
    """A rep's customer and another customer, tiered; too few for a lifetime value fit."""
    rep = make_user("rep", Role.SALES_REP)
    plan = history.product("PLAN", "Plan")
    mine = history.customer(admin_user, "王小明", owner_id=rep.pk)
    other = history.customer(admin_user, "李四")
    history.order(mine, [(plan, 1, "80.00")], at="2025-06-01 10:00")
    history.order(other, [(plan, 1, "900.00")], at="2025-06-02 10:00")
    warehouse_refresh(actor=None)
    rfm_scores_compute(actor=None, reference_date=REFERENCE)
    lifetime_values_compute(actor=None, reference_date=REFERENCE)
    return {"rep": rep, "mine": mine, "other": other}


def test_the_360_page_shows_tier_rfm_history_and_why_there_is_no_lifetime_value(scored, admin_user):
    # when the administrator opens the 360° page of the top customer
    response = browser(admin_user).get(reverse("core:contact_360", args=[scored["other"].pk]))

    # then the customer-value panel shows the tier, the RFM code, the first tier move and
    # the message that the history is too thin for a lifetime value
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="panel-customer-value"' in page
    assert "Platinum (top 1%)" in page and "RFM" in page
    assert "Tier history" in page and "no tier" in page
    assert "Too little purchase history" in page


def test_the_value_page_shows_the_pyramid_and_this_quarters_moves_within_scope(scored, admin_user):
    # when the administrator and the rep open the customer-value page
    everyone = browser(admin_user).get(reverse("analytics:customer_value"))
    own = browser(scored["rep"]).get(reverse("analytics:customer_value"))

    # then both see the pyramid, the administrator's moves name both customers, the rep's only theirs
    assert everyone.status_code == own.status_code == 200
    assert "王小明" in everyone.content.decode() and "李四" in everyone.content.decode()
    assert "王小明" in own.content.decode() and "李四" not in own.content.decode()
    assert 'data-chart="chart-data-tier-chart"' in everyone.content.decode()
    assert "Too little purchase history" in everyone.content.decode()
    # only those who may recompute see the button
    assert "Recompute tiers" in everyone.content.decode() and "Recompute tiers" not in own.content.decode()


def test_recomputing_from_the_page_runs_a_job_and_is_refused_to_a_rep(scored, admin_user):
    # given a changed purchase history
    history.order(scored["mine"], [(history.product("PHONE", "Phone"), 1, "5000.00")], at="2025-06-20 10:00")
    runs_before = ScoringRun.objects.count()

    # when the rep tries to recompute, nothing happens
    refused = browser(scored["rep"]).post(reverse("analytics:recompute_scores"))
    assert refused.status_code == 403 and ScoringRun.objects.count() == runs_before

    # when the administrator recomputes, a job refreshes the warehouse and scores again
    response = browser(admin_user).post(reverse("analytics:recompute_scores"))
    job = Job.objects.get(kind="analytics.score_customers")
    assert response.status_code == 302 and response.url == reverse("jobs:detail", args=[job.pk])
    assert job.state == JobState.SUCCEEDED, job.error
    assert Contact.objects.get(pk=scored["mine"].pk).value_tier == "platinum"


def test_a_role_without_scores_sees_no_panel_and_no_page(scored, make_user, admin_user):
    partner = make_user("partner", Role.PARTNER)
    assert browser(partner).get(reverse("analytics:customer_value")).status_code == 403
    service = make_user("agent", Role.SERVICE_AGENT)
    # a service agent sees customers and their scores, but may not refresh the warehouse
    assert browser(service).get(reverse("analytics:customer_value")).status_code == 200
    assert browser(service).get(reverse("analytics:warehouse")).status_code == 403


def test_the_warehouse_page_lists_tables_and_refreshes(scored, admin_user):
    page = browser(admin_user).get(reverse("analytics:warehouse"))
    assert page.status_code == 200 and "fact_order_line" in page.content.decode()
    response = browser(admin_user).post(reverse("analytics:warehouse_refresh"), {"full": "1"})
    job = Job.objects.filter(kind="analytics.refresh_warehouse").latest("id")
    assert response.status_code == 302 and job.state == JobState.SUCCEEDED and job.result["full"] is True
    refused = browser(scored["rep"]).post(reverse("analytics:warehouse_refresh"))
    assert refused.status_code == 403
    assert Job.objects.filter(kind="analytics.refresh_warehouse").count() == 1
