"""Erlang B, C and A against published values, the erlanglib package and their own limits."""

from __future__ import annotations

import math

import erlanglib
import pytest

from guanxi.contactcenter import erlang

# Issue 5 / textbook example: 100 calls an hour, 180 s handle time, 20 s target.
PUBLISHED = [  # agents, service level %, ASA seconds
    (6, 47.43, 105.75),
    (7, 74.04, 29.17),
    (8, 88.01, 10.04),
]


@pytest.mark.parametrize(("agents", "service_level_percent", "speed_of_answer"), PUBLISHED)
def test_erlang_c_matches_the_published_figures(agents, service_level_percent, speed_of_answer):
    figures = erlang.erlang_c_figures(calls_per_hour=100, average_handle_time=180, agents=agents, target_seconds=20)
    assert round(figures.service_level * 100, 2) == service_level_percent
    assert round(figures.average_speed_of_answer, 2) == speed_of_answer
    assert figures.occupancy == pytest.approx(5 / agents)
    assert figures.traffic_erlangs == pytest.approx(5.0)


def test_eighty_twenty_needs_eight_agents():
    figures = erlang.required_agents(calls_per_hour=100, average_handle_time=180, target_seconds=20,
                                     service_level=0.8)
    assert figures.agents == 8


def test_an_occupancy_cap_can_add_agents():
    # 8 agents run at 5 / 8 = 62.5 % occupancy, above a 60 % cap; 9 run at 55.6 %
    figures = erlang.required_agents(calls_per_hour=100, average_handle_time=180, target_seconds=20,
                                     service_level=0.8, max_occupancy=0.6)
    assert figures.agents == 9


@pytest.mark.parametrize(("agents", "traffic"), [(1, 0.5), (3, 2.2), (6, 5.0), (12, 10.7), (25, 20.0), (40, 37.5)])
def test_erlang_b_and_c_agree_with_erlanglib(agents, traffic):
    assert erlang.erlang_b(agents, traffic) == pytest.approx(erlanglib.erlang_b(agents, traffic), rel=1e-12)
    waiting = erlang.erlang_c(agents, traffic)
    assert waiting == pytest.approx(erlanglib.erlang_c(agents, traffic), rel=1e-12)


@pytest.mark.parametrize(
    ("calls_per_hour", "handle_time", "agents", "target"),
    [(100, 180, 6, 20), (100, 180, 9, 15), (360, 300, 33, 20), (1200, 240, 85, 30), (50, 600, 10, 60)],
)
def test_service_level_and_speed_of_answer_agree_with_erlanglib(calls_per_hour, handle_time, agents, target):
    figures = erlang.erlang_c_figures(calls_per_hour=calls_per_hour, average_handle_time=handle_time,
                                      agents=agents, target_seconds=target)
    traffic = erlanglib.calculate_erlangs(handle_time / 3600, calls_per_hour)
    waiting = erlanglib.erlang_c(agents, traffic)
    assert figures.probability_of_waiting == pytest.approx(waiting, rel=1e-9)
    assert figures.service_level == pytest.approx(
        erlanglib.service_level(agents, traffic, waiting, target, handle_time), rel=1e-9)
    assert figures.average_speed_of_answer == pytest.approx(
        erlanglib.average_speed_of_answer(agents, traffic, waiting, handle_time), rel=1e-9)
    assert figures.occupancy * 100 == pytest.approx(erlanglib.occupancy(traffic, agents))


def test_erlang_b_stays_finite_for_thousands_of_agents():
    blocking = erlang.erlang_b(5000, 4900.0)
    assert 0 < blocking < 1
    figures = erlang.erlang_c_figures(calls_per_hour=200_000, average_handle_time=300, agents=17_000,
                                      target_seconds=20)
    assert 0 < figures.probability_of_waiting < 1 and figures.service_level > 0.99


