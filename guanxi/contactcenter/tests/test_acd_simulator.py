"""The simulator drives the real routing engine and agrees with Erlang C and Erlang A.

Modest runs (about 8 s in all): the tolerances are several standard errors of these
run lengths, so a correct engine passes whatever the seed; benchmarks/acd_vs_erlang.py
holds the full-size comparison.
"""

from __future__ import annotations

import pytest

from guanxi.contactcenter import erlang
from guanxi.contactcenter.sim import simulate

LOAD = {"calls_per_hour": 100, "average_handle_time": 180, "agents": 8, "target_seconds": 20}


def averaged(runs, field: str) -> float:
    return sum(getattr(run, field) for run in runs) / len(runs)


def test_simulated_service_level_and_speed_of_answer_agree_with_erlang_c():
    runs = [simulate(**LOAD, calls=30_000, seed=seed) for seed in (1, 2)]
    predicted = erlang.erlang_c_figures(**LOAD)
    assert averaged(runs, "service_level") == pytest.approx(predicted.service_level, abs=0.02)
    assert averaged(runs, "average_speed_of_answer") == pytest.approx(predicted.average_speed_of_answer, rel=0.15)
    assert averaged(runs, "probability_of_waiting") == pytest.approx(predicted.probability_of_waiting, abs=0.02)
    assert averaged(runs, "occupancy") == pytest.approx(predicted.occupancy, abs=0.02)
    assert all(run.calls_offered == run.calls_answered == 30_000 for run in runs)


def test_simulated_abandonment_agrees_with_erlang_a():
    load = dict(LOAD, agents=6)
    run = simulate(**load, calls=30_000, seed=3, average_patience=60)
    predicted = erlang.erlang_a_figures(**load, average_patience=60)
    assert run.probability_of_abandon == pytest.approx(predicted.probability_of_abandon, abs=0.015)
    assert run.service_level == pytest.approx(predicted.service_level, abs=0.02)
    assert run.average_speed_of_answer == pytest.approx(predicted.average_speed_of_answer, rel=0.15)
    assert run.calls_answered + run.calls_abandoned == run.calls_offered


def test_the_same_seed_gives_the_same_run_and_another_seed_a_different_one():
    first = simulate(**LOAD, calls=2_000, seed=9)
    assert simulate(**LOAD, calls=2_000, seed=9) == first
    assert simulate(**LOAD, calls=2_000, seed=10) != first


@pytest.mark.parametrize("strategy", ["ringall", "random", "rrmemory", "linear", "fewestcalls", "wrandom"])
def test_every_strategy_serves_every_call_when_agents_are_identical(strategy):
    run = simulate(**LOAD, calls=2_000, seed=4, strategy=strategy)
    assert run.calls_answered == run.calls_offered == 2_000
    assert 0.5 < run.service_level <= 1.0


def test_bad_simulation_settings_are_refused():
    with pytest.raises(ValueError):
        simulate(**dict(LOAD, agents=0), calls=10)
