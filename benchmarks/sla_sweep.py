"""SLA state of 1,000,000 open cases (SPEC §4 SLA sweep; target ≤ 5 s).

Generated in memory: cases opened over the last days and weeks (exponential ages, mean 3 days)
under three business calendars
(Shanghai office hours with the National Day holidays and make-up working days, Berlin
office hours across the daylight-saving change, and a round-the-clock desk), policies
with first-response targets of 15 minutes to 8 hours and resolution targets of 2 to 40
working hours, a third of them replied to, a tenth paused pending the customer.

Timed: ``guanxi.service.sla_state.evaluate`` — every case's first-response and resolution
deadlines, their state (ok / warning / breached / paused / met) and the working time left,
from the raw clocks (building the calendars' timelines included). Baseline: the same
evaluation one case at a time with the scalar business-hours clock
(``sla_state.evaluate_one``), timed on a sample and extrapolated; the sample's answers
are checked to be identical to the vectorized ones.

    .venv/bin/python benchmarks/sla_sweep.py [--size 1000000] [--sample 2000] [--seed 7]

Ends with one JSON line; exits 1 if the two evaluations disagree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time

import numpy as np

from guanxi.service import sla_state
from guanxi.service.business_time import UTC, BusinessCalendar

TARGET_SECONDS = 5.0
NOW = dt.datetime(2026, 10, 12, 10, 30, tzinfo=UTC)


def calendars() -> list[BusinessCalendar]:
    office = {day: "09:00-12:00, 13:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
    shanghai = BusinessCalendar.from_text(
        "Asia/Shanghai", office, holidays={dt.date(2026, 10, day) for day in range(1, 8)},
        special_days={dt.date(2026, 9, 27): "09:00-18:00", dt.date(2026, 10, 10): "09:00-18:00"})
    berlin = BusinessCalendar.from_text("Europe/Berlin", {day: "08:00-17:00" for day in ("mon", "tue", "wed",
                                                                                          "thu", "fri")},
                                        holidays={dt.date(2026, 10, 3)})
    return [shanghai, berlin, BusinessCalendar.always_open("Asia/Shanghai")]


def generate(size: int, seed: int) -> sla_state.CaseClocks:
    rng = np.random.default_rng(seed)
    now = NOW.timestamp()
    created = now - rng.exponential(3 * 86400, size)
    first_target = rng.choice(np.array([15, 60, 240, 480], dtype=float) * 60, size)
    resolution_target = rng.choice(np.array([2, 8, 16, 40], dtype=float) * 3600, size)
    used = np.where(rng.random(size) < 0.3, rng.uniform(0, 1, size) * resolution_target, 0.0)
    paused = rng.random(size) < 0.1
    since = np.where(paused, np.nan, created + rng.uniform(0, 1, size) * (now - created))
    no_sla = rng.random(size) < 0.02
    return sla_state.CaseClocks(
        calendar=np.where(no_sla, -1, rng.integers(0, 3, size)).astype(np.int32), created=created,
        first_response_target=first_target, responded=rng.random(size) < 0.33,
        resolution_target=resolution_target, used=used, since=since,
        warning_share=rng.choice(np.array([0.75, 0.8, 0.9]), size))


def one_by_one(clocks: sla_state.CaseClocks, desks: list[BusinessCalendar], rows: np.ndarray) -> list[tuple]:
    """The baseline: what a per-case loop over the ORM rows would compute."""
    answers = []
    for row in rows:
        if clocks.calendar[row] < 0:
            answers.append((sla_state.NONE, sla_state.NONE, None))
            continue
        since = None if np.isnan(clocks.since[row]) else dt.datetime.fromtimestamp(clocks.since[row], UTC)
        answers.append(sla_state.evaluate_one(
            desks[clocks.calendar[row]], created=dt.datetime.fromtimestamp(clocks.created[row], UTC),
            first_response_target=float(clocks.first_response_target[row]), responded=bool(clocks.responded[row]),
            resolution_target=float(clocks.resolution_target[row]), used=float(clocks.used[row]), since=since,
            warning_share=float(clocks.warning_share[row]), now=NOW))
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args(argv)
    desks = calendars()
    clocks = generate(arguments.size, arguments.seed)

    timings = []
    for _run in range(3):
        started = time.perf_counter()
        state = sla_state.evaluate(clocks, desks, NOW.timestamp())
        timings.append(time.perf_counter() - started)
    vectorized = statistics.median(timings)

    rows = np.random.default_rng(arguments.seed + 1).choice(arguments.size, min(arguments.sample, arguments.size),
                                                            replace=False)
    started = time.perf_counter()
    expected = one_by_one(clocks, desks, rows)
    per_case = (time.perf_counter() - started) / len(rows)
    baseline = per_case * arguments.size

    disagreements = 0
    for row, (first, resolution, left) in zip(rows, expected):
        got_left = state.resolution_left[row]
        if (state.first_response_state[row], state.resolution_state[row]) != (first, resolution) or (
                left is None) != np.isnan(got_left) or (left is not None and abs(left - got_left) > 1e-3):
            disagreements += 1
    counts = state.counts()
    print(f"SLA state of {arguments.size:,} open cases: {vectorized:.3f} s vectorized "
          f"(median of 3), per-case loop {per_case * 1e6:.0f} µs/case → {baseline:.1f} s extrapolated; "
          f"resolution states {counts}; sample of {len(rows)} checked, {disagreements} disagreements",
          file=sys.stderr)
    print(json.dumps({
        "benchmark": "sla_sweep", "value": round(vectorized, 3), "unit": "s", "target": TARGET_SECONDS,
        "baseline": f"per-case Python loop with the scalar business-hours clock on {len(rows)} sampled cases, "
                    f"extrapolated to {arguments.size:,}",
        "baseline_value": round(baseline, 2), "ratio": round(baseline / vectorized, 1), "size": arguments.size}))
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
