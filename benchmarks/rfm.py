"""RFM scores and value tiers for 10,000,000 transactions of 1,000,000 customers (SPEC §7: ≤ 1.5 s).

The log is generated in memory (reading a CSV is not part of the timing): integer customer
ids, every customer buying at least once, dates over two years, amounts in cents. Our
NumPy engine is timed against a straightforward pandas implementation — groupby for the
aggregates, rank + qcut for the quintiles, rank + cut for the tiers — that follows the same
tie rule, and the two outputs are checked to be identical. Each is timed as the median of
three runs.

    .venv/bin/python benchmarks/rfm.py [--size 10000000] [--customers N] [--seed 1]

``--size`` is the number of transactions; customers default to a tenth of it. Ends with one
JSON line (with CPU seconds and the load average beside the wall times, as the machine may be
shared); exits 1 if the two implementations disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from guanxi.analytics import rfm

TARGET_SECONDS = 1.5


def generate(transactions: int, customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    customer_id = np.concatenate((np.arange(customers), rng.integers(0, customers, transactions - customers)))
    rng.shuffle(customer_id)
    purchase_date = np.datetime64("2023-01-01") + rng.integers(0, 730, transactions)
    amount = np.round(rng.gamma(2.0, 25.0, transactions), 2)
    return customer_id, purchase_date.astype("datetime64[D]"), amount


def pandas_rfm(customer_id: np.ndarray, purchase_date: np.ndarray, amount: np.ndarray) -> pd.DataFrame:
    """The recipe an analyst would write; ties ranked like ours (smaller id ranks higher)."""
    log = pd.DataFrame({"customer_id": customer_id, "date": purchase_date, "amount": amount})
    table = log.groupby("customer_id").agg(last=("date", "max"), frequency=("date", "size"),
                                           monetary=("amount", "sum"))
    table["recency"] = (log["date"].max() - table["last"]).dt.days
    table["monetary"] = table["monetary"].round(rfm.MONETARY_DECIMALS)  # ours rounds before ranking too
    # rank(method="first") breaks ties by order of appearance: list ids descending so the
    # smaller id comes later and ranks higher.
    by_id_descending = table.iloc[::-1]
    labels = [1, 2, 3, 4, 5]
    for score, column in (("r", "last"), ("f", "frequency"), ("m", "monetary")):
        table[score] = pd.qcut(by_id_descending[column].rank(method="first"), 5, labels=labels).astype(int)
    customers = len(table)
    edges = [0] + [math.ceil(share * customers - 1e-9) for share in (0.01, 0.05, 0.20)] + [customers]
    best_first = table["monetary"].rank(method="first", ascending=False)
    table["tier"] = pd.cut(best_first, bins=edges, labels=["platinum", "gold", "silver", "bronze"])
    return table


def median_seconds(run: Callable[[], object]) -> tuple[float, float, object]:
    """Median wall and CPU seconds of three runs (CPU beside wall: the machine may be shared)."""
    timings, cpu_timings, result = [], [], None
    for _ in range(3):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu_started)
    return statistics.median(timings), statistics.median(cpu_timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="transactions (default 10,000,000)")
    parser.add_argument("--customers", type=int, default=None, help="customers (default: size / 10)")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    customers = arguments.customers or max(arguments.size // 10, 1)

    customer_id, purchase_date, amount = generate(arguments.size, customers, arguments.seed)
    print(f"{arguments.size:,} transactions of {customers:,} customers")
    our_seconds, our_cpu, ours = median_seconds(lambda: rfm.rfm_scores(customer_id, purchase_date, amount))
    print(f"guanxi numpy: {our_seconds:.3f} s ({our_cpu:.3f} CPU s)")
    their_seconds, their_cpu, theirs = median_seconds(lambda: pandas_rfm(customer_id, purchase_date, amount))
    print(f"pandas {pd.__version__} groupby + qcut: {their_seconds:.3f} s ({their_cpu:.3f} CPU s)")

    identical = (np.array_equal(ours.customer_id, theirs.index.to_numpy())
                 and np.array_equal(ours.recency, theirs["recency"].to_numpy())
                 and np.array_equal(ours.frequency, theirs["frequency"].to_numpy())
                 and np.array_equal(ours.monetary, theirs["monetary"].to_numpy())
                 and all(np.array_equal(getattr(ours, score), theirs[score].to_numpy()) for score in ("r", "f", "m"))
                 and np.array_equal(ours.tier_name, theirs["tier"].astype(str).to_numpy()))
    print(f"scores and tiers identical: {'yes' if identical else 'NO'}")

    print(json.dumps({
        "benchmark": "rfm", "value": round(our_seconds, 3), "unit": "s", "target": TARGET_SECONDS,
        "baseline": f"pandas {pd.__version__} groupby+qcut", "baseline_value": round(their_seconds, 3),
        "ratio": round(their_seconds / our_seconds, 1), "size": arguments.size,
        "cpu_seconds": round(our_cpu, 3), "baseline_cpu_seconds": round(their_cpu, 3),
        "load_average": round(os.getloadavg()[0], 1),
    }))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
