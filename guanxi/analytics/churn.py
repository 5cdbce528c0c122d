"""Churn prediction: model choice by cross-validation, a model card, per-customer reasons.

Plain scikit-learn and NumPy, no Django: the service in ``services/churn.py`` builds the
feature matrix from the warehouse and stores what this module returns.

* Two candidates — logistic regression (standardized features) and gradient boosting
  (``GradientBoostingClassifier``: shallow trees, single-threaded, so it neither fights the
  web server for cores nor waits on its own threads), both after median imputation of
  unknown values — are compared by stratified k-fold cross-validated ROC AUC; the better
  one is kept. Training uses at most ``MAXIMUM_TRAINING_CUSTOMERS`` customers (a stratified
  sample beyond that); scoring covers everyone.
* The model card is measured on customers held out of fitting: ROC AUC, Brier score and
  a reliability table (predicted against observed churn by risk band); the permutation
  importance of each feature says what the model relies on overall. The model is then
  refitted on everybody for scoring.
* Reasons for one customer are local attributions computed simply and model-agnostically
  by occlusion: set one feature to its typical value (the training median) and see how
  much the predicted risk falls. The features whose typical value would lower the risk
  most are that customer's top reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

MINIMUM_CUSTOMERS = 40
MINIMUM_PER_CLASS = 10
MAXIMUM_TRAINING_CUSTOMERS = 200_000
CALIBRATION_BANDS = 10


class InsufficientHistoryError(ValueError):
    """Too few customers, or too few who churned or stayed, to learn from."""


@dataclass
class ChurnTraining:
    algorithm: str
    estimator: object
    cross_validation: dict[str, dict[str, float]]
    auc: float
    brier_score: float
    calibration: list[dict[str, float]]
    importances: list[tuple[str, float]]
    baseline: NDArray[np.float64]
    customers: int
    churn_rate: float
    features: tuple[str, ...] = field(default=())


def candidates(random_state: int = 0) -> dict[str, object]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic_regression": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                             LogisticRegression(max_iter=1000)),
        "gradient_boosting": make_pipeline(SimpleImputer(strategy="median"), GradientBoostingClassifier(
            n_estimators=120, learning_rate=0.08, max_depth=3, subsample=0.8, random_state=random_state)),
    }


def _check_history(labels: NDArray[np.int64]) -> None:
    churned = int(labels.sum())
    stayed = int(len(labels) - churned)
    if len(labels) < MINIMUM_CUSTOMERS:
        raise InsufficientHistoryError(
            f"a churn model needs at least {MINIMUM_CUSTOMERS} customers with a purchase history; got {len(labels)}")
    if min(churned, stayed) < MINIMUM_PER_CLASS:
        raise InsufficientHistoryError(
            f"a churn model needs at least {MINIMUM_PER_CLASS} customers who churned and {MINIMUM_PER_CLASS} who "
            f"stayed; got {churned} and {stayed}")


def calibration_table(probabilities: NDArray[np.float64], labels: NDArray[np.int64],
                      bands: int = CALIBRATION_BANDS) -> list[dict[str, float]]:
    """Risk bands of equal width: customers, mean predicted risk, observed churn rate."""
    edges = np.linspace(0.0, 1.0, bands + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bands - 1)
    table = []
    for band in range(bands):
        members = index == band
        if not members.any():
            continue
        table.append({"low": float(edges[band]), "high": float(edges[band + 1]), "customers": int(members.sum()),
                      "predicted": float(probabilities[members].mean()), "observed": float(labels[members].mean())})
    return table


def single_threaded(function):
    """Run with one BLAS/OpenMP thread. Gradient boosting fans out to every core by default;
    on a shared machine the threads mostly wait for each other (a 2-second fit took a
    minute), and the nightly job has the machine's other work to share it with."""
    from functools import wraps

    @wraps(function)
    def limited(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return limited


@single_threaded
def train_churn_model(features: NDArray[np.float64], labels: NDArray[np.int64], names: tuple[str, ...], *,
                      folds: int = 5, random_state: int = 0) -> ChurnTraining:
    """Choose, evaluate and fit the churn model. ``features`` may hold NaN (unknown)."""
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    _check_history(labels)
    if len(labels) > MAXIMUM_TRAINING_CUSTOMERS:
        features, _rest, labels, _rest_labels = train_test_split(
            features, labels, train_size=MAXIMUM_TRAINING_CUSTOMERS, stratify=labels, random_state=random_state)
    folds = max(2, min(folds, int(min(labels.sum(), len(labels) - labels.sum()))))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    scores = {}
    for name, estimator in candidates(random_state).items():
        fold_scores = cross_val_score(estimator, features, labels, cv=splitter, scoring="roc_auc")
        scores[name] = {"mean_auc": float(np.mean(fold_scores)), "std_auc": float(np.std(fold_scores))}
    algorithm = max(scores, key=lambda name: (scores[name]["mean_auc"], name == "logistic_regression"))

    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, stratify=labels,
                                                        random_state=random_state)
    held_out_model = clone(candidates(random_state)[algorithm]).fit(train_x, train_y)
    predicted = held_out_model.predict_proba(test_x)[:, 1]
    importance = permutation_importance(held_out_model, test_x, test_y, scoring="roc_auc", n_repeats=5,
                                        random_state=random_state)
    estimator = clone(candidates(random_state)[algorithm]).fit(features, labels)
    baseline = np.nanmedian(np.where(np.isfinite(features), features, np.nan), axis=0)
    baseline = np.where(np.isnan(baseline), 0.0, baseline)
    return ChurnTraining(
        algorithm=algorithm, estimator=estimator, cross_validation=scores,
        auc=float(roc_auc_score(test_y, predicted)), brier_score=float(brier_score_loss(test_y, predicted)),
        calibration=calibration_table(predicted, test_y),
        importances=sorted(((name, float(value)) for name, value in zip(names, importance.importances_mean,
                                                                         strict=True)),
                           key=lambda item: -item[1]),
        baseline=baseline, customers=int(len(labels)), churn_rate=float(labels.mean()), features=tuple(names))


@single_threaded
def churn_probabilities(estimator, features: NDArray[np.float64]) -> NDArray[np.float64]:
    if not len(features):
        return np.zeros(0)
    return estimator.predict_proba(np.asarray(features, dtype=np.float64))[:, 1]


@single_threaded
def top_reasons(estimator, features: NDArray[np.float64], baseline: NDArray[np.float64], *, count: int = 3,
                probabilities: NDArray[np.float64] | None = None) -> list[list[tuple[int, float]]]:
    """For each customer, up to ``count`` (feature index, risk added) with a positive effect,
    largest first: how much higher the risk is than with that feature at its typical value."""
    features = np.asarray(features, dtype=np.float64)
    if not len(features):
        return []
    risk = churn_probabilities(estimator, features) if probabilities is None else probabilities
    effects = np.empty(features.shape)
    for column in range(features.shape[1]):
        typical = features.copy()
        typical[:, column] = baseline[column]
        effects[:, column] = risk - churn_probabilities(estimator, typical)
    order = np.argsort(-effects, axis=1, kind="stable")[:, :count]
    reasons = []
    for row, columns in enumerate(order):
        reasons.append([(int(column), float(effects[row, column])) for column in columns
                        if effects[row, column] > 1e-4])
    return reasons
