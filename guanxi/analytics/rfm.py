"""Recency/frequency/monetary scores and the customer value pyramid.

Plain NumPy, no Django: ten million transactions of a million customers score well within
the 1.5 s of SPEC §7 (see benchmarks/rfm.py), so the nightly job and the ``guanxi rfm``
command use the same code.

Definitions (the classic RFM of direct marketing, as discussed in Fader, Hardie & Lee
(2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", *Journal of
Marketing Research* 42(4), 415–430):

* recency — whole days from the customer's last purchase to the reference date (default:
  the latest purchase date in the data); fewer days is better;
* frequency — number of transactions;
* monetary — total amount spent, rounded to a millionth of the currency unit so that the
  order in which amounts were added (0.1 + 0.2 + 0.3 ≠ 0.3 + 0.2 + 0.1 in binary floating
  point) can never make or break a tie.

Each is turned into a quintile score 1–5 (5 = best). Quintiles are by rank, not by value,
so every score holds a fifth of the customers (sizes differ by at most one) even when many
customers share a value — typically frequency, where most customers bought once. The
customer of rank j (0 = worst) among n scores ⌈5j/(n−1)⌉, at least 1: the bins of the
common ``pandas.qcut(ranks, 5)`` recipe, so the worst customer scores 1 and the best 5 in
a base of any size (a lone customer scores 5).

**Tie rule.** Customers with equal values are ordered by customer id, and the one with the
*smaller* id ranks higher (gets the higher score and the higher tier). Ids are normally
issued in sign-up order, so this favours the longer-standing customer, and a newcomer who
ties never displaces an existing customer. Integer ids compare as numbers, other ids as
strings. The rule makes scores reproducible run to run and platform to platform.

**Value pyramid.** Customers ranked by value (default: monetary; any per-customer value,
e.g. predicted CLV, can be tiered with :func:`value_tiers`) are cut into tiers by share of
the customer base, by default the top 1 % platinum, the next 4 % gold, the next 15 % silver
and the rest bronze. A tier's lower edge is at ⌈cumulative share × customers⌉, rounded up so
that even a small base has a top customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: (tier name, share of customers), best tier first; shares add up to 1.
DEFAULT_PYRAMID: tuple[tuple[str, float], ...] = (
    ("platinum", 0.01), ("gold", 0.04), ("silver", 0.15), ("bronze", 0.80))

SCORE_LEVELS = 5
MONETARY_DECIMALS = 6


@dataclass(frozen=True)
class RFMScores:
    """One row per customer, ordered by customer id.

    ``r``, ``f``, ``m`` are 1–5; ``rfm`` is the three digits as one number (e.g. 545);
    ``tier`` indexes ``tier_names`` (0 = the top tier).
    """

    customer_id: NDArray
    recency: NDArray[np.int64]
    frequency: NDArray[np.int64]
    monetary: NDArray[np.float64]
    r: NDArray[np.int8]
    f: NDArray[np.int8]
    m: NDArray[np.int8]
    tier: NDArray[np.int8]
    tier_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def rfm(self) -> NDArray[np.int16]:
        return self.r.astype(np.int16) * 100 + self.f.astype(np.int16) * 10 + self.m.astype(np.int16)

    @property
    def tier_name(self) -> NDArray[np.str_]:
        return np.asarray(self.tier_names)[self.tier]


def _ascending_rank_order(value: NDArray) -> NDArray[np.intp]:
    """Positions sorted from worst to best: by value, and among equals the later position first.

    A stable sort of the reversed array lists equal values in descending original position,
    which is the module's tie rule when positions follow customer id.
    """
    if value.dtype.kind in "iu" and value.size and int(value.max()) - int(value.min()) < 1 << 16:
        # Days and purchase counts span a few thousand values at most; as 16-bit keys they
        # get NumPy's radix sort, several times faster than the comparison sort.
        value = (value - value.min()).astype(np.uint16)
    return value.size - 1 - np.argsort(value[::-1], kind="stable")


def _scores_from_order(ascending: NDArray[np.intp]) -> NDArray[np.int8]:
    count = ascending.size
    scores = np.empty(count, dtype=np.int8)
    if count == 1:
        scores[:] = SCORE_LEVELS
        return scores
    # Rank j = 0..n-1 scores ⌈5j/(n-1)⌉ (at least 1): the quintile bins of pandas'
    # qcut(rank, 5), in exact integer arithmetic so no rank lands on the wrong side of a
    # bin edge through rounding.
    rank = np.arange(count, dtype=np.int64)
    scores[ascending] = np.maximum(1, (SCORE_LEVELS * rank + count - 2) // (count - 1))
    return scores


def quintile_scores(goodness: ArrayLike) -> NDArray[np.int8]:
    """Score 1–5 by rank of ``goodness`` (higher is better); equal values: earlier position ranks higher.

    Positions are customer-id order in :func:`rfm_scores`, which gives the module's tie rule.
    """
    return _scores_from_order(_ascending_rank_order(np.asarray(goodness)))


def validate_pyramid(pyramid: Sequence[tuple[str, float]]) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """(names, shares) of a value pyramid, or ValueError saying what is wrong with it."""
    names = tuple(str(name) for name, _ in pyramid)
    shares = np.asarray([float(share) for _, share in pyramid])
    if not names or len(set(names)) != len(names) or not all(names):
        raise ValueError("value pyramid tiers need distinct, non-empty names")
    if not np.all(np.isfinite(shares) & (shares > 0)):
        raise ValueError("every value pyramid tier needs a share of customers greater than 0")
    if abs(shares.sum() - 1.0) > 1e-9:
        raise ValueError(f"value pyramid shares must add up to 1 (100 %), not {shares.sum():g}")
    return names, shares


def value_tiers(value: ArrayLike, pyramid: Sequence[tuple[str, float]] = DEFAULT_PYRAMID
                ) -> tuple[NDArray[np.int8], tuple[str, ...]]:
    """Tier index per customer (0 = top) and the tier names, by rank of ``value``, highest first.

    Equal values: earlier position ranks higher, as in :func:`quintile_scores`.
    """
    names, shares = validate_pyramid(pyramid)
    return _tiers_from_order(_ascending_rank_order(np.asarray(value)), shares), names


def _tiers_from_order(ascending: NDArray[np.intp], shares: NDArray[np.float64]) -> NDArray[np.int8]:
    count = ascending.size
    # The small tolerance keeps 0.05 × 100 at 5, not 6, when the shares' sum is 0.0500…01.
    upper_edges = np.ceil(np.cumsum(shares) * count - 1e-9).astype(np.int64)
    upper_edges[-1] = count
    tier_of_rank = np.searchsorted(upper_edges, np.arange(count), side="right").astype(np.int8)
    tiers = np.empty(count, dtype=np.int8)
    tiers[ascending[::-1]] = tier_of_rank
    return tiers


def _customer_index(customer_id: NDArray) -> tuple[NDArray, NDArray[np.intp], int]:
    """(distinct ids in order, index of each transaction's customer, number of slots).

    Non-negative integer ids that are not too sparse index arrays directly, which skips
    sorting ten million ids; unused slots are dropped afterwards. Anything else is coded
    with ``np.unique``.
    """
    if customer_id.dtype.kind in "iu" and customer_id.size:
        smallest, largest = int(customer_id.min()), int(customer_id.max())
        if smallest >= 0 and largest < max(4 * customer_id.size, 1 << 20):
            return np.empty(0, dtype=customer_id.dtype), customer_id.astype(np.intp, copy=False), largest + 1
    distinct, index = np.unique(customer_id, return_inverse=True)
    return distinct, index.astype(np.intp, copy=False), len(distinct)


def rfm_scores(customer_id: ArrayLike, purchase_date: ArrayLike, amount: ArrayLike, *,
               reference_date: object | None = None,
               pyramid: Sequence[tuple[str, float]] = DEFAULT_PYRAMID) -> RFMScores:
    """Score every customer in a transaction log; tiers are by monetary value.

    ``purchase_date`` may be ``datetime64`` values, ``datetime.date`` objects or ISO
    strings; ``reference_date`` (default: the latest purchase) is the "today" of recency,
    and transactions after it are left out.
    """
    customer_id = np.asarray(customer_id)
    days = np.asarray(purchase_date, dtype="datetime64[D]").astype(np.int64)
    amount = np.asarray(amount, dtype=np.float64)
    if not (customer_id.ndim == 1 and customer_id.shape == days.shape == amount.shape):
        raise ValueError("customer_id, purchase_date and amount must be one-dimensional and of equal length")
    if not np.all(np.isfinite(amount)):
        raise ValueError(f"amount at position {int(np.flatnonzero(~np.isfinite(amount))[0])} is not a finite number")
    if not days.size:
        raise ValueError("no transactions to score")
    if reference_date is None:
        reference_day = int(days.max())
    else:
        reference_day = int(np.asarray(reference_date, dtype="datetime64[D]").astype(np.int64))
        if days.max() > reference_day:
            kept = days <= reference_day
            customer_id, days, amount = customer_id[kept], days[kept], amount[kept]
            if not days.size:
                raise ValueError(f"no transactions on or before the reference date {reference_date}")
    names, shares = validate_pyramid(pyramid)

    distinct_ids, index, slots = _customer_index(customer_id)
    frequency = np.bincount(index, minlength=slots)
    monetary = np.round(np.bincount(index, weights=amount, minlength=slots), MONETARY_DECIMALS)
    last_day = np.full(slots, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_day, index, days)
    if not distinct_ids.size:
        present = np.flatnonzero(frequency)
        distinct_ids = present.astype(customer_id.dtype)
        frequency, monetary, last_day = frequency[present], monetary[present], last_day[present]

    # Monetary's rank order serves both its quintiles and the pyramid: one sort, not two.
    monetary_order = _ascending_rank_order(monetary)
    return RFMScores(
        customer_id=distinct_ids,
        recency=reference_day - last_day,
        frequency=frequency.astype(np.int64),
        monetary=monetary,
        r=quintile_scores(last_day),
        f=quintile_scores(frequency),
        m=_scores_from_order(monetary_order),
        tier=_tiers_from_order(monetary_order, shares),
        tier_names=names,
    )
