"""Golden tests on CDNOW: our fits reproduce the published parameters and agree with lifetimes.

The CDNOW data ship with lifetimes 0.11.3, the test oracle (never a runtime dependency):
the 2,357-customer calibration sample in weeks used by Fader, Hardie & Lee (2005) and the
raw CDNOW master transaction log.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

from guanxi.analytics import clv

DATASETS = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets"
RELATIVE_TOLERANCE = 0.005  # "each within 0.5 %" of the published figures


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """x, t_x, T in weeks and zbar (mean repeat spend) for the 2,357 CDNOW sample customers."""
    frame = pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")
    return frame.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="module")
def repeat_buyers(cdnow: pd.DataFrame) -> pd.DataFrame:
    return cdnow[cdnow.frequency > 0]


@pytest.fixture(scope="module")
def bgnbd(cdnow: pd.DataFrame) -> clv.BGNBDModel:
    return clv.BGNBDModel.fit(cdnow.frequency, cdnow.recency, cdnow["T"])


@pytest.fixture(scope="module")
def pareto(cdnow: pd.DataFrame) -> clv.ParetoNBDModel:
    return clv.ParetoNBDModel.fit(cdnow.frequency, cdnow.recency, cdnow["T"])


@pytest.fixture(scope="module")
def gamma_gamma(cdnow: pd.DataFrame) -> clv.GammaGammaModel:
    return clv.GammaGammaModel.fit(cdnow.frequency, cdnow.monetary_value)


def assert_close_to_published(fitted: dict[str, float], published: dict[str, float]) -> None:
    for name, value in published.items():
        assert fitted[name] == pytest.approx(value, rel=RELATIVE_TOLERANCE), name


# ------------------------------------------------------------------ BG/NBD


def test_bgnbd_reproduces_fader_hardie_lee_2005(bgnbd: clv.BGNBDModel) -> None:
    # then the parameters and log-likelihood are those of FHL 2005, section 5
    assert_close_to_published(bgnbd.parameters, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert bgnbd.log_likelihood == pytest.approx(-9582.43, rel=RELATIVE_TOLERANCE)
    assert bgnbd.customers == 2357


def test_bgnbd_log_likelihood_matches_lifetimes_at_and_away_from_the_optimum(
        cdnow: pd.DataFrame, bgnbd: clv.BGNBDModel) -> None:
    x, t_x, T = (cdnow[column].to_numpy(dtype=float) for column in ("frequency", "recency", "T"))
    for parameters in (bgnbd.parameters, {"r": 1.3, "alpha": 0.7, "a": 2.5, "b": 0.4}):
        ours = clv.BGNBDModel(**parameters, log_likelihood=0.0, customers=0, iterations=0)
        # lifetimes returns the mean negative log-likelihood over customers
        theirs = -len(x) * BetaGeoFitter._negative_log_likelihood(
            np.log(list(parameters.values())), x, t_x, T, np.ones_like(x), 0.0)
        assert ours.customer_log_likelihood(x, t_x, T).sum() == pytest.approx(theirs, rel=1e-10)
    assert bgnbd.log_likelihood == pytest.approx(bgnbd.customer_log_likelihood(x, t_x, T).sum(), rel=1e-12)


def test_bgnbd_predictions_match_lifetimes(cdnow: pd.DataFrame, bgnbd: clv.BGNBDModel) -> None:
    # given lifetimes' BG/NBD holding our parameters
    oracle = BetaGeoFitter()
    oracle.params_ = pd.Series(bgnbd.parameters)
    x, t_x, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    # then conditional expected purchases, P(alive) and E[X(t)] agree
    for t in (1.0, 10.0, 39.0):
        np.testing.assert_allclose(
            bgnbd.expected_purchases(t, x, t_x, T),
            oracle.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(bgnbd.probability_alive(x, t_x, T), oracle.conditional_probability_alive(x, t_x, T),
                               rtol=1e-9)
    np.testing.assert_allclose(bgnbd.unconditional_expected_purchases([1.0, 39.0, 78.0]),
                               oracle.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 78.0])),
                               rtol=1e-9)


# -------------------------------------------------------------- Pareto/NBD


def test_pareto_nbd_reproduces_published_parameters(pareto: clv.ParetoNBDModel) -> None:
    # r=0.553, α=10.578, s=0.606, β=11.669 (Fader, Hardie & Lee 2005, section 5)
    assert_close_to_published(pareto.parameters, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    # and the log-likelihood FHL report for the Pareto/NBD on these data, −9595.0
    assert pareto.log_likelihood == pytest.approx(-9595.0, abs=0.1)


def test_pareto_nbd_log_likelihood_matches_lifetimes(cdnow: pd.DataFrame, pareto: clv.ParetoNBDModel) -> None:
    x, t_x, T = (cdnow[column].to_numpy(dtype=float) for column in ("frequency", "recency", "T"))
    # both branches of the hypergeometric term: α < β at the optimum, α > β in the second set
    for parameters in (pareto.parameters, {"r": 0.8, "alpha": 25.0, "s": 1.7, "beta": 3.0}):
        ours = clv.ParetoNBDModel(**parameters, log_likelihood=0.0, customers=0, iterations=0)
        theirs = ParetoNBDFitter._conditional_log_likelihood(list(parameters.values()), x, t_x, T)
        np.testing.assert_allclose(ours.customer_log_likelihood(x, t_x, T), theirs, rtol=1e-9)


def test_pareto_nbd_predictions_match_lifetimes(cdnow: pd.DataFrame, pareto: clv.ParetoNBDModel) -> None:
    oracle = ParetoNBDFitter()
    oracle.params_ = pd.Series(pareto.parameters)
    x, t_x, T = (cdnow[column].to_numpy(dtype=float) for column in ("frequency", "recency", "T"))
    np.testing.assert_allclose(pareto.probability_alive(x, t_x, T), oracle.conditional_probability_alive(x, t_x, T),
                               rtol=1e-8)
    np.testing.assert_allclose(
        pareto.expected_purchases(39.0, x, t_x, T),
        oracle.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T), rtol=1e-8)


# ------------------------------------------------------------- Gamma-Gamma


def test_gamma_gamma_reproduces_published_parameters(gamma_gamma: clv.GammaGammaModel,
                                                      repeat_buyers: pd.DataFrame) -> None:
    # p=6.25, q=3.74, v=15.44 on the repeat buyers' mean spend (lifetimes' documentation)
    assert_close_to_published(gamma_gamma.parameters, {"p": 6.25, "q": 3.74, "v": 15.44})
    # and only the 946 repeat buyers were used
    assert gamma_gamma.customers == len(repeat_buyers) == 946


def test_gamma_gamma_log_likelihood_and_spend_match_lifetimes(gamma_gamma: clv.GammaGammaModel,
                                                               repeat_buyers: pd.DataFrame,
                                                               cdnow: pd.DataFrame) -> None:
    x = repeat_buyers.frequency.to_numpy(dtype=float)
    m = repeat_buyers.monetary_value.to_numpy(dtype=float)
    theirs = -len(x) * GammaGammaFitter._negative_log_likelihood(
        np.log(list(gamma_gamma.parameters.values())), x, m, np.ones_like(x), 0.0)
    assert gamma_gamma.log_likelihood == pytest.approx(theirs, rel=1e-10)
    oracle = GammaGammaFitter()
    oracle.params_ = pd.Series(gamma_gamma.parameters)
    np.testing.assert_allclose(gamma_gamma.expected_average_spend(cdnow.frequency, cdnow.monetary_value),
                               oracle.conditional_expected_average_profit(cdnow.frequency, cdnow.monetary_value),
                               rtol=1e-12)


# ------------------------------------------------------------ lifetime value


# lifetimes' Pareto/NBD takes log(0) when asked for purchases in the next 0 weeks
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
@pytest.mark.parametrize("purchase_model_name", ["bgnbd", "pareto"])
def test_customer_lifetime_value_matches_lifetimes_discounted_cash_flow(
        request: pytest.FixtureRequest, purchase_model_name: str, gamma_gamma: clv.GammaGammaModel,
        cdnow: pd.DataFrame) -> None:
    purchase_model = request.getfixturevalue(purchase_model_name)
    oracle_purchases = BetaGeoFitter() if purchase_model_name == "bgnbd" else ParetoNBDFitter()
    oracle_purchases.params_ = pd.Series(purchase_model.parameters)
    oracle_purchases.predict = oracle_purchases.conditional_expected_number_of_purchases_up_to_time
    oracle_spend = GammaGammaFitter()
    oracle_spend.params_ = pd.Series(gamma_gamma.parameters)
    x, t_x, T, m = cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value
    # when both value the next 12 months at 1 % a month, in weeks
    ours = clv.customer_lifetime_value(purchase_model, gamma_gamma, x, t_x, T, m, months=12,
                                       monthly_discount_rate=0.01, period="weeks")
    theirs = oracle_spend.customer_lifetime_value(oracle_purchases, x, t_x, T, m, time=12, discount_rate=0.01,
                                                  freq="W")
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)
    # and discounting lowers the value of every customer who is expected to buy
    undiscounted = clv.customer_lifetime_value(purchase_model, gamma_gamma, x, t_x, T, m, months=12,
                                               monthly_discount_rate=0.0, period="weeks")
    assert np.all(ours < undiscounted)


# --------------------------------------------------------- summary builder


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    """The raw CDNOW master log: 69,659 purchases of 23,570 customers, 1997-01 to 1998-06."""
    frame = pd.read_csv(DATASETS / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.mark.parametrize(("period", "frequency_code"), [("days", "D"), ("weeks", "W")])
def test_summary_from_cdnow_transactions_matches_lifetimes(cdnow_transactions: pd.DataFrame, period: str,
                                                           frequency_code: str) -> None:
    # given the CDNOW log cut at the end of FHL's 39-week calibration period
    theirs = summary_data_from_transaction_data(
        cdnow_transactions, "customer_id", "date", monetary_value_col="dollar_value",
        observation_period_end="1997-09-30", freq=frequency_code).sort_index()
    # when we summarise the same log
    ours = clv.summary_from_transactions(
        cdnow_transactions.customer_id.to_numpy(), cdnow_transactions.date.to_numpy(),
        cdnow_transactions.dollar_value.to_numpy(), period=period, observation_end="1997-09-30")
    # then every customer's frequency, recency, T and monetary value agree
    assert list(ours.customer_id) == list(theirs.index)
    np.testing.assert_array_equal(ours.frequency, theirs.frequency)
    np.testing.assert_array_equal(ours.recency, theirs.recency)
    np.testing.assert_array_equal(ours.T, theirs["T"])
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-12)


def test_summary_counts_periods_not_purchases_and_weeks_start_on_monday() -> None:
    # given a customer who buys on Sunday 2024-01-07 (twice) and Monday 2024-01-08, with the
    # log observed to Wednesday 2024-01-24
    customer = ["c", "c", "c", "d"]
    dates = ["2024-01-07", "2024-01-07", "2024-01-08", "2024-01-24"]
    amounts = [10.0, 5.0, 30.0, 1.0]
    # when summarised in days: three purchases on two days is one repeat day worth 30
    days = clv.summary_from_transactions(customer, dates, amounts, period="days")
    assert (days.frequency[0], days.recency[0], days.T[0], days.monetary_value[0]) == (1, 1.0, 17.0, 30.0)
    # and in weeks the Sunday and the Monday fall in different weeks (Monday-to-Sunday),
    # the 24th in the third week after the first
    weeks = clv.summary_from_transactions(customer, dates, amounts, period="weeks")
    assert (weeks.frequency[0], weeks.recency[0], weeks.T[0], weeks.monetary_value[0]) == (1, 1.0, 3.0, 30.0)
    # and a customer seen once has no repeat purchase and no repeat spend
    assert (weeks.frequency[1], weeks.recency[1], weeks.T[1], weeks.monetary_value[1]) == (0, 0.0, 0.0, 0.0)
