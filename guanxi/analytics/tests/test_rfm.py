"""RFM quintile scores, the tie rule and the value pyramid."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from guanxi.analytics import rfm


def one_purchase_each(amounts: list[float], day: str = "2024-06-01") -> rfm.RFMScores:
    """Customers 1..n, each with one purchase of the given amount on the same day."""
    customers = np.arange(1, len(amounts) + 1)
    return rfm.rfm_scores(customers, np.full(len(amounts), np.datetime64(day)), amounts)


def scores_by_customer(scores: rfm.RFMScores) -> dict[object, tuple]:
    return {customer: (int(r), int(f), int(m), str(tier)) for customer, r, f, m, tier in
            zip(scores.customer_id.tolist(), scores.r, scores.f, scores.m, scores.tier_name, strict=True)}


def test_ten_distinct_spenders_fill_the_quintiles_in_pairs() -> None:
    scores = one_purchase_each([10.0, 90.0, 20.0, 80.0, 30.0, 70.0, 40.0, 60.0, 50.0, 100.0])
    by_amount = dict(zip(scores.monetary.tolist(), scores.m.tolist(), strict=True))
    assert by_amount == {10.0: 1, 20.0: 1, 30.0: 2, 40.0: 2, 50.0: 3, 60.0: 3, 70.0: 4, 80.0: 4, 90.0: 5, 100.0: 5}


def test_recency_favours_the_latest_buyer_and_counts_days_to_the_reference_date() -> None:
    # given customer 1 bought 30 days before customer 2, customer 3 in between
    scores = rfm.rfm_scores([1, 2, 3], ["2024-05-02", "2024-06-01", "2024-05-20"], [5.0, 5.0, 5.0])
    assert scores.recency.tolist() == [30, 0, 12]
    assert scores.r.tolist() == [1, 5, 3]


def test_frequency_counts_transactions_and_monetary_sums_them() -> None:
    scores = rfm.rfm_scores(["a", "a", "a", "b"], ["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"],
                            [10.0, 2.5, 7.5, 1.0])
    assert scores.customer_id.tolist() == ["a", "b"]
    assert scores.frequency.tolist() == [3, 1]
    assert scores.monetary.tolist() == [20.0, 1.0]
    # both last bought on 2024-02-01: the tie goes to "a", so "b" scores 1 on recency too
    assert scores.rfm.tolist() == [555, 111]


def test_ties_go_to_the_smaller_customer_id_whatever_the_transaction_order() -> None:
    # given ten customers with identical histories, listed in a scrambled order
    customers = np.array([7, 3, 10, 1, 9, 2, 8, 5, 4, 6])
    dates = np.full(10, np.datetime64("2024-03-01"))
    scores = rfm.rfm_scores(customers, dates, np.full(10, 25.0))
    # then every score follows the id: the two smallest ids score 5, the two largest 1
    expected = {1: 5, 2: 5, 3: 4, 4: 4, 5: 3, 6: 3, 7: 2, 8: 2, 9: 1, 10: 1}
    for column in (scores.r, scores.f, scores.m):
        assert dict(zip(scores.customer_id.tolist(), column.tolist(), strict=True)) == expected
    # and the same log in another order scores identically
    order = np.random.default_rng(5).permutation(10)
    again = rfm.rfm_scores(customers[order], dates[order], np.full(10, 25.0))
    assert scores_by_customer(again) == scores_by_customer(scores)


def test_equal_spend_ties_whatever_order_the_amounts_were_added_in() -> None:
    # given two customers who spent 0.1, 0.2 and 0.3 (in binary floating point
    # 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 differ in the last bit)
    assert 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1
    scores = rfm.rfm_scores([2, 1, 2, 1, 2, 1], np.full(6, np.datetime64("2024-01-01")),
                            [0.1, 0.3, 0.2, 0.2, 0.3, 0.1])
    # then they tie on spend and the smaller id ranks higher
    assert scores.monetary[0] == scores.monetary[1] == 0.6
    assert scores.m.tolist() == [5, 1]


def test_integer_ids_compare_as_numbers_and_text_ids_as_text() -> None:
    same_day = np.full(2, np.datetime64("2024-03-01"))
    numbers = rfm.rfm_scores([9, 10], same_day, [1.0, 1.0])
    assert dict(zip(numbers.customer_id.tolist(), numbers.m.tolist(), strict=True)) == {9: 5, 10: 1}
    texts = rfm.rfm_scores(["9", "10"], same_day, [1.0, 1.0])
    assert dict(zip(texts.customer_id.tolist(), texts.m.tolist(), strict=True)) == {"10": 5, "9": 1}


def test_sparse_and_text_ids_score_like_dense_ids() -> None:
    # given one random log under three spellings of the same customers
    rng = np.random.default_rng(8)
    dense = rng.integers(0, 300, 3000)
    dates = np.datetime64("2023-01-01") + rng.integers(0, 365, 3000)
    amounts = rng.integers(1, 20, 3000).astype(float)  # whole amounts: plenty of ties
    sparse = dense * 10**12 + 5  # too sparse to index directly; same order
    text = np.char.zfill(dense.astype(str), 4)  # zero-padded: same order as text
    reference = rfm.rfm_scores(dense, dates, amounts)
    for spelling in (sparse, text):
        other = rfm.rfm_scores(spelling, dates, amounts)
        for column in ("recency", "frequency", "monetary", "r", "f", "m", "tier"):
            np.testing.assert_array_equal(getattr(other, column), getattr(reference, column), err_msg=column)


def test_scores_match_pandas_qcut_of_ranks_under_the_tie_rule() -> None:
    # given a random log with many ties, scored by an independent pandas/Python implementation
    rng = np.random.default_rng(21)
    customers = rng.integers(1, 800, 6000)
    dates = np.datetime64("2024-01-01") + rng.integers(0, 90, 6000)
    amounts = rng.integers(1, 6, 6000) * 10.0
    ours = rfm.rfm_scores(customers, dates, amounts)

    log = pd.DataFrame({"customer": customers, "date": dates, "amount": amounts})
    table = log.groupby("customer").agg(last=("date", "max"), frequency=("date", "size"), monetary=("amount", "sum"))
    reference_date = log.date.max()
    # ranking ascending by value, then by *descending* id, so among equals the smaller id ranks higher
    by_id_descending = table.sort_index(ascending=False)
    expected = {}
    for name, column in (("r", "last"), ("f", "frequency"), ("m", "monetary")):
        ranks = by_id_descending[column].rank(method="first")
        expected[name] = pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5]).astype(int).sort_index()
    np.testing.assert_array_equal(ours.customer_id, table.index)
    np.testing.assert_array_equal(ours.recency, (reference_date - table["last"]).dt.days)
    for name in ("r", "f", "m"):
        np.testing.assert_array_equal(getattr(ours, name), expected[name].to_numpy(), err_msg=name)


@pytest.mark.parametrize("customers", [100, 1000, 2357])
def test_default_pyramid_is_one_four_fifteen_and_the_rest_percent(customers: int) -> None:
    amounts = np.random.default_rng(customers).permutation(customers).astype(float) + 1.0
    scores = one_purchase_each(amounts.tolist())
    counts = Counter(scores.tier_name.tolist())
    # tier edges at ⌈1 %⌉, ⌈5 %⌉, ⌈20 %⌉ of the customers
    top, gold_edge, silver_edge = (math.ceil(share * customers) for share in (0.01, 0.05, 0.20))
    assert counts == {"platinum": top, "gold": gold_edge - top, "silver": silver_edge - gold_edge,
                      "bronze": customers - silver_edge}
    # and the tiers follow spend: everyone in a higher tier spent more than anyone below
    tier_rank = {"platinum": 0, "gold": 1, "silver": 2, "bronze": 3}
    ranks = np.array([tier_rank[name] for name in scores.tier_name])
    for upper in range(3):
        assert scores.monetary[ranks == upper].min() > scores.monetary[ranks > upper].max()


def test_small_base_still_has_a_top_customer_and_boundary_ties_go_to_the_smaller_id() -> None:
    # given seven customers; 3 and 6 share the top spend
    scores = one_purchase_each([10.0, 20.0, 90.0, 30.0, 40.0, 90.0, 50.0])
    tiers = dict(zip(scores.customer_id.tolist(), scores.tier_name.tolist(), strict=True))
    # then ⌈0.07⌉ = 1 platinum (customer 3, the smaller id), ⌈0.35⌉ = 1 so no gold,
    # ⌈1.4⌉ = 2 so one silver (customer 6), the rest bronze
    assert tiers == {1: "bronze", 2: "bronze", 3: "platinum", 4: "bronze", 5: "bronze", 6: "silver", 7: "bronze"}


def test_custom_pyramid_and_tiering_any_value() -> None:
    tiers, names = rfm.value_tiers([5.0, 1.0, 3.0, 4.0, 2.0], pyramid=(("top", 0.4), ("rest", 0.6)))
    assert names == ("top", "rest")
    assert [names[tier] for tier in tiers] == ["top", "rest", "rest", "top", "rest"]


@pytest.mark.parametrize(("pyramid", "problem"), [
    ((("platinum", 0.01), ("bronze", 0.90)), "must add up to 1"),
    ((("platinum", 0.5), ("platinum", 0.5)), "distinct"),
    ((("platinum", 0.0), ("bronze", 1.0)), "greater than 0"),
])
def test_invalid_pyramid_is_refused(pyramid: tuple, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rfm.value_tiers([1.0, 2.0], pyramid)


def test_reference_date_leaves_out_later_purchases() -> None:
    scores = rfm.rfm_scores([1, 1, 2], ["2024-01-01", "2024-03-01", "2024-01-20"], [10.0, 99.0, 5.0],
                            reference_date="2024-01-31")
    assert scores.frequency.tolist() == [1, 1]
    assert scores.monetary.tolist() == [10.0, 5.0]
    assert scores.recency.tolist() == [30, 11]


def test_empty_or_non_finite_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no transactions"):
        rfm.rfm_scores(np.array([], dtype=int), np.array([], dtype="datetime64[D]"), np.array([]))
    with pytest.raises(ValueError, match="position 1 is not a finite number"):
        rfm.rfm_scores([1, 2], ["2024-01-01", "2024-01-02"], [1.0, math.inf])
    with pytest.raises(ValueError, match="no transactions on or before the reference date"):
        rfm.rfm_scores([1], ["2024-01-01"], [1.0], reference_date="2023-12-31")
