"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma, fitted by maximum likelihood.

Plain NumPy/SciPy, no Django: the engine works on arrays, so BG/NBD and Gamma-Gamma fit a
million customers well within the 2 s of SPEC §7 (see benchmarks/clv_fit.py), and the same
code serves the CLI, the scheduled scoring job and the tests.

Models and the papers they follow:

* :class:`BGNBDModel` — Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way:
  An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275–284.
* :class:`ParetoNBDModel` — Schmittlein, Morrison & Colombo (1987), "Counting Your
  Customers: Who Are They and What Will They Do Next?", *Management Science* 33(1), 1–24;
  likelihood in the form of Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD
  Model and Related Expressions" (brucehardie.com/notes/009).
* :class:`GammaGammaModel` — Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value
  Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430, and
  Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (notes/025).

Conventions shared by every model (those of the papers and of the ``lifetimes`` package):
``frequency`` (x) is the number of *repeat* purchase periods, ``recency`` (t_x) the time
from the first to the last purchase and ``T`` the time from the first purchase to the end
of observation, all in one period unit (days or weeks). ``monetary_value`` is the mean
spend of the repeat purchases (0 for customers without one).

How the fits are made fast and reliable:

* Customers with the same (x, t_x, T) contribute the same likelihood term, so each
  distinct pattern is evaluated once and weighted by its count (Fader & Hardie compress
  CDNOW the same way). On a daily grid a million customers collapse to a few hundred
  thousand patterns, and terms that depend on x alone (the log-gamma and digamma
  functions, the costliest part) collapse to a few hundred values.
* Parameters are optimised on the log scale (positivity for free, scale-free steps) by
  L-BFGS-B with analytic gradients of the log-likelihood.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

Period = Literal["days", "weeks"]

#: Model periods per month used to turn month-by-month CLV into model time; the values
#: are those of ``lifetimes.utils._customer_lifetime_value`` so results can be compared.
PERIODS_PER_MONTH: dict[str, float] = {"days": 30.0, "weeks": 4.345}

#: Fewer customers than this cannot pin down four shape parameters; asking for a fit on
#: them gives :class:`InsufficientHistoryError` rather than a meaningless answer.
MINIMUM_CUSTOMERS = 20

#: Log-parameters are kept inside ±this bound (parameters between 3e-7 and 3e6 in the
#: model's time unit). A parameter that runs into it is not identified by the data, and
#: the fit is reported as not converged instead of returning an arbitrary large number.
LOG_PARAMETER_BOUND = 15.0

#: A fit is accepted when the largest gradient component of the mean log-likelihood with
#: respect to the log-parameters is below this; it keeps the parameters to about 1e-6
#: relative on CDNOW-sized data.
GRADIENT_TOLERANCE = 1e-6

DEFAULT_MAX_ITERATIONS = 500


# --------------------------------------------------------------------------- errors


class ModelFitError(Exception):
    """A lifetime value model could not be fitted to the data given."""


class InsufficientHistoryError(ModelFitError, ValueError):
    """The purchase history is too short or too thin to estimate the model."""


class FitDidNotConvergeError(ModelFitError):
    """The optimiser stopped before reaching a maximum of the likelihood.

    ``last_parameters`` and ``log_likelihood`` hold where it stopped, so an analyst can
    judge whether the answer is usable or the data needs another look.
    """

    def __init__(self, model: str, reason: str, last_parameters: dict[str, float],
                 log_likelihood: float, iterations: int) -> None:
        self.model = model
        self.reason = reason
        self.last_parameters = last_parameters
        self.log_likelihood = log_likelihood
        self.iterations = iterations
        shown = ", ".join(f"{name}={value:.6g}" for name, value in last_parameters.items())
        super().__init__(
            f"{model} fit did not converge after {iterations} iterations ({reason}); "
            f"last parameters: {shown}; log-likelihood {log_likelihood:.6g}")


class InvalidSummaryError(ValueError):
    """A frequency/recency/T/monetary value is impossible; ``position`` is the 0-based index."""

    def __init__(self, column: str, position: int, message: str) -> None:
        self.column = column
        self.position = position
        self.problem = message
        super().__init__(f"customer at position {position}, {column}: {message}")


