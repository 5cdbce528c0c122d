"""The analytic gradients the fits hand to L-BFGS-B equal the likelihood's numerical slope.

A wrong gradient can still let a fit land near the optimum on one data set, so each
model's objective (the mean negative log-likelihood over log-parameters, on compressed
CDNOW histories) is caught on its way to the optimizer and checked by central
differences at the optimum and away from it — for Pareto/NBD on both branches of its
hypergeometric term (α < β and α > β).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from guanxi.analytics import clv

DATASETS = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets"
STEP = 1e-6  # in log-parameter space


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    frame = pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture
def objectives(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Each fit's objective, keyed by model name, as the optimizer receives it."""
    caught = {}
    optimize = clv._maximize_log_likelihood

    def catching(model, names, objective, *arguments, **options):
        caught[model] = objective
        return optimize(model, names, objective, *arguments, **options)

    monkeypatch.setattr(clv, "_maximize_log_likelihood", catching)
    return caught


def numerical_gradient(objective, log_parameters: np.ndarray) -> np.ndarray:
    slopes = []
    for index in range(log_parameters.size):
        step = np.zeros_like(log_parameters)
        step[index] = STEP
        slopes.append((objective(log_parameters + step)[0] - objective(log_parameters - step)[0]) / (2 * STEP))
    return np.array(slopes)


def assert_gradient_matches(objective, parameters: dict[str, float]) -> None:
    log_parameters = np.log(np.array(list(parameters.values()), dtype=float))
    value, gradient = objective(log_parameters)
    assert np.isfinite(value)
    np.testing.assert_allclose(gradient, numerical_gradient(objective, log_parameters), rtol=1e-5, atol=1e-7)


def test_bgnbd_gradient(cdnow: pd.DataFrame, objectives: dict) -> None:
    fitted = clv.BGNBDModel.fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    objective = objectives["BG/NBD"]
    for parameters in (fitted.parameters, {"r": 1.3, "alpha": 0.7, "a": 2.5, "b": 0.4},
                       {"r": 0.05, "alpha": 40.0, "a": 0.1, "b": 9.0}):
        assert_gradient_matches(objective, parameters)
    # and at the optimum the slope is flat
    assert np.max(np.abs(objective(np.log(list(fitted.parameters.values())))[1])) < 1e-5


def test_pareto_nbd_gradient_on_both_branches(cdnow: pd.DataFrame, objectives: dict) -> None:
    fitted = clv.ParetoNBDModel.fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    objective = objectives["Pareto/NBD"]
    for parameters in (fitted.parameters,                                      # α < β
                       {"r": 0.8, "alpha": 25.0, "s": 1.7, "beta": 3.0},       # α > β
                       {"r": 0.3, "alpha": 2.0, "s": 0.2, "beta": 60.0}):
        assert_gradient_matches(objective, parameters)


def test_gamma_gamma_gradient(cdnow: pd.DataFrame, objectives: dict) -> None:
    fitted = clv.GammaGammaModel.fit(cdnow.frequency, cdnow.monetary_value)
    objective = objectives["Gamma-Gamma"]
    for parameters in (fitted.parameters, {"p": 1.5, "q": 9.0, "v": 3.0}, {"p": 20.0, "q": 1.2, "v": 80.0}):
        assert_gradient_matches(objective, parameters)
