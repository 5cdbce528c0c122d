"""Simulated ACD against Erlang C: service level and average speed of answer.

SPEC §5 target: the discrete-event simulator, which drives the real routing engine,
agrees with Erlang C within 1.5 percentage points of service level and 5 % of ASA,
with 10 seeds × 100,000 calls at three loads.

The three loads are the issue's known values: 100 calls/h with a 180 s handle time
(5 Erlangs) served by 8, 7 and 6 agents, i.e. 63 %, 71 % and 83 % occupancy, where
Erlang C gives 88.01 %, 74.04 % and 47.43 % answered within 20 s and an ASA of 10.04 s,
29.17 s and 105.75 s: a queue staffed for 80/20, one agent short and two agents short.
Much closer to 100 % occupancy the queue forgets its past so slowly that 10 × 100,000
calls no longer pin the ASA to ±5 % (a queue of 87 agents at 92 % measured +9.1 %
ASA with the service level still within 1.5 points, and single 30,000-call runs at
94 % spread over 20 service-level points), whatever the simulator; ``--load`` runs any other load.

For each load the measured figures pool all seeds (every seed has the same number of
calls, so this is the mean over seeds); the spread printed is the standard error over
seeds. The JSON line's value is the worst service-level difference in percentage
points; ``baseline`` is Erlang C itself, so ``ratio`` is value / target (at most 1
meets the target) and the worst ASA difference travels alongside; ``meets_target``
holds when both the service level and the ASA are within their tolerances.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guanxi.contactcenter.erlang import erlang_c_figures  # noqa: E402
from guanxi.contactcenter.sim import simulate  # noqa: E402

TARGET_SECONDS = 20.0
SERVICE_LEVEL_TOLERANCE_POINTS = 1.5
SPEED_OF_ANSWER_TOLERANCE_PERCENT = 5.0
# calls per hour, average handle time (s), agents: the known values
DEFAULT_LOADS = ((100.0, 180.0, 8), (100.0, 180.0, 7), (100.0, 180.0, 6))


def parse_load(text: str) -> tuple[float, float, int]:
    try:
        calls_per_hour, handle_time, agents = text.split(",")
        return float(calls_per_hour), float(handle_time), int(agents)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a load is CALLS_PER_HOUR,AHT,AGENTS, not {text!r}") from None


def compare(calls_per_hour: float, handle_time: float, agents: int, calls: int, seeds: int) -> dict:
    predicted = erlang_c_figures(calls_per_hour=calls_per_hour, average_handle_time=handle_time, agents=agents,
                                 target_seconds=TARGET_SECONDS)
    runs = [
        simulate(calls_per_hour=calls_per_hour, average_handle_time=handle_time, agents=agents,
                 target_seconds=TARGET_SECONDS, calls=calls, seed=seed)
        for seed in range(1, seeds + 1)
    ]
    service_levels = [run.service_level for run in runs]
    speeds = [run.average_speed_of_answer for run in runs]
    service_level = statistics.fmean(service_levels)
    speed_of_answer = statistics.fmean(speeds)
    spread = (lambda values: statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)
    return {
        "calls_per_hour": calls_per_hour,
        "aht": handle_time,
        "agents": agents,
        "occupancy": predicted.occupancy,
        "erlang_c_service_level": predicted.service_level,
        "simulated_service_level": service_level,
        "service_level_difference_points": (service_level - predicted.service_level) * 100,
        "service_level_standard_error_points": spread(service_levels) * 100,
        "erlang_c_asa": predicted.average_speed_of_answer,
        "simulated_asa": speed_of_answer,
        "asa_difference_percent": (speed_of_answer / predicted.average_speed_of_answer - 1) * 100,
        "asa_standard_error_percent": spread(speeds) / predicted.average_speed_of_answer * 100,
        "simulated_occupancy": statistics.fmean(run.occupancy for run in runs),
        "calls": calls * seeds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="measured calls per seed (default 100,000)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--load", type=parse_load, action="append", metavar="CALLS_PER_HOUR,AHT,AGENTS",
                        help="a load to compare (repeatable); default: 100/h × 180 s with 8, 7 and 6 agents")
    arguments = parser.parse_args(argv)
    loads = arguments.load or list(DEFAULT_LOADS)
    started = time.perf_counter()
    results = []
    print(f"{'load':<34} {'Erlang C SL':>11} {'simulated':>15} {'diff pp':>8} │ "
          f"{'Erlang C ASA':>12} {'simulated':>15} {'diff %':>7}")
    for calls_per_hour, handle_time, agents in loads:
        result = compare(calls_per_hour, handle_time, agents, arguments.size, arguments.seeds)
        results.append(result)
        label = f"{calls_per_hour:g}/h × {handle_time:g} s, {agents} agents ({result['occupancy']:.0%})"
        print(f"{label:<34} {result['erlang_c_service_level']:>10.2%} "
              f"{result['simulated_service_level']:>8.2%} ±{result['service_level_standard_error_points']:.2f} "
              f"{result['service_level_difference_points']:>+8.2f} │ "
              f"{result['erlang_c_asa']:>11.2f}s {result['simulated_asa']:>8.2f}s ±{result['asa_standard_error_percent']:.1f}% "
              f"{result['asa_difference_percent']:>+6.2f}%", flush=True)
    worst_service_level = max(abs(result["service_level_difference_points"]) for result in results)
    worst_speed = max(abs(result["asa_difference_percent"]) for result in results)
    print(f"{arguments.seeds} seeds × {arguments.size:,} calls per load; {time.perf_counter() - started:.0f} s; "
          f"worst SL difference {worst_service_level:.2f} pp (target {SERVICE_LEVEL_TOLERANCE_POINTS}), "
          f"worst ASA difference {worst_speed:.2f} % (target {SPEED_OF_ANSWER_TOLERANCE_PERCENT})")
    print(json.dumps({
        "benchmark": "acd_vs_erlang",
        "value": round(worst_service_level, 3),
        "unit": "percentage points (worst |simulated SL - Erlang C SL| over the loads)",
        "target": SERVICE_LEVEL_TOLERANCE_POINTS,
        "asa_difference_percent": round(worst_speed, 3),
        "asa_target_percent": SPEED_OF_ANSWER_TOLERANCE_PERCENT,
        "baseline": "Erlang C (analytic)",
        "baseline_value": 0.0,
        "ratio": round(worst_service_level / SERVICE_LEVEL_TOLERANCE_POINTS, 3),
        "meets_target": (worst_service_level <= SERVICE_LEVEL_TOLERANCE_POINTS
                         and worst_speed <= SPEED_OF_ANSWER_TOLERANCE_PERCENT),
        "loads": [
            {key: round(value, 4) if isinstance(value, float) else value for key, value in result.items()}
            for result in results
        ],
        "seeds": arguments.seeds,
        "size": arguments.size,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
