"""``guanxi erlang …`` and ``guanxi acd …``: staffing figures and simulations as JSON.

Both run without Django (``guanxi.cli`` dispatches here before settings load) and print
one JSON object on stdout. Bad arguments exit with status 2 and a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence

from guanxi.contactcenter import erlang
from guanxi.contactcenter.acd import Strategy


def _number(description: str, *, minimum: float, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{description} must be a number, not {text!r}") from None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
            raise argparse.ArgumentTypeError(f"{description} must be {bound}, not {text}")
        return value

    return parse


def _whole_number(description: str, *, minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{description} must be a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{description} must be at least {minimum}, not {value}")
        return value

    return parse


def _fraction(description: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _number(description, minimum=0.0, inclusive=False)(text)
        if value >= 1.0:
            raise argparse.ArgumentTypeError(f"{description} must be a fraction below 1 (e.g. 0.8), not {text}")
        return value

    return parse


def _add_load_arguments(parser: argparse.ArgumentParser, *, agents_required: bool) -> None:
    parser.add_argument("--calls-per-hour", required=True, type=_number("calls per hour", minimum=0, inclusive=False),
                        help="offered calls per hour")
    parser.add_argument("--aht", required=True, type=_number("average handle time", minimum=0, inclusive=False),
                        help="average handle time in seconds (talk + hold + after-call work)")
    parser.add_argument("--agents", required=agents_required, type=_whole_number("agents", minimum=1),
                        help="agents on the queue")
    parser.add_argument("--target", required=True, type=_number("target", minimum=0, inclusive=True),
                        help="service level threshold in seconds (e.g. 20 for 80/20)")
    parser.add_argument("--patience", type=_number("patience", minimum=0, inclusive=False),
                        help="average caller patience in seconds; switches to Erlang A (with abandonment)")


def _print_json(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload, sort_keys=False) + "\n")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exit_request:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exit_request.code or 0)


def erlang_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="guanxi erlang",
        description="Erlang C (or Erlang A with --patience) staffing figures as one JSON object.",
    )
    _add_load_arguments(parser, agents_required=False)
    parser.add_argument("--required-agents", action="store_true",
                        help="find the fewest agents reaching --service-level within --target seconds")
    parser.add_argument("--service-level", type=_fraction("service level goal"), default=0.8,
                        help="goal for --required-agents as a fraction (default 0.8)")
    parser.add_argument("--max-occupancy", type=_fraction("occupancy cap"),
                        help="with --required-agents: also keep occupancy at or below this fraction")
    arguments = _parse(parser, argv)
    if isinstance(arguments, int):
        return arguments
    if not arguments.required_agents and arguments.agents is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write("guanxi erlang: error: --agents is required unless --required-agents is given\n")
        return 2
    try:
        if arguments.required_agents:
            figures = erlang.required_agents(
                calls_per_hour=arguments.calls_per_hour, average_handle_time=arguments.aht,
                target_seconds=arguments.target, service_level=arguments.service_level,
                average_patience=arguments.patience, max_occupancy=arguments.max_occupancy,
            )
            payload = {"required_agents": figures.agents, "service_level_goal": arguments.service_level}
            payload.update(figures.as_dict())
        else:
            figures = erlang.staffing_figures(
                calls_per_hour=arguments.calls_per_hour, average_handle_time=arguments.aht, agents=arguments.agents,
                target_seconds=arguments.target, average_patience=arguments.patience,
            )
            payload = figures.as_dict()
    except ValueError as problem:
        sys.stderr.write(f"guanxi erlang: error: {problem}\n")
        return 2
    _print_json(payload)
    return 0


def acd_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="guanxi acd", description="Routing engine tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    simulate_parser = commands.add_parser(
        "simulate",
        help="simulate one queue through the real routing engine and print the measured figures",
        description="Discrete-event simulation (Poisson arrivals, exponential handle times, optional "
                    "exponential patience) driving the real routing engine; prints measured figures "
                    "next to the Erlang C / Erlang A prediction as one JSON object.",
    )
    _add_load_arguments(simulate_parser, agents_required=True)
    simulate_parser.add_argument("--calls", required=True, type=_whole_number("calls", minimum=1),
                                 help="measured calls to simulate")
    simulate_parser.add_argument("--seed", type=_whole_number("seed", minimum=0), default=0)
    simulate_parser.add_argument("--warmup", type=_whole_number("warm-up calls", minimum=0),
                                 help="unmeasured calls that fill the empty system first (default 2 %% of --calls)")
    simulate_parser.add_argument("--strategy", type=_strategy, default=Strategy.LEASTRECENT,
                                 help="routing strategy (default leastrecent)")
    arguments = _parse(parser, argv)
    if isinstance(arguments, int):
        return arguments
    from guanxi.contactcenter.sim import simulate  # simpy loads only for this subcommand

    measured = simulate(
        calls_per_hour=arguments.calls_per_hour, average_handle_time=arguments.aht, agents=arguments.agents,
        target_seconds=arguments.target, calls=arguments.calls, seed=arguments.seed,
        average_patience=arguments.patience, warmup_calls=arguments.warmup, strategy=arguments.strategy,
    )
    predicted = erlang.staffing_figures(
        calls_per_hour=arguments.calls_per_hour, average_handle_time=arguments.aht, agents=arguments.agents,
        target_seconds=arguments.target, average_patience=arguments.patience,
    )
    payload = measured.as_dict()
    payload["predicted"] = {
        key: value for key, value in predicted.as_dict().items()
        if key in ("model", "stable", "probability_of_waiting", "service_level", "service_level_over_answered",
                   "average_speed_of_answer", "average_wait", "occupancy", "probability_of_abandon")
    }
    _print_json(payload)
    return 0


def _strategy(text: str) -> Strategy:
    try:
        return Strategy.parse(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None
