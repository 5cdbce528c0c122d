"""``guanxi erlang`` and ``guanxi acd simulate`` through the real command entry point."""

from __future__ import annotations

import json

import pytest

from guanxi import cli


def run(capsys, *arguments: str) -> tuple[int, dict | None, str]:
    status = cli.main(["guanxi", *arguments])
    captured = capsys.readouterr()
    payload = json.loads(captured.out) if captured.out.strip() else None
    return status, payload, captured.err


def test_erlang_prints_service_level_asa_occupancy_and_probability_of_waiting(capsys):
    status, payload, _ = run(capsys, "erlang", "--calls-per-hour", "100", "--aht", "180", "--agents", "7",
                             "--target", "20")
    assert status == 0
    assert round(payload["service_level"] * 100, 2) == 74.04
    assert round(payload["average_speed_of_answer"], 2) == 29.17
    assert payload["occupancy"] == pytest.approx(5 / 7)
    assert 0 < payload["probability_of_waiting"] < 1


def test_erlang_with_patience_adds_the_probability_of_abandon(capsys):
    status, payload, _ = run(capsys, "erlang", "--calls-per-hour", "100", "--aht", "180", "--agents", "6",
                             "--target", "20", "--patience", "60")
    assert status == 0
    assert payload["model"] == "erlang_a"
    assert 0 < payload["probability_of_abandon"] < 1


def test_erlang_required_agents_for_eighty_twenty(capsys):
    status, payload, _ = run(capsys, "erlang", "--calls-per-hour", "100", "--aht", "180", "--target", "20",
                             "--required-agents", "--service-level", "0.8")
    assert status == 0
    assert payload["required_agents"] == 8
    assert payload["service_level"] >= 0.8


def test_an_understaffed_queue_prints_an_unstable_result_not_infinity(capsys):
    status, payload, _ = run(capsys, "erlang", "--calls-per-hour", "100", "--aht", "180", "--agents", "4",
                             "--target", "20")
    assert status == 0
    assert payload["stable"] is False and payload["average_speed_of_answer"] is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--calls-per-hour", "-5", "--aht", "180", "--agents", "7", "--target", "20"], "more than 0"),
        (["--calls-per-hour", "many", "--aht", "180", "--agents", "7", "--target", "20"], "must be a number"),
        (["--calls-per-hour", "100", "--aht", "180", "--agents", "0", "--target", "20"], "at least 1"),
        (["--calls-per-hour", "100", "--aht", "180", "--target", "20"], "--agents is required"),
        (["--calls-per-hour", "100", "--aht", "180", "--agents", "7"], "--target"),
        (["--calls-per-hour", "100", "--aht", "180", "--target", "20", "--required-agents", "--service-level", "80"],
         "fraction"),
    ],
)
def test_erlang_bad_arguments_exit_2_with_a_message(capsys, arguments, message):
    status, payload, error = run(capsys, "erlang", *arguments)
    assert status == 2
    assert payload is None
    assert message in error


def test_acd_simulate_prints_measured_figures_next_to_the_prediction(capsys):
    status, payload, _ = run(capsys, "acd", "simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "8",
                             "--target", "20", "--calls", "3000", "--seed", "5")
    assert status == 0
    assert payload["model"] == "simulation" and payload["calls_offered"] == 3000
    for field in ("service_level", "average_speed_of_answer", "occupancy", "probability_of_waiting"):
        assert payload[field] == pytest.approx(payload["predicted"][field], abs=max(0.1, payload["predicted"][field]))
    again = run(capsys, "acd", "simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "8",
                "--target", "20", "--calls", "3000", "--seed", "5")[1]
    assert again == payload


def test_acd_simulate_with_patience_measures_abandonment(capsys):
    status, payload, _ = run(capsys, "acd", "simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "5",
                             "--target", "20", "--calls", "2000", "--seed", "1", "--patience", "30")
    assert status == 0
    assert payload["calls_abandoned"] > 0
    assert payload["predicted"]["model"] == "erlang_a"


@pytest.mark.parametrize(
    "arguments",
    [
        ["simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "8", "--target", "20"],
        ["simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "8", "--target", "20", "--calls", "0"],
        ["simulate", "--calls-per-hour", "100", "--aht", "180", "--agents", "8", "--target", "20", "--calls", "10",
         "--strategy", "fastest"],
        ["explode"],
        [],
    ],
)
def test_acd_bad_arguments_exit_2(capsys, arguments):
    status, payload, error = run(capsys, "acd", *arguments)
    assert status == 2
    assert payload is None
    assert "error" in error
