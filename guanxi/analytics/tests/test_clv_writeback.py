"""Lifetime values fitted on the warehouse's purchase history and written back to customers,
and the clear message instead of a fit when the history is too thin."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from guanxi.analytics import clv
from guanxi.analytics.models import CustomerScore, RunStatus
from guanxi.analytics.services.scoring import lifetime_values_compute
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import Contact

pytestmark = pytest.mark.django_db
REFERENCE = datetime.date(2025, 6, 30)


def simulated_base(admin_user, customers: int = 200, seed: int = 7) -> dict[str, Contact]:
    """Customers drawn from BG/NBD (first purchases spread over 18 months, repeat purchases
    until they leave), plus two marked ones: a weekly buyer until today and a one-off buyer
    from long ago."""
    rng = np.random.default_rng(seed)
    plan = history.product("PLAN", "Plan")
    ages = rng.integers(60, 540, size=customers).astype(float)
    frequency, recency, ages = clv.simulate_bgnbd(ages, r=0.6, alpha=30.0, a=0.8, b=2.5, random_state=rng)
    purchases = []
    for number, (repeats, last, age) in enumerate(zip(frequency, recency, ages, strict=True)):
        contact = history.customer(admin_user, f"Customer {number:03d}")
        first = REFERENCE - datetime.timedelta(days=int(age))
        offsets = sorted({0, int(last), *rng.integers(1, max(int(last), 2), size=max(int(repeats) - 1, 0))})
        for offset in offsets:
            purchases.append((contact, history.moment(f"{first + datetime.timedelta(days=int(offset))} 10:00"),
                              f"{rng.gamma(4.0, 25.0):.2f}"))
    frequent = history.customer(admin_user, "Frequent")
    for week in range(40):
        purchases.append((frequent, history.moment(f"{REFERENCE - datetime.timedelta(days=7 * week)} 10:00"),
                          "120.00"))
    one_off = history.customer(admin_user, "One-off")
    purchases.append((one_off, history.moment("2024-01-05 10:00"), "120.00"))
    history.orders_in_bulk(purchases, plan)
    return {"frequent": frequent, "one_off": one_off}


def test_lifetime_values_are_fitted_and_written_back(warehouse_engine, admin_user, api_client):
    # given a simulated customer base in the warehouse
    people = simulated_base(admin_user)
    warehouse_refresh(actor=None)

    # when lifetime values are computed
    run = lifetime_values_compute(actor=None, reference_date=REFERENCE)

    # then the BG/NBD and Gamma-Gamma parameters are recorded, and every buyer has a value
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert set(run.parameters["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(run.parameters["gamma_gamma"]) == {"p", "q", "v"}
    assert run.customers == 202 and run.changed == 202
    assert Contact.objects.filter(lifetime_value__isnull=False).count() == 202
    frequent = CustomerScore.objects.get(contact=people["frequent"])
    one_off = CustomerScore.objects.get(contact=people["one_off"])
    # a weekly buyer until today is worth far more than a one-off buyer of eighteen months ago
    assert frequent.lifetime_value > 10 * one_off.lifetime_value
    assert frequent.probability_alive > 0.9 and one_off.probability_alive <= 1.0
    assert frequent.expected_purchases > 10 * one_off.expected_purchases
    assert Contact.objects.get(pk=people["frequent"].pk).lifetime_value == frequent.lifetime_value

    # and the API shows the value on the customer
    answer = api_client.get(f"/api/v1/analytics/customers/{people['frequent'].pk}/scores").json()
    assert answer["lifetime_value"] == float(frequent.lifetime_value) and answer["lifetime_value_message"] == ""

    # and computing again on the same data changes nothing
    again = lifetime_values_compute(actor=None, reference_date=REFERENCE)
    assert again.status == RunStatus.SUCCEEDED and again.changed == 0


def test_too_little_history_gives_a_message_instead_of_a_fit(warehouse_engine, admin_user, api_client):
    # given five customers who each bought once
    plan = history.product("PLAN", "Plan")
    customers = [history.customer(admin_user, f"Customer {number}") for number in range(5)]
    history.orders_in_bulk([(contact, history.moment("2025-03-01 10:00"), "99.00") for contact in customers], plan)
    warehouse_refresh(actor=None)

    # when lifetime values are computed
    run = lifetime_values_compute(actor=None, reference_date=REFERENCE)

    # then the run says there is too little history, and nothing is written
    assert run.status == RunStatus.TOO_LITTLE_HISTORY
    assert "Too little purchase history" in run.message and "20 customers" in run.message
    assert not Contact.objects.filter(lifetime_value__isnull=False).exists()
    assert not CustomerScore.objects.exists()

    # and the customer's scores carry the message in place of a value
    answer = api_client.get(f"/api/v1/analytics/customers/{customers[0].pk}/scores").json()
    assert answer["lifetime_value"] is None
    assert "Too little purchase history" in answer["lifetime_value_message"]


def test_no_purchases_at_all_is_too_little_history(warehouse_engine, admin_user):
    history.customer(admin_user, "Ann")
    warehouse_refresh(actor=None)
    run = lifetime_values_compute(actor=None, reference_date=REFERENCE)
    assert run.status == RunStatus.TOO_LITTLE_HISTORY and "no customer has bought anything" in run.message


def test_a_fit_that_does_not_converge_keeps_the_last_values_and_says_where_it_stopped(
        warehouse_engine, admin_user, monkeypatch):
    # given lifetime values computed once
    people = simulated_base(admin_user, customers=60)
    warehouse_refresh(actor=None)
    first = lifetime_values_compute(actor=None, reference_date=REFERENCE)
    assert first.status == RunStatus.SUCCEEDED, first.message
    before = dict(Contact.objects.filter(lifetime_value__isnull=False).values_list("pk", "lifetime_value"))

    # when the next BG/NBD fit runs out of iterations (a real stop of the optimizer, not a fake error)
    fit = clv.BGNBDModel.fit.__func__
    monkeypatch.setattr(clv.BGNBDModel, "fit", classmethod(
        lambda model, *arguments, **options: fit(model, *arguments, **{**options, "max_iterations": 2})))
    run = lifetime_values_compute(actor=None, reference_date=REFERENCE + datetime.timedelta(days=30))

    # then the run says it did not converge and keeps where the optimizer stopped
    assert run.status == RunStatus.NOT_CONVERGED
    assert "did not converge" in run.message and "last parameters" in run.message
    assert set(run.parameters["last_parameters"]) == {"r", "alpha", "a", "b"}
    assert np.isfinite(run.parameters["log_likelihood"]) and run.changed == 0
    # and no customer's value was touched
    assert dict(Contact.objects.filter(lifetime_value__isnull=False).values_list("pk", "lifetime_value")) == before
    assert CustomerScore.objects.get(contact=people["frequent"]).lifetime_value == before[people["frequent"].pk]
