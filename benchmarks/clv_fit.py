"""BG/NBD + Gamma-Gamma fit of 1,000,000 customers (SPEC §7: ≤ 2 s, ≥ 10× faster than lifetimes).

Customers are simulated from BG/NBD on a daily grid: first purchases spread evenly over a
year of whole days, last purchases rounded down to the day, as a transaction log gives;
the purchase parameters are CDNOW's (FHL 2005) per day and spend follows Gamma-Gamma. Both
implementations fit the same arrays; ours is timed as the median of three runs, lifetimes
0.11.3 once (it takes long enough for one run to be stable). lifetimes is fitted on every
customer unless ``--lifetimes-sample`` is given, in which case its time is measured on that
many customers and scaled linearly to the full size (said so in the output).

    .venv/bin/python benchmarks/clv_fit.py [--size 1000000] [--seed 1] [--lifetimes-sample N]

Ends with one JSON line; exits 1 if the two fits' parameters differ by more than 1e-3
(relative), since then the speed comparison would not be like for like.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

from guanxi.analytics import clv

TARGET_SECONDS = 2.0
PARAMETER_AGREEMENT = 1e-3
# FHL (2005) CDNOW estimates with α turned from weeks into days.
PURCHASES_PER_DAY = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate(size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    observed_days = rng.integers(1, 366, size).astype(np.float64)
    frequency, recency, T = clv.simulate_bgnbd(observed_days, **PURCHASES_PER_DAY, random_state=rng)
    monetary_value = clv.simulate_gamma_gamma_spend(frequency, **SPEND, random_state=rng)
    return frequency, np.floor(recency), T, monetary_value


def fit_ours(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, monetary_value: np.ndarray
             ) -> dict[str, float]:
    purchases = clv.BGNBDModel.fit(frequency, recency, T)
    spend = clv.GammaGammaModel.fit(frequency, monetary_value)
    return {**purchases.parameters, **spend.parameters}


def fit_lifetimes(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, monetary_value: np.ndarray
                  ) -> dict[str, float]:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    purchases = BetaGeoFitter().fit(frequency, recency, T)
    repeat = frequency > 0
    spend = GammaGammaFitter().fit(frequency[repeat], monetary_value[repeat])
    return {**purchases.params_.to_dict(), **spend.params_.to_dict()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="customers (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lifetimes-sample", type=int, default=None,
                        help="fit lifetimes on this many customers only and extrapolate its time linearly")
    arguments = parser.parse_args()
    # lifetimes imports pkg_resources, which warns on import; the warning is not ours to fix.
    warnings.filterwarnings("ignore", category=UserWarning, module="lifetimes")
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

    frequency, recency, T, monetary_value = simulate(arguments.size, arguments.seed)
    print(f"{arguments.size:,} customers on a daily grid, {np.count_nonzero(frequency):,} repeat buyers")

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        ours = fit_ours(frequency, recency, T, monetary_value)
        timings.append(time.perf_counter() - started)
    our_seconds = statistics.median(timings)
    print(f"guanxi BG/NBD + Gamma-Gamma: {our_seconds:.3f} s (runs: {', '.join(f'{t:.3f}' for t in timings)})")

    sample = min(arguments.lifetimes_sample or arguments.size, arguments.size)
    started = time.perf_counter()
    theirs = fit_lifetimes(frequency[:sample], recency[:sample], T[:sample], monetary_value[:sample])
    their_seconds = (time.perf_counter() - started) * arguments.size / sample
    if sample < arguments.size:
        print(f"lifetimes 0.11.3: fitted on the first {sample:,} customers in "
              f"{their_seconds * sample / arguments.size:.1f} s, extrapolated linearly to {their_seconds:.1f} s")
        ours_on_sample = fit_ours(frequency[:sample], recency[:sample], T[:sample], monetary_value[:sample])
    else:
        print(f"lifetimes 0.11.3: {their_seconds:.1f} s on all customers")
        ours_on_sample = ours

    difference = {name: abs(ours_on_sample[name] / theirs[name] - 1) for name in ours_on_sample}
    for name in ours_on_sample:
        print(f"  {name:>5}: guanxi {ours_on_sample[name]:.6f}  lifetimes {theirs[name]:.6f}  "
              f"relative difference {difference[name]:.1e}")
    agree = max(difference.values()) <= PARAMETER_AGREEMENT
    print(f"parameters agree within {PARAMETER_AGREEMENT:g}: {'yes' if agree else 'NO'}")

    print(json.dumps({
        "benchmark": "clv_fit", "value": round(our_seconds, 3), "unit": "s", "target": TARGET_SECONDS,
        "baseline": "lifetimes 0.11.3", "baseline_value": round(their_seconds, 3),
        "ratio": round(their_seconds / our_seconds, 1), "size": arguments.size,
    }))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
