"""Churn: the model chosen by cross-validation with its model card, per-customer reasons,
daily scoring written back to customers, the retention list and segment, and the
too-little-history answer."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.analytics import churn
from guanxi.analytics.models import ChurnModel, CustomerScore, RetentionListEntry, RunStatus
from guanxi.analytics.services.churn import FEATURE_NAMES, FEATURES, churn_model_train, churn_scores_compute
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import Contact, Role

pytestmark = pytest.mark.django_db


def day_text(days_ago: int) -> str:
    return f"{timezone.localdate() - datetime.timedelta(days=days_ago)} 10:00"


@pytest.fixture
def customer_base(admin_user, make_user):
    """Customers who keep buying and customers who drift away after complaints: the leavers
    bought less and less, complained, and stopped buying 100-150 days ago; a few of each
    kind behave like the other, so the signal is clear but not perfect."""
    rng = np.random.default_rng(11)
    rep = make_user("rep", Role.SALES_REP)
    plan = history.product("PLAN", "Plan")
    purchases, complainers = [], []
    people = {"stayers": [], "leavers": []}
    for number in range(90):
        leaver = number % 2 == 1
        contrary = number % 9 == 0
        owner = {"owner_id": rep.pk} if number < 10 else {}
        contact = history.customer(admin_user, f"Customer {number:02d}", **owner)
        people["leavers" if leaver else "stayers"].append(contact)
        stops = int(rng.integers(100, 150)) if leaver != contrary else 0
        days_ago = int(rng.integers(330, 400))
        amount = 200.0
        while days_ago > stops:
            purchases.append((contact, history.moment(day_text(days_ago)), f"{amount:.2f}"))
            days_ago -= int(rng.integers(12, 25))
            if leaver:
                amount = max(20.0, amount * 0.85)
        if leaver and not contrary:
            complainers.append((contact, stops + int(rng.integers(5, 40))))
    history.orders_in_bulk(purchases, plan)
    for contact, days_ago in complainers:
        history.case(contact, category="complaint", at=day_text(days_ago), resolution_breached=True, csat=1)
        history.interaction(contact, "phone", at=day_text(days_ago))
    return {"rep": rep, **people}


def test_the_model_is_chosen_by_cross_validation_and_gets_a_model_card(warehouse_engine, customer_base):
    # given a warehouse with a year of history
    warehouse_refresh(actor=None)

    # when the churn model is trained
    run = churn_model_train(actor=None)

    # then both candidates were cross-validated and the better one kept, with a model card
    assert run.status == RunStatus.SUCCEEDED, run.message
    model = ChurnModel.objects.get(pk=run.parameters["model_id"])
    assert set(model.cross_validation) == {"logistic_regression", "gradient_boosting"}
    # the better mean AUC wins; on a tie the simpler, more readable logistic regression
    best = max(model.cross_validation, key=lambda name: (model.cross_validation[name]["mean_auc"],
                                                         name == "logistic_regression"))
    assert model.algorithm == best
    assert model.auc > 0.75 and 0 <= model.brier_score < 0.25
    assert model.customers == 90 and 0.3 < model.churn_rate < 0.7
    assert model.horizon_days == 90 and model.cutoff_date == timezone.localdate() - datetime.timedelta(days=90)
    # the reliability table covers every held-out customer (a quarter of them)
    assert sum(band["customers"] for band in model.calibration) == round(90 * 0.25 + 0.4)
    assert all(0 <= band["observed"] <= 1 and band["low"] <= band["predicted"] <= band["high"]
               for band in model.calibration)
    assert [name for name, _value in model.importances] != [] and set(model.features) == set(FEATURE_NAMES)


def test_scoring_writes_risks_and_reasons_and_fills_the_retention_list(warehouse_engine, customer_base, admin_user):
    # given a warehouse with a year of history
    warehouse_refresh(actor=None)

    # when customers are scored (a model is trained first, as none exists)
    run = churn_scores_compute(actor=None)

    # then every active customer has a risk; leavers on average far above stayers
    assert run.status == RunStatus.SUCCEEDED, run.message
    risks = dict(Contact.objects.values_list("pk", "churn_risk"))
    active_stayers = [risks[contact.pk] for contact in customer_base["stayers"] if risks[contact.pk] is not None]
    leavers = [risks[contact.pk] for contact in customer_base["leavers"] if risks[contact.pk] is not None]
    assert len(active_stayers) == len(leavers) == 45  # everybody bought within the past year
    assert np.mean(leavers) > np.mean(active_stayers) + 0.25

    # and the riskiest customers carry their reasons, largest effect first
    riskiest = CustomerScore.objects.exclude(churn_risk=None).order_by("-churn_risk").first()
    assert riskiest.churn_reasons and all(reason["feature"] in FEATURE_NAMES for reason in riskiest.churn_reasons)
    effects = [reason["effect"] for reason in riskiest.churn_reasons]
    assert effects == sorted(effects, reverse=True) and effects[0] > 0
    assert {reason["feature"] for reason in riskiest.churn_reasons} & {
        "recency_days", "spend_trend", "complaints", "sla_breaches", "satisfaction", "orders_last_year",
        "spend_last_year", "cases", "interactions_phone"}

    # and the retention list holds exactly the customers at or above the threshold
    at_risk = set(Contact.objects.filter(churn_risk__gte=0.5).values_list("pk", flat=True))
    assert set(RetentionListEntry.objects.values_list("contact_id", flat=True)) == at_risk and at_risk
    assert run.parameters["retention_list"] == len(at_risk)

    # and, with the marketing domain installed, a static segment mirrors it
    if apps.is_installed("guanxi.marketing"):
        from guanxi.marketing.models import Segment, SegmentMember

        segment = Segment.objects.get(pk=run.parameters["retention_segment_id"])
        assert segment.kind == "static"
        assert set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == at_risk

    # and scoring again keeps the same segment
    again = churn_scores_compute(actor=None)
    assert again.parameters["retention_segment_id"] == run.parameters["retention_segment_id"]
    assert again.changed == 0


def test_the_model_card_page_and_the_retention_list_respect_rights(warehouse_engine, customer_base, admin_user,
                                                                    make_user):
    warehouse_refresh(actor=None)
    churn_scores_compute(actor=None)
    admin = Client()
    admin.force_login(admin_user)

    # the administrator sees the card with AUC, calibration and the retention list
    page = admin.get(reverse("analytics:churn_model")).content.decode()
    assert "AUC on held-out customers" in page and "Reliability table" in page and "Retention list" in page
    assert 'data-chart="chart-data-calibration-chart"' in page

    # a sales manager sees the card but only the customers of the team (none here)
    manager = make_user("manager", Role.SALES_MANAGER)
    manager_client = Client()
    manager_client.force_login(manager)
    page = manager_client.get(reverse("analytics:churn_model")).content.decode()
    assert "Customer 0" not in page and "Nobody you may see is on the retention list." in page
    api = Client()
    api.force_login(manager)
    assert api.get("/api/v1/analytics/retention-list").json()["items"] == []

    # a sales rep may not see the card
    rep_client = Client()
    rep_client.force_login(customer_base["rep"])
    assert rep_client.get(reverse("analytics:churn_model")).status_code == 403
    assert rep_client.post(reverse("analytics:churn_model_train")).status_code == 403

    # the 360° page shows a customer's risk with the reasons in words
    riskiest = next(score for score in CustomerScore.objects.exclude(churn_risk=None).order_by("-churn_risk")
                    if score.churn_reasons)
    page = admin.get(reverse("core:contact_360", args=[riskiest.contact_id])).content.decode()
    assert "What raises the risk most:" in page
    assert str(FEATURES[riskiest.churn_reasons[0]["feature"]]) in page


def test_too_little_history_gives_a_clear_message(warehouse_engine, admin_user, api_client):
    # given three customers
    plan = history.product("PLAN", "Plan")
    for number in range(3):
        history.order(history.customer(admin_user, f"C{number}"), [(plan, 1, "10.00")], at=day_text(120))
    warehouse_refresh(actor=None)

    # when training and scoring are asked for
    run = churn_model_train(actor=None)
    scoring = churn_scores_compute(actor=None)

    # then nothing is trained or written and both say why
    assert run.status == scoring.status == RunStatus.TOO_LITTLE_HISTORY
    assert "at least 40 customers" in run.message
    assert not ChurnModel.objects.exists() and not Contact.objects.exclude(churn_risk=None).exists()
    assert "Too little history" in api_client.get("/api/v1/analytics/churn-model").json()["message"]


def test_a_sales_rep_may_not_train(warehouse_engine, make_user):
    with pytest.raises(PermissionDenied):
        churn_model_train(actor=make_user("rep", Role.SALES_REP))


def test_reasons_come_from_occlusion_on_the_engine():
    """On a pure-Python level: a feature that alone drives the risk is the reason."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(400, 3))
    labels = (features[:, 1] + 0.3 * rng.normal(size=400) > 0.5).astype(int)
    training = churn.train_churn_model(features, labels, ("noise", "signal", "other"))
    assert training.auc > 0.9 and training.importances[0][0] == "signal"
    risky = np.array([[0.0, 3.0, 0.0]])
    reasons = churn.top_reasons(training.estimator, risky, training.baseline)
    assert reasons[0][0][0] == 1 and reasons[0][0][1] > 0.3