def test_an_overloaded_queue_is_reported_unstable_not_as_a_number():
    figures = erlang.erlang_c_figures(calls_per_hour=100, average_handle_time=180, agents=5, target_seconds=20)
    assert not figures.stable
    assert (figures.probability_of_waiting, figures.service_level) == (1.0, 0.0)
    assert figures.as_dict()["average_speed_of_answer"] is None


@pytest.mark.parametrize("agents", [6, 7, 8, 12])
def test_erlang_a_with_endless_patience_equals_erlang_c(agents):
    patient = erlang.erlang_a_figures(calls_per_hour=100, average_handle_time=180, agents=agents, target_seconds=20,
                                      average_patience=1e9)
    classic = erlang.erlang_c_figures(calls_per_hour=100, average_handle_time=180, agents=agents, target_seconds=20)
    assert patient.probability_of_waiting == pytest.approx(classic.probability_of_waiting, rel=1e-5)
    assert patient.service_level == pytest.approx(classic.service_level, rel=1e-5)
    assert patient.average_speed_of_answer == pytest.approx(classic.average_speed_of_answer, rel=1e-5)
    assert patient.probability_of_abandon == pytest.approx(0.0, abs=1e-6)


def test_erlang_a_abandonment_equals_mean_wait_over_mean_patience():
    # Each waiting caller abandons at rate 1/patience, so abandons per arrival equal
    # (mean time spent waiting per arrival) / patience, whatever the staffing.
    for agents, patience in ((4, 30.0), (6, 60.0), (8, 240.0)):
        figures = erlang.erlang_a_figures(calls_per_hour=100, average_handle_time=180, agents=agents,
                                          target_seconds=20, average_patience=patience)
        assert figures.probability_of_abandon == pytest.approx(figures.average_wait / patience, rel=1e-9)


def test_erlang_a_less_patience_means_more_abandons_shorter_waits_for_those_served():
    def figures(patience: float) -> erlang.StaffingFigures:
        return erlang.erlang_a_figures(calls_per_hour=100, average_handle_time=180, agents=6, target_seconds=20,
                                       average_patience=patience)

    impatient, patient = figures(30), figures(300)
    assert impatient.probability_of_abandon > patient.probability_of_abandon > 0
    assert impatient.average_speed_of_answer < patient.average_speed_of_answer
    assert impatient.service_level_over_answered > patient.service_level_over_answered


def test_erlang_a_stays_stable_when_the_queue_is_overloaded():
    figures = erlang.erlang_a_figures(calls_per_hour=1000, average_handle_time=180, agents=20, target_seconds=20,
                                      average_patience=60)
    # 20 agents serve at most 20 / 180 calls a second of the 1000 / 3600 offered
    assert figures.probability_of_abandon == pytest.approx(1 - (20 / 180) / (1000 / 3600), rel=1e-3)
    assert figures.occupancy == pytest.approx(1.0, abs=1e-3)
    assert math.isfinite(figures.average_speed_of_answer)


def test_required_agents_with_patience_needs_no_more_than_without():
    with_patience = erlang.required_agents(calls_per_hour=100, average_handle_time=180, target_seconds=20,
                                           average_patience=60)
    without = erlang.required_agents(calls_per_hour=100, average_handle_time=180, target_seconds=20)
    assert with_patience.agents <= without.agents
    assert with_patience.service_level >= 0.8


@pytest.mark.parametrize(
    "arguments",
    [
        {"calls_per_hour": 0, "average_handle_time": 180, "agents": 5, "target_seconds": 20},
        {"calls_per_hour": 100, "average_handle_time": -1, "agents": 5, "target_seconds": 20},
        {"calls_per_hour": 100, "average_handle_time": 180, "agents": 0, "target_seconds": 20},
        {"calls_per_hour": 100, "average_handle_time": 180, "agents": 5, "target_seconds": -1},
    ],
)
def test_impossible_loads_are_refused(arguments):
    with pytest.raises(ValueError):
        erlang.erlang_c_figures(**arguments)
