"""Lifetime value models refuse to fit thin or impossible data and say so when a fit fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from guanxi.analytics import clv


def cohort_with_repeat_buyers(customers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plausible (x, t_x, T) histories: every third customer bought again."""
    frequency = np.where(np.arange(customers) % 3 == 0, 1 + np.arange(customers) % 4, 0)
    T = np.full(customers, 30.0)
    recency = np.where(frequency > 0, 5.0 + np.arange(customers) % 20, 0.0)
    return frequency, recency, T


@pytest.mark.parametrize("model", [clv.BGNBDModel, clv.ParetoNBDModel])
def test_too_few_customers_is_refused_with_the_counts(model: type) -> None:
    # given only 12 customers
    frequency, recency, T = cohort_with_repeat_buyers(12)
    # then fitting refuses and says how many are needed and how many there are
    with pytest.raises(clv.InsufficientHistoryError, match=r"at least 20 customers.*got 12"):
        model.fit(frequency, recency, T)


@pytest.mark.parametrize("model", [clv.BGNBDModel, clv.ParetoNBDModel])
def test_no_repeat_buyers_is_refused(model: type) -> None:
    # given 500 customers who each bought once
    frequency, recency, T = np.zeros(500), np.zeros(500), np.linspace(1, 52, 500)
    with pytest.raises(clv.InsufficientHistoryError, match=r"none of the 500 customers made a repeat purchase"):
        model.fit(frequency, recency, T)


def test_gamma_gamma_counts_repeat_buyers_not_customers() -> None:
    # given 300 customers of whom only 15 bought again
    frequency = np.where(np.arange(300) < 15, 2, 0)
    monetary_value = np.where(frequency > 0, 30.0, 0.0)
    with pytest.raises(clv.InsufficientHistoryError, match=r"at least 20 repeat buyers.*got 15 of 300 customers"):
        clv.GammaGammaModel.fit(frequency, monetary_value)


def test_the_minimum_is_configurable() -> None:
    frequency, recency, T = cohort_with_repeat_buyers(12)
    with pytest.raises(clv.InsufficientHistoryError, match=r"at least 50 customers.*got 12"):
        clv.BGNBDModel.fit(frequency, recency, T, minimum_customers=50)


@pytest.mark.parametrize(("column", "frequency", "recency", "T", "problem"), [
    ("recency", 2, 40.0, 38.0, r"40 is greater than T = 38"),
    ("recency", 0, 3.0, 38.0, r"should be 0 for a customer without repeat purchases"),
    ("frequency", 1.5, 3.0, 38.0, r"1\.5 is not a whole number"),
    ("T", 0, 0.0, -1.0, r"-1 is not a finite number >= 0"),
    ("recency", 1, math.nan, 38.0, r"nan is not a finite number"),
])
def test_impossible_history_names_the_customer_and_column(column: str, frequency: float, recency: float, T: float,
                                                           problem: str) -> None:
    # given valid histories with one impossible customer at position 7
    frequencies, recencies, Ts = (np.array(values, dtype=float) for values in cohort_with_repeat_buyers(40))
    frequencies[7], recencies[7], Ts[7] = frequency, recency, T
    with pytest.raises(clv.InvalidSummaryError, match=problem) as raised:
        clv.BGNBDModel.fit(frequencies, recencies, Ts)
    assert (raised.value.column, raised.value.position) == (column, 7)


def test_repeat_buyer_without_positive_spend_is_rejected_by_gamma_gamma() -> None:
    frequency = np.full(30, 2)
    monetary_value = np.full(30, 20.0)
    monetary_value[4] = 0.0
    with pytest.raises(clv.InvalidSummaryError, match="not a positive mean spend") as raised:
        clv.GammaGammaModel.fit(frequency, monetary_value)
    assert (raised.value.column, raised.value.position) == ("monetary_value", 4)


def test_iteration_limit_reports_non_convergence_with_the_last_parameters() -> None:
    # given data that fit fine, when the optimiser may take only two steps
    rng = np.random.default_rng(11)
    frequency, recency, T = clv.simulate_bgnbd(rng.uniform(10, 50, 3000), r=0.4, alpha=5.0, a=0.8, b=2.0,
                                               random_state=rng)
    with pytest.raises(clv.FitDidNotConvergeError) as raised:
        clv.BGNBDModel.fit(frequency, recency, T, max_iterations=2)
    failure = raised.value
    # then it says so, with where it stopped
    assert failure.iterations == 2
    assert "did not converge after 2 iterations (iteration limit reached)" in str(failure)
    assert set(failure.last_parameters) == {"r", "alpha", "a", "b"}
    assert all(math.isfinite(value) and value > 0 for value in failure.last_parameters.values())
    assert math.isfinite(failure.log_likelihood)
    # and the same data fit when the optimiser is given room, to a better likelihood
    assert clv.BGNBDModel.fit(frequency, recency, T).log_likelihood > failure.log_likelihood


def test_spend_without_any_spread_cannot_be_fitted() -> None:
    # given repeat buyers who all spend exactly the same: no heterogeneity for q and v to
    # describe, so the likelihood keeps rising as they grow without bound
    frequency = np.tile([1, 2, 3, 4, 5], 20)
    monetary_value = np.full(100, 25.0)
    with pytest.raises(clv.FitDidNotConvergeError, match=r"ran off to") as raised:
        clv.GammaGammaModel.fit(frequency, monetary_value)
    assert set(raised.value.last_parameters) == {"p", "q", "v"}


@pytest.mark.parametrize("model", [clv.BGNBDModel, clv.ParetoNBDModel])
def test_customers_without_any_heterogeneity_cannot_be_fitted(model: type) -> None:
    # given sixty customers who all buy at the same steady rhythm: the gamma mixing
    # distribution of purchase rates has nothing to describe, so its shape and scale grow
    # without bound and no maximum exists
    frequency = np.tile([2, 3, 4], 20)
    recency = np.tile([30.0, 40.0, 45.0], 20)
    T = np.full(60, 52.0)
    with pytest.raises(clv.FitDidNotConvergeError, match=r"fit did not converge") as raised:
        model.fit(frequency, recency, T)
    assert set(raised.value.last_parameters) == set(model.parameter_names)
    assert raised.value.last_parameters["alpha"] > 1e5