# ------------------------------------------------------------------- summary data


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer purchase history in the models' terms, one row per customer.

    Rows are ordered by customer id. ``period`` is the unit of ``recency`` and ``T``.
    """

    customer_id: NDArray
    frequency: NDArray[np.int64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    period: Period

    def __len__(self) -> int:
        return len(self.customer_id)


def _period_index(days_since_epoch: NDArray[np.int64], period: Period) -> NDArray[np.int64]:
    if period == "days":
        return days_since_epoch
    if period == "weeks":
        # Weeks run Monday to Sunday, as pandas' default weekly period ('W' = 'W-SUN')
        # that lifetimes uses; 1970-01-01 was a Thursday, three days after a Monday.
        return np.floor_divide(days_since_epoch + 3, 7)
    raise ValueError(f"period must be 'days' or 'weeks', not {period!r}")


def summary_from_transactions(customer_id: ArrayLike, purchase_date: ArrayLike,
                              amount: ArrayLike | None = None, *, period: Period = "days",
                              observation_end: object | None = None) -> CustomerSummary:
    """Build frequency, recency, T and monetary value from a transaction log.

    Follows ``lifetimes.utils.summary_data_from_transaction_data`` exactly: dates are
    floored to the period (days, or Monday-to-Sunday weeks); several purchases in one
    period count as one and their amounts are summed; the first period is the customer's
    "birth" and is left out of both frequency and monetary value; transactions after
    ``observation_end`` (default: the latest purchase date) are ignored.

    ``purchase_date`` may be ``datetime64`` values, ``datetime.date`` objects or ISO
    strings. ``amount`` is optional; without it ``monetary_value`` is all zeros.
    """
    customer_id = np.asarray(customer_id)
    days = np.asarray(purchase_date, dtype="datetime64[D]").astype(np.int64)
    if customer_id.shape != days.shape or customer_id.ndim != 1:
        raise ValueError("customer_id and purchase_date must be one-dimensional and of equal length")
    amounts = np.zeros(len(days)) if amount is None else np.asarray(amount, dtype=np.float64)
    if amounts.shape != days.shape:
        raise ValueError("amount must have one value per transaction")
    periods = _period_index(days, period)
    if observation_end is None:
        end_period = int(periods.max()) if len(periods) else 0
    else:
        end_day = np.asarray(observation_end, dtype="datetime64[D]").astype(np.int64)
        end_period = int(_period_index(np.asarray([end_day]), period)[0])
    within_observation = periods <= end_period
    customer_id, periods, amounts = (
        customer_id[within_observation], periods[within_observation], amounts[within_observation])

    customers, customer_code = np.unique(customer_id, return_inverse=True)
    first_period = periods.min() if len(periods) else 0
    span = int(periods.max() - first_period + 1) if len(periods) else 1
    # One integer per (customer, period) sorts by customer, then period, so the distinct
    # keys list each customer's purchase periods in order.
    key = customer_code.astype(np.int64) * span + (periods - first_period)
    distinct_keys, key_code = np.unique(key, return_inverse=True)
    period_amount = np.bincount(key_code, weights=amounts, minlength=len(distinct_keys))
    key_customer = distinct_keys // span
    key_period = distinct_keys % span + first_period
    periods_per_customer = np.bincount(key_customer, minlength=len(customers))
    first_row = np.concatenate(([0], np.cumsum(periods_per_customer)[:-1]))
    last_row = first_row + periods_per_customer - 1
    frequency = periods_per_customer - 1
    recency = (key_period[last_row] - key_period[first_row]).astype(np.float64)
    T = (end_period - key_period[first_row]).astype(np.float64)
    repeat_spend = np.bincount(key_customer, weights=period_amount, minlength=len(customers)) - period_amount[first_row]
    monetary_value = np.divide(repeat_spend, frequency, out=np.zeros(len(customers)), where=frequency > 0)
    return CustomerSummary(customer_id=customers, frequency=frequency.astype(np.int64), recency=recency, T=T,
                           monetary_value=monetary_value, period=period)


def _validated_history(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    checks = [
        ("frequency", ~np.isfinite(x) | (x < 0) | (x != np.floor(x)),
         "{x:g} is not a whole number of repeat purchases >= 0"),
        ("recency", ~np.isfinite(t_x) | (t_x < 0), "{t_x:g} is not a finite number >= 0"),
        ("T", ~np.isfinite(T) | (T < 0), "{T:g} is not a finite number >= 0"),
        ("recency", t_x > T, "{t_x:g} is greater than T = {T:g} (the last purchase cannot come after the end "
                             "of observation)"),
        ("recency", (x == 0) & (t_x != 0), "{t_x:g} should be 0 for a customer without repeat purchases"),
    ]
    for column, bad, message in checks:
        if bad.any():
            position = int(np.flatnonzero(bad.ravel())[0])
            values = {"x": x.ravel()[position], "t_x": t_x.ravel()[position], "T": T.ravel()[position]}
            raise InvalidSummaryError(column, position, message.format(**values))
    return x, t_x, T


def _require_history(model: str, x: NDArray[np.float64], T: NDArray[np.float64], minimum_customers: int) -> None:
    if x.size < minimum_customers:
        raise InsufficientHistoryError(
            f"{model} needs at least {minimum_customers} customers to estimate its parameters; got {x.size}")
    if not (x > 0).any():
        raise InsufficientHistoryError(
            f"none of the {x.size} customers made a repeat purchase, so {model} cannot tell how often "
            "customers buy from how soon they leave; wait for more history")
    if not (T > 0).any():
        raise InsufficientHistoryError(f"all {x.size} customers were observed for zero time (T = 0)")


@dataclass(frozen=True)
class _PurchasePatterns:
    """Distinct (x, t_x, T) rows with how many customers share each."""

    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]
    weight: NDArray[np.float64]

    @classmethod
    def compress(cls, x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]) -> _PurchasePatterns:
        x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
        on_integer_grid = np.array_equal(t_x, np.floor(t_x)) and np.array_equal(T, np.floor(T))
        largest_T = int(T.max()) + 1 if T.size else 1
        if on_integer_grid and (x.max() + 1) * largest_T * largest_T < 2**62:
            # A daily or weekly grid: pack the row into one integer, whose sort is much
            # cheaper than sorting rows of three floats.
            key = (x.astype(np.int64) * largest_T + t_x.astype(np.int64)) * largest_T + T.astype(np.int64)
            distinct, weight = np.unique(key, return_counts=True)
            return cls(x=(distinct // (largest_T * largest_T)).astype(np.float64),
                       t_x=(distinct // largest_T % largest_T).astype(np.float64),
                       T=(distinct % largest_T).astype(np.float64), weight=weight.astype(np.float64))
        # Continuous times: sort the rows and cut where any column changes (np.unique with
        # axis=0 does the same through a much slower structured-array sort).
        order = np.lexsort((T, t_x, x))
        x, t_x, T = x[order], t_x[order], T[order]
        starts_new_pattern = np.ones(x.size, dtype=bool)
        starts_new_pattern[1:] = (np.diff(x) != 0) | (np.diff(t_x) != 0) | (np.diff(T) != 0)
        first = np.flatnonzero(starts_new_pattern)
        weight = np.diff(np.append(first, x.size)).astype(np.float64)
        return cls(x=x[first], t_x=t_x[first], T=T[first], weight=weight)


@dataclass(frozen=True)
class _DistinctValues:
    """A column's distinct values and, per row, the index of its value.

    Functions of one column — ln Γ(r + x), ln(α + T), 1/(α + t_x) — are evaluated on the
    few hundred distinct values and gathered or summed by index, instead of once per row.
    """

    values: NDArray[np.float64]
    code: NDArray[np.intp]

    @classmethod
    def of(cls, column: NDArray[np.float64]) -> _DistinctValues:
        values, code = np.unique(column, return_inverse=True)
        return cls(values=values, code=code)

    def totals(self, weight: NDArray[np.float64]) -> NDArray[np.float64]:
        """Σ weight over the rows holding each distinct value."""
        return np.bincount(self.code, weights=weight, minlength=len(self.values))


# ------------------------------------------------------------------ optimisation


def _weighted_total(weights: NDArray[np.float64], values: NDArray[np.float64]) -> float:
    """Σ weights·values without BLAS: multithreaded OpenBLAS spends milliseconds waking
    threads for a vector dot product, far longer than the arithmetic on a shared machine."""
    return float(np.einsum("i,i->", weights, values))


Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


def _maximize_log_likelihood(model: str, names: tuple[str, ...], mean_negative_log_likelihood: Objective,
                             initial_parameters: NDArray[np.float64], total_weight: float,
                             max_iterations: int) -> tuple[NDArray[np.float64], float, int]:
    """Minimise the mean negative log-likelihood over log-parameters; return (parameters, LL, iterations).

    The mean (not the sum) keeps gradient sizes independent of the number of customers,
    so one tolerance serves CDNOW's 2,357 customers and a million alike.
    """
    # L-BFGS-B calls BLAS on vectors of three or four numbers; multithreaded OpenBLAS wakes
    # its threads for each call, which on a busy machine costs more than the whole fit.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(mean_negative_log_likelihood, np.log(initial_parameters), jac=True, method="L-BFGS-B",
                          bounds=[(-LOG_PARAMETER_BOUND, LOG_PARAMETER_BOUND)] * len(names),
                          options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": GRADIENT_TOLERANCE / 10})
    log_parameters = result.x
    value, gradient = mean_negative_log_likelihood(log_parameters)
    parameters = np.exp(log_parameters)
    log_likelihood = -value * total_weight
    last = dict(zip(names, (float(parameter) for parameter in parameters), strict=True))
    if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
        raise FitDidNotConvergeError(model, "the likelihood became non-finite", last, log_likelihood, result.nit)
    at_bound = [name for name, log_parameter in zip(names, log_parameters, strict=True)
                if abs(log_parameter) >= LOG_PARAMETER_BOUND - 1e-6]
    if at_bound:
        raise FitDidNotConvergeError(
            model, f"{', '.join(at_bound)} ran off to {'an extreme' if len(at_bound) == 1 else 'extremes'} "
            "the data cannot pin down", last, log_likelihood, result.nit)
    if np.max(np.abs(gradient)) > GRADIENT_TOLERANCE:
        reason = ("iteration limit reached" if result.nit >= max_iterations
                  else f"optimizer stopped: {result.message}")
        raise FitDidNotConvergeError(model, reason, last, log_likelihood, result.nit)
    return parameters, float(log_likelihood), int(result.nit)


# ------------------------------------------------------------------------ BG/NBD


@dataclass(frozen=True)
class BGNBDModel:
    """Beta-geometric/negative binomial model of repeat purchasing (Fader, Hardie & Lee 2005).

    While active a customer buys at Poisson rate λ ~ Gamma(r, α); after each repeat
    purchase they drop out for good with probability p ~ Beta(a, b).
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    iterations: int

    parameter_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    @property
    def parameters(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *,
            minimum_customers: int = MINIMUM_CUSTOMERS, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> BGNBDModel:
        """Maximum-likelihood fit; raises :class:`InsufficientHistoryError` or :class:`FitDidNotConvergeError`."""
        x, t_x, T = _validated_history(frequency, recency, T)
        _require_history("BG/NBD", x, T, minimum_customers)
        patterns = _PurchasePatterns.compress(x, t_x, T)
        total_weight = float(patterns.weight.sum())
        frequencies = _DistinctValues.of(patterns.x)
        customers_by_x = frequencies.totals(patterns.weight)
        ages = _DistinctValues.of(patterns.T)
        customers_by_T = ages.totals(patterns.weight)
        purchases_by_T = ages.totals(patterns.weight * patterns.x)
        repeat = patterns.x > 0
        repeat_x, repeat_weight = patterns.x[repeat], patterns.weight[repeat]
        repeat_T_code = ages.code[repeat]
        repeat_frequencies = _DistinctValues.of(repeat_x)
        repeat_recencies = _DistinctValues.of(patterns.t_x[repeat])

        def mean_negative_log_likelihood(log_parameters: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            r, alpha, a, b = np.exp(log_parameters)
            # Terms that depend on x only: equation (6) of FHL 2005 without the bracket.
            gx, gw = frequencies.values, customers_by_x
            value = _weighted_total(gw, gammaln(r + gx) + gammaln(b + gx) - gammaln(a + b + gx)) + total_weight * (
                -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b))
            gradient = np.array([
                _weighted_total(gw, digamma(r + gx)) + total_weight * (np.log(alpha) - digamma(r)),
                total_weight * r / alpha,
                -_weighted_total(gw, digamma(a + b + gx)) + total_weight * digamma(a + b),
                _weighted_total(gw, digamma(b + gx) - digamma(a + b + gx))
                + total_weight * (digamma(a + b) - digamma(b)),
            ])
            # -(r + x) ln(α + T) for everyone, summed per distinct T.
            log_alpha_T = np.log(alpha + ages.values)
            inverse_alpha_T = 1.0 / (alpha + ages.values)
            purchase_weight = r * customers_by_T + purchases_by_T
            value -= _weighted_total(purchase_weight, log_alpha_T)
            gradient[0] -= _weighted_total(customers_by_T, log_alpha_T)
            gradient[1] -= _weighted_total(purchase_weight, inverse_alpha_T)
            # Repeat buyers may also have dropped out right after their last purchase:
            # ln(1 + D), D = a/(b+x-1) · ((α+T)/(α+t_x))^(r+x), taken as softplus(ln D)
            # so a huge D never overflows.
            log_ratio = log_alpha_T[repeat_T_code] - np.log(alpha + repeat_recencies.values)[repeat_recencies.code]
            inverse_b_x = 1.0 / (b + repeat_frequencies.values - 1)
            log_dropout_odds = np.log(a) + np.log(inverse_b_x)[repeat_frequencies.code] + (r + repeat_x) * log_ratio
            value += _weighted_total(repeat_weight, np.logaddexp(0.0, log_dropout_odds))
            dropout_share = repeat_weight * expit(log_dropout_odds)
            gradient[0] += _weighted_total(dropout_share, log_ratio)
            inverse_difference = (inverse_alpha_T[repeat_T_code]
                                  - (1.0 / (alpha + repeat_recencies.values))[repeat_recencies.code])
            gradient[1] += _weighted_total(dropout_share * (r + repeat_x), inverse_difference)
            gradient[2] += dropout_share.sum() / a
            gradient[3] -= _weighted_total(repeat_frequencies.totals(dropout_share), inverse_b_x)
            # Chain rule for log-parameters, sign and scale for the mean negative LL.
            return -value / total_weight, -gradient * np.array([r, alpha, a, b]) / total_weight

        initial = np.array([1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0])
        parameters, log_likelihood, iterations = _maximize_log_likelihood(
            "BG/NBD", cls.parameter_names, mean_negative_log_likelihood, initial, total_weight, max_iterations)
        r, alpha, a, b = (float(value) for value in parameters)
        return cls(r=r, alpha=alpha, a=a, b=b, log_likelihood=log_likelihood, customers=int(x.size),
                   iterations=iterations)

    def customer_log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """Log-likelihood of each customer's (x, t_x, T), equation (6) of FHL 2005."""
        x, t_x, T = _validated_history(frequency, recency, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + x) - gammaln(b)
                  - gammaln(a + b + x) - (r + x) * np.log(alpha + T))
        return common + np.log1p(self._dropout_odds(x, t_x, T))

    def _dropout_odds(self, x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]
                      ) -> NDArray[np.float64]:
        """Odds that the customer left right after the last purchase rather than being still active."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = a / (b + x - 1) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(x > 0, odds, 0.0)

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """P(still active at T | x, t_x, T), equation (11) of FHL 2005."""
        x, t_x, T = _validated_history(frequency, recency, T)
        return 1.0 / (1.0 + self._dropout_odds(x, t_x, T))

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                           ) -> NDArray[np.float64]:
        """Expected repeat purchases in the next ``t`` periods given (x, t_x, T), equation (10) of FHL 2005."""
        x, t_x, T = _validated_history(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        horizon = alpha + T + t
        hypergeometric = hyp2f1(r + x, b + x, a + b + x - 1, t / horizon)
        bracket = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(horizon))) * hypergeometric
        return (a + b + x - 1) / (a - 1) * bracket / (1.0 + self._dropout_odds(x, t_x, T))

    def unconditional_expected_purchases(self, t: ArrayLike) -> NDArray[np.float64]:
        """E[X(t)] for a newly acquired customer, equation (9) of FHL 2005."""
        t = np.asarray(t, dtype=np.float64)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


# -------------------------------------------------------------------- Pareto/NBD


def _log_tail_integral(p: NDArray[np.float64] | float, q: NDArray[np.float64] | float, y: NDArray[np.float64],
                       alpha: float, beta: float) -> NDArray[np.float64]:
    """log ∫_y^∞ (α+τ)^-p (β+τ)^-q dτ through Euler's integral for ₂F₁.

    Substituting v = (m+y)/(m+τ) with m = max(α, β) gives
    (m+y)^-(p+q-1) · ₂F₁(k, p+q-1; p+q; |α-β|/(m+y)) / (p+q-1), k the exponent of the
    smaller of α, β: the hypergeometric argument stays in [0, 1), where scipy's ₂F₁ is
    accurate, and the prefactor is kept in logs (Fader & Hardie 2005, notes/009, eq. 19–20).
    """
    order = p + q - 1.0
    if alpha >= beta:
        base, exponent_of_smaller = alpha + y, q
    else:
        base, exponent_of_smaller = beta + y, p
    argument = abs(alpha - beta) / base
    return -order * np.log(base) + np.log(hyp2f1(exponent_of_smaller, order, order + 1.0, argument)) - np.log(order)


def _log_window_integral(p: NDArray[np.float64] | float, q: NDArray[np.float64] | float,
                         t_x: NDArray[np.float64], T: NDArray[np.float64], alpha: float, beta: float
                         ) -> NDArray[np.float64]:
    """log ∫_{t_x}^T (α+τ)^-p (β+τ)^-q dτ as a difference of two tails, in log-sum-exp form."""
    log_from_t_x = _log_tail_integral(p, q, t_x, alpha, beta)
    log_from_T = _log_tail_integral(p, q, T, alpha, beta)
    with np.errstate(divide="ignore"):
        return log_from_t_x + np.log(-np.expm1(np.minimum(log_from_T - log_from_t_x, 0.0)))


@dataclass(frozen=True)
class ParetoNBDModel:
    """Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

    While active a customer buys at Poisson rate λ ~ Gamma(r, α); their unobserved
    lifetime is exponential with rate μ ~ Gamma(s, β).

    The likelihood is written as
    L = Γ(r+x) α^r β^s / Γ(r) · [(α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ],
    the second term being the customer dying at τ between the last purchase and T. The
    integral is the hypergeometric A₀ term of Fader & Hardie (2005, notes/009); it is
    evaluated with ``scipy.special.hyp2f1`` and combined in log-sum-exp form. Its
    derivatives with respect to α and β are the same integral with an exponent raised by
    one, so they are exact; scipy offers no derivative of ₂F₁ in its parameters, so the
    derivatives of the log-integral in r and s are central differences of that one term
    (step 1e-5 relative, error ~1e-10), while every other gradient term is analytic.
    """

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    customers: int
    iterations: int

    parameter_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    @property
    def parameters(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *,
            minimum_customers: int = MINIMUM_CUSTOMERS, max_iterations: int = DEFAULT_MAX_ITERATIONS
            ) -> ParetoNBDModel:
        """Maximum-likelihood fit; raises :class:`InsufficientHistoryError` or :class:`FitDidNotConvergeError`."""
        x, t_x, T = _validated_history(frequency, recency, T)
        _require_history("Pareto/NBD", x, T, minimum_customers)
        patterns = _PurchasePatterns.compress(x, t_x, T)
        frequencies = _DistinctValues.of(patterns.x)
        customers_by_x = frequencies.totals(patterns.weight)
        total_weight = float(patterns.weight.sum())
        # Customers whose last purchase is at T cannot have died in between: no integral.
        window = patterns.T > patterns.t_x
        window_x, window_t_x, window_T = patterns.x[window], patterns.t_x[window], patterns.T[window]
        window_weight = patterns.weight[window]

        def mean_negative_log_likelihood(log_parameters: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            r, alpha, s, beta = np.exp(log_parameters)
            gx, gw = frequencies.values, customers_by_x
            value = _weighted_total(gw, gammaln(r + gx)) + total_weight * (
                -gammaln(r) + r * np.log(alpha) + s * np.log(beta))
            gradient = np.array([
                _weighted_total(gw, digamma(r + gx)) + total_weight * (np.log(alpha) - digamma(r)),
                total_weight * r / alpha,
                total_weight * np.log(beta),
                total_weight * s / beta,
            ])
            x_all, T_all, weight_all = patterns.x, patterns.T, patterns.weight
            log_alive = -(r + x_all) * np.log(alpha + T_all) - s * np.log(beta + T_all)
            log_died = np.full_like(log_alive, -np.inf)
            p, q = r + window_x, s + 1.0
            log_integral = _log_window_integral(p, q, window_t_x, window_T, alpha, beta)
            log_died[window] = np.log(s) + log_integral
            log_total = np.logaddexp(log_alive, log_died)
            value += _weighted_total(weight_all, log_total)
            alive_share = weight_all * np.exp(log_alive - log_total)
            gradient += np.array([
                -_weighted_total(alive_share, np.log(alpha + T_all)),
                -_weighted_total(alive_share * (r + x_all), 1.0 / (alpha + T_all)),
                -_weighted_total(alive_share, np.log(beta + T_all)),
                -_weighted_total(alive_share, s / (beta + T_all)),
            ])
            died_share = window_weight * np.exp(log_died[window] - log_total[window])
            step = 1e-5 * min(1.0, r + s)
            d_log_integral_d_r = (_log_window_integral(p + step, q, window_t_x, window_T, alpha, beta)
                                  - _log_window_integral(p - step, q, window_t_x, window_T, alpha, beta)) / (2 * step)
            d_log_integral_d_s = (_log_window_integral(p, q + step, window_t_x, window_T, alpha, beta)
                                  - _log_window_integral(p, q - step, window_t_x, window_T, alpha, beta)) / (2 * step)
            # ∂/∂α ∫(α+τ)^-p(β+τ)^-q = -p ∫(α+τ)^-(p+1)(β+τ)^-q, likewise for β.
            ratio_alpha = np.exp(_log_window_integral(p + 1.0, q, window_t_x, window_T, alpha, beta) - log_integral)
            ratio_beta = np.exp(_log_window_integral(p, q + 1.0, window_t_x, window_T, alpha, beta) - log_integral)
            gradient += np.array([
                _weighted_total(died_share, d_log_integral_d_r),
                -_weighted_total(died_share * p, ratio_alpha),
                _weighted_total(died_share, 1.0 / s + d_log_integral_d_s),
                -_weighted_total(died_share, q * ratio_beta),
            ])
            return -value / total_weight, -gradient * np.array([r, alpha, s, beta]) / total_weight

        mean_T = max(float(np.mean(T)), 1e-3)
        initial = np.array([1.0, mean_T, 1.0, mean_T])
        parameters, log_likelihood, iterations = _maximize_log_likelihood(
            "Pareto/NBD", cls.parameter_names, mean_negative_log_likelihood, initial, total_weight, max_iterations)
        r, alpha, s, beta = (float(value) for value in parameters)
        return cls(r=r, alpha=alpha, s=s, beta=beta, log_likelihood=log_likelihood, customers=int(x.size),
                   iterations=iterations)

    def _log_alive_and_total(self, x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]
                             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """log of the 'still alive at T' term and of the whole bracket of the likelihood."""
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        log_died = np.full(np.broadcast(x, t_x, T).shape, -np.inf)
        window = T > t_x
        log_died[window] = np.log(s) + _log_window_integral(r + x[window], s + 1.0, t_x[window], T[window], alpha, beta)
        return log_alive, np.logaddexp(log_alive, log_died)

    def customer_log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """Log-likelihood of each customer's (x, t_x, T), equation (18) of notes/009."""
        x, t_x, T = _validated_history(frequency, recency, T)
        _, log_total = self._log_alive_and_total(x, t_x, T)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + log_total

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """P(still active at T | x, t_x, T), equation (11) of Schmittlein et al. 1987."""
        x, t_x, T = _validated_history(frequency, recency, T)
        log_alive, log_total = self._log_alive_and_total(x, t_x, T)
        return np.exp(log_alive - log_total)

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                           ) -> NDArray[np.float64]:
        """Expected repeat purchases in the next ``t`` periods given (x, t_x, T), eq. (41) of notes/009."""
        x, t_x, T = _validated_history(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_growth = np.log1p(t / (beta + T))
        # (1 - ((β+T)/(β+T+t))^(s-1)) / (s-1), which tends to ln(1 + t/(β+T)) as s → 1.
        if abs(s - 1.0) < 1e-9:
            remaining_lifetime = log_growth
        else:
            remaining_lifetime = -np.expm1(-(s - 1.0) * log_growth) / (s - 1.0)
        return (r + x) * (beta + T) / (alpha + T) * remaining_lifetime * self.probability_alive(x, t_x, T)


# ------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGammaModel:
    """Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

    Each transaction's value is Gamma(p, ν) with the customer's ν ~ Gamma(q, v); the mean
    of x transactions is therefore Gamma(px, xν). Only repeat buyers (x > 0) carry
    information on spend, and the model assumes spend independent of purchase frequency.
    """

    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int
    iterations: int

    parameter_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")

    @property
    def parameters(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    @classmethod
    def fit(cls, frequency: ArrayLike, monetary_value: ArrayLike, *, minimum_customers: int = MINIMUM_CUSTOMERS,
            max_iterations: int = DEFAULT_MAX_ITERATIONS) -> GammaGammaModel:
        """Fit on the repeat buyers among the customers given (those with frequency > 0).

        Raises :class:`InsufficientHistoryError` with fewer than ``minimum_customers``
        repeat buyers, :class:`InvalidSummaryError` for a repeat buyer whose mean spend is
        not positive, and :class:`FitDidNotConvergeError`.
        """
        x_all, m_all = _validated_spend(frequency, monetary_value)
        repeat = x_all > 0
        x, m = x_all[repeat], m_all[repeat]
        if x.size < minimum_customers:
            raise InsufficientHistoryError(
                f"Gamma-Gamma needs at least {minimum_customers} repeat buyers (frequency > 0) to estimate "
                f"spend; got {x.size} of {x_all.size} customers")
        frequencies = _DistinctValues.of(x)
        customers_by_x = frequencies.totals(np.ones_like(x))
        total_weight = float(x.size)
        sum_log_m = float(np.log(m).sum())
        sum_x_log_m = _weighted_total(x, np.log(m))
        sum_x_log_x = _weighted_total(x, np.log(x))

        def mean_negative_log_likelihood(log_parameters: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            p, q, v = np.exp(log_parameters)
            gx, gw = frequencies.values, customers_by_x
            log_total_spend = np.log(x * m + v)
            value = (_weighted_total(gw, gammaln(p * gx + q) - gammaln(p * gx))
                     + total_weight * (q * np.log(v) - gammaln(q))
                     + p * sum_x_log_m - sum_log_m + p * sum_x_log_x
                     - p * _weighted_total(x, log_total_spend) - q * log_total_spend.sum())
            gradient = np.array([
                _weighted_total(gw * gx, digamma(p * gx + q) - digamma(p * gx)) + sum_x_log_m + sum_x_log_x
                - _weighted_total(x, log_total_spend),
                _weighted_total(gw, digamma(p * gx + q)) + total_weight * (np.log(v) - digamma(q))
                - log_total_spend.sum(),
                total_weight * q / v - np.sum((p * x + q) / (x * m + v)),
            ])
            return -value / total_weight, -gradient * np.array([p, q, v]) / total_weight

        # Start where the population mean spend p·v/(q-1) equals the sample mean.
        initial = np.array([1.0, 2.0, float(np.mean(m))])
        parameters, log_likelihood, iterations = _maximize_log_likelihood(
            "Gamma-Gamma", cls.parameter_names, mean_negative_log_likelihood, initial, total_weight, max_iterations)
        p, q, v = (float(value) for value in parameters)
        return cls(p=p, q=q, v=v, log_likelihood=log_likelihood, customers=int(x.size), iterations=iterations)

    def customer_log_likelihood(self, frequency: ArrayLike, monetary_value: ArrayLike) -> NDArray[np.float64]:
        """Log-likelihood of each repeat buyer's mean spend (Fader & Hardie 2013, eq. 3)."""
        x, m = _validated_spend(frequency, monetary_value)
        p, q, v = self.p, self.q, self.v
        return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
                + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))

    def expected_average_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> NDArray[np.float64]:
        """E[spend per transaction | x, m̄]: a credibility-weighted mix of m̄ and the population mean.

        Fader, Hardie & Lee (2005, "RFM and CLV"), eq. (5) of notes/025. Customers without
        repeat purchases get the population mean p·v/(q-1).
        """
        x, m = _validated_spend(frequency, monetary_value)
        p, q, v = self.p, self.q, self.v
        individual_weight = p * x / (p * x + q - 1)
        return (1 - individual_weight) * (p * v / (q - 1)) + individual_weight * m


def _validated_spend(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[NDArray[np.float64],
                                                                                NDArray[np.float64]]:
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    x, m = np.broadcast_arrays(x, m)
    checks = [
        ("frequency", ~np.isfinite(x) | (x < 0) | (x != np.floor(x)),
         "{x:g} is not a whole number of repeat purchases >= 0"),
        ("monetary_value", (x > 0) & ~(np.isfinite(m) & (m > 0)),
         "{m:g} is not a positive mean spend, which a customer with repeat purchases must have"),
    ]
    for column, bad, message in checks:
        if bad.any():
            position = int(np.flatnonzero(bad.ravel())[0])
            raise InvalidSummaryError(column, position, message.format(x=x.ravel()[position], m=m.ravel()[position]))
    return x, m


# ------------------------------------------------------------------ lifetime value

PurchaseModel = BGNBDModel | ParetoNBDModel


def customer_lifetime_value(purchase_model: PurchaseModel, spend_model: GammaGammaModel, frequency: ArrayLike,
                            recency: ArrayLike, T: ArrayLike, monetary_value: ArrayLike, *, months: int = 12,
                            monthly_discount_rate: float = 0.01, period: Period = "days") -> NDArray[np.float64]:
    """Discounted value of each customer's purchases over the next ``months``.

    The discounted-cash-flow approach of Fader, Hardie & Lee (2005, "RFM and CLV") as done
    by ``lifetimes``: for each month k = 1..months the expected purchases in that month
    (difference of cumulative expectations) times the expected spend per purchase, divided
    by (1 + monthly_discount_rate)^k. ``period`` is the unit the models were fitted in;
    a month is 30 days or 4.345 weeks.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if monthly_discount_rate <= -1:
        raise ValueError("monthly_discount_rate must be greater than -1")
    periods_per_month = PERIODS_PER_MONTH[period]
    spend = spend_model.expected_average_spend(frequency, monetary_value)
    value = np.zeros(np.shape(spend))
    previous = np.zeros(np.shape(spend))
    for month in range(1, months + 1):
        cumulative = purchase_model.expected_purchases(month * periods_per_month, frequency, recency, T)
        value += spend * (cumulative - previous) / (1.0 + monthly_discount_rate) ** month
        previous = cumulative
    return value


# ------------------------------------------------------------------- simulation


def simulate_bgnbd(T: ArrayLike, *, r: float, alpha: float, a: float, b: float,
                   random_state: np.random.Generator | int | None = None
                   ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Draw (frequency, recency, T) for customers observed for ``T`` periods under BG/NBD.

    Follows the story of FHL 2005 in continuous time: λ ~ Gamma(r, rate α), p ~ Beta(a, b);
    repeat purchases arrive as a Poisson process and after each one the customer leaves
    with probability p, so the number of repeat purchases before leaving is K ~ Geometric(p).
    Vectorised without a per-purchase loop: with N ~ Poisson(λT) arrivals in [0, T] the
    observed frequency is x = min(N, K), and the x-th of N uniform arrival times is
    T · Beta(x, N − x + 1).
    """
    rng = np.random.default_rng(random_state)
    T = np.asarray(T, dtype=np.float64)
    rate = rng.gamma(shape=r, scale=1.0 / alpha, size=T.shape)
    # Keep p away from 0 so the geometric draw stays finite; a customer that loyal never
    # leaves within any realistic horizon anyway.
    dropout = np.clip(rng.beta(a, b, size=T.shape), 1e-12, 1.0)
    arrivals = rng.poisson(rate * T)
    purchases_before_leaving = rng.geometric(dropout)
    frequency = np.minimum(arrivals, purchases_before_leaving)
    recency = np.zeros(T.shape)
    repeat = frequency > 0
    recency[repeat] = T[repeat] * rng.beta(frequency[repeat], arrivals[repeat] - frequency[repeat] + 1)
    return frequency.astype(np.int64), recency, T


def simulate_gamma_gamma_spend(frequency: ArrayLike, *, p: float, q: float, v: float,
                               random_state: np.random.Generator | int | None = None) -> NDArray[np.float64]:
    """Draw each customer's mean repeat spend under Gamma-Gamma; 0 for customers with x = 0.

    ν ~ Gamma(q, rate v) per customer; the mean of x Gamma(p, ν) transactions is
    Gamma(px, rate xν).
    """
    rng = np.random.default_rng(random_state)
    x = np.asarray(frequency, dtype=np.float64)
    spend_rate = rng.gamma(shape=q, scale=1.0 / v, size=x.shape)
    mean_spend = np.zeros(x.shape)
    repeat = x > 0
    mean_spend[repeat] = rng.gamma(shape=p * x[repeat], scale=1.0 / (x[repeat] * spend_rate[repeat]))
    return mean_spend
