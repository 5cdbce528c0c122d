"""Staffing formulas: Erlang B, Erlang C (M/M/N) and Erlang A (M/M/N+M, with abandonment).

All figures are for one queue with Poisson arrivals, exponential handle times and
first-come first-served order; times are in seconds, probabilities are fractions.

Numerics. Erlang B uses the recursion ``B(n) = A·B(n-1) / (n + A·B(n-1))``, which never
forms ``A**N / N!`` and stays accurate for thousands of agents. Erlang C follows from
B. Erlang A sums its stationary distribution in log space (truncated where the terms
fall below 1e-22 of the largest) and gets the waiting-time distribution of served
callers in closed form: a caller finding ``i`` callers ahead waits for ``i + 1``
exponential stages with rates ``N·μ + (k + 1)·θ``; that sum is distributed as
``-log(1 - Y) / θ`` with ``Y ~ Beta(i + 1, N·μ/θ + 1)``, so its distribution function is
the regularised incomplete beta function (Garnett, Mandelbaum & Reiman 2002, "Designing
a call center with impatient customers"; Mandelbaum & Zeltyn 2007).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import betainc, gammaln, logsumexp

SECONDS_PER_HOUR = 3600.0
# Terms of the Erlang A distribution smaller than exp(-50) ~ 2e-22 of the largest are dropped.
_NEGLIGIBLE_LOG_WEIGHT = 50.0
_MAXIMUM_QUEUE_TERMS = 20_000_000


def offered_traffic(calls_per_hour: float, average_handle_time: float) -> float:
    """Offered load in Erlangs: arrivals per second times the average handle time."""
    return calls_per_hour / SECONDS_PER_HOUR * average_handle_time


def erlang_b(servers: int, traffic: float) -> float:
    """Probability that a call finds all ``servers`` busy and is lost (Erlang B)."""
    if servers < 0 or traffic < 0:
        raise ValueError("servers and traffic must not be negative")
    blocking = 1.0
    for server in range(1, servers + 1):
        blocking = traffic * blocking / (server + traffic * blocking)
    return blocking


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that a call has to wait (Erlang C); 1 when the queue is unstable (N <= A)."""
    if servers < 1:
        raise ValueError("at least one agent is needed")
    if traffic < 0:
        raise ValueError("traffic must not be negative")
    if traffic == 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    blocking = erlang_b(servers, traffic)
    return servers * blocking / (servers - traffic * (1.0 - blocking))


@dataclass(frozen=True, slots=True)
class StaffingFigures:
    """What a number of agents achieves for a given load.

    ``service_level`` is the share of offered calls answered within ``target_seconds``
    (abandoned calls count against it); ``service_level_over_answered`` divides by the
    answered calls only. Without abandonment the two are equal. ``average_speed_of_answer``
    is the mean wait of answered calls, counting those answered at once as zero;
    ``average_wait`` includes the time abandoning callers waited.
    """

    model: str
    agents: int
    calls_per_hour: float
    average_handle_time: float
    target_seconds: float
    traffic_erlangs: float
    stable: bool
    probability_of_waiting: float
    service_level: float
    service_level_over_answered: float
    average_speed_of_answer: float
    average_wait: float
    occupancy: float
    probability_of_abandon: float
    average_patience: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures; an unbounded wait becomes ``None``."""
        figures = asdict(self)
        for name, value in figures.items():
            if isinstance(value, float) and not math.isfinite(value):
                figures[name] = None
        return figures


def _check_load(calls_per_hour: float, average_handle_time: float, agents: int, target_seconds: float) -> None:
    if not calls_per_hour > 0 or not math.isfinite(calls_per_hour):
        raise ValueError("calls per hour must be a positive number")
    if not average_handle_time > 0 or not math.isfinite(average_handle_time):
        raise ValueError("average handle time must be a positive number of seconds")
    if agents < 1:
        raise ValueError("at least one agent is needed")
    if not target_seconds >= 0 or not math.isfinite(target_seconds):
        raise ValueError("the service level target must be zero or more seconds")


def erlang_c_figures(*, calls_per_hour: float, average_handle_time: float, agents: int,
                     target_seconds: float) -> StaffingFigures:
    """Erlang C: service level ``1 - C·exp(-(N - A)·t / AHT)``, ASA ``C·AHT / (N - A)``."""
    _check_load(calls_per_hour, average_handle_time, agents, target_seconds)
    traffic = offered_traffic(calls_per_hour, average_handle_time)
    if agents <= traffic:
        return StaffingFigures(
            model="erlang_c", agents=agents, calls_per_hour=calls_per_hour, average_handle_time=average_handle_time,
            target_seconds=target_seconds, traffic_erlangs=traffic, stable=False, probability_of_waiting=1.0,
            service_level=0.0, service_level_over_answered=0.0, average_speed_of_answer=math.inf,
            average_wait=math.inf, occupancy=1.0, probability_of_abandon=0.0,
        )
    waiting = erlang_c(agents, traffic)
    spare = agents - traffic
    service_level = 1.0 - waiting * math.exp(-spare * target_seconds / average_handle_time)
    speed_of_answer = waiting * average_handle_time / spare
    return StaffingFigures(
        model="erlang_c", agents=agents, calls_per_hour=calls_per_hour, average_handle_time=average_handle_time,
        target_seconds=target_seconds, traffic_erlangs=traffic, stable=True, probability_of_waiting=waiting,
        service_level=service_level, service_level_over_answered=service_level,
        average_speed_of_answer=speed_of_answer, average_wait=speed_of_answer, occupancy=traffic / agents,
        probability_of_abandon=0.0,
    )


def _erlang_a_log_weights(agents: int, arrival_rate: float, service_rate: float,
                          abandon_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised log stationary probabilities of 0..N-1 busy agents and of N + i in system."""
    traffic = arrival_rate / service_rate
    busy = np.arange(agents)
    below = busy * math.log(traffic) - gammaln(busy + 1)
    log_at_full = agents * math.log(traffic) - math.lgamma(agents + 1)
    full_rate = agents * service_rate
    # The queue terms grow while lambda > N·mu + k·theta, then shrink ever faster.
    peak = max(0.0, (arrival_rate - full_rate) / abandon_rate)
    terms = int(min(_MAXIMUM_QUEUE_TERMS, 2 * peak + 256))
    while True:
        waiting_ahead = np.arange(1, terms + 1)
        steps = math.log(arrival_rate) - np.log(full_rate + waiting_ahead * abandon_rate)
        queue = np.concatenate(([log_at_full], log_at_full + np.cumsum(steps)))
        if queue[-1] < max(queue.max(), below.max(initial=-math.inf)) - _NEGLIGIBLE_LOG_WEIGHT:
            return below, queue
        if terms >= _MAXIMUM_QUEUE_TERMS:
            raise ValueError("patience is too long for this overloaded queue to compute; use Erlang C with more agents")
        terms = min(_MAXIMUM_QUEUE_TERMS, terms * 4)


def erlang_a_figures(*, calls_per_hour: float, average_handle_time: float, agents: int, target_seconds: float,
                     average_patience: float) -> StaffingFigures:
    """Erlang A: callers abandon after an exponential patience with the given mean."""
    _check_load(calls_per_hour, average_handle_time, agents, target_seconds)
    if not average_patience > 0 or not math.isfinite(average_patience):
        raise ValueError("average patience must be a positive number of seconds")
    arrival_rate = calls_per_hour / SECONDS_PER_HOUR
    service_rate = 1.0 / average_handle_time
    abandon_rate = 1.0 / average_patience
    traffic = arrival_rate / service_rate
    below, queue = _erlang_a_log_weights(agents, arrival_rate, service_rate, abandon_rate)
    log_total = logsumexp(np.concatenate((below, queue)))
    probability_below = np.exp(below - log_total)
    probability_queue = np.exp(queue - log_total)  # index i: all agents busy and i callers already waiting
    full_rate = agents * service_rate
    ahead = np.arange(len(queue))
    served_given_ahead = full_rate / (full_rate + (ahead + 1) * abandon_rate)
    # Wait of a served caller with i ahead: stages of rate N·mu + (k+1)·theta, k = 0..i.
    mean_wait_given_ahead = np.cumsum(1.0 / (full_rate + (ahead + 1) * abandon_rate))
    shape = full_rate / abandon_rate + 1.0
    within_target_given_ahead = betainc(ahead + 1.0, shape, -math.expm1(-abandon_rate * target_seconds))

    immediate = float(probability_below.sum())
    waiting = float(probability_queue.sum())
    served_after_wait = probability_queue * served_given_ahead
    served = immediate + float(served_after_wait.sum())
    answered_within_target = immediate + float((served_after_wait * within_target_given_ahead).sum())
    speed_of_answer = float((served_after_wait * mean_wait_given_ahead).sum()) / served
    # Little's law on the queue: mean wait over every caller, abandoning ones included.
    average_wait = float((probability_queue * ahead).sum()) / arrival_rate
    return StaffingFigures(
        model="erlang_a", agents=agents, calls_per_hour=calls_per_hour, average_handle_time=average_handle_time,
        target_seconds=target_seconds, traffic_erlangs=traffic, stable=True, probability_of_waiting=waiting,
        service_level=answered_within_target, service_level_over_answered=answered_within_target / served,
        average_speed_of_answer=speed_of_answer, average_wait=average_wait,
        occupancy=traffic * served / agents, probability_of_abandon=1.0 - served,
        average_patience=average_patience,
    )


def staffing_figures(*, calls_per_hour: float, average_handle_time: float, agents: int, target_seconds: float,
                     average_patience: float | None = None) -> StaffingFigures:
    """Erlang C without patience, Erlang A with it."""
    if average_patience is None:
        return erlang_c_figures(calls_per_hour=calls_per_hour, average_handle_time=average_handle_time,
                                agents=agents, target_seconds=target_seconds)
    return erlang_a_figures(calls_per_hour=calls_per_hour, average_handle_time=average_handle_time, agents=agents,
                            target_seconds=target_seconds, average_patience=average_patience)


def required_agents(*, calls_per_hour: float, average_handle_time: float, target_seconds: float,
                    service_level: float = 0.8, average_patience: float | None = None,
                    max_occupancy: float | None = None, max_agents: int = 100_000) -> StaffingFigures:
    """The fewest agents reaching ``service_level`` within ``target_seconds`` (and, if
    given, an occupancy no higher than ``max_occupancy``), with their figures."""
    if not 0 < service_level < 1:
        raise ValueError("the service level goal must be a fraction between 0 and 1 (e.g. 0.8)")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError("the occupancy cap must be a fraction between 0 and 1")
    traffic = offered_traffic(calls_per_hour, average_handle_time)
    agents = 1 if average_patience is not None else max(1, math.floor(traffic) + 1)
    while agents <= max_agents:
        figures = staffing_figures(calls_per_hour=calls_per_hour, average_handle_time=average_handle_time,
                                   agents=agents, target_seconds=target_seconds, average_patience=average_patience)
        if figures.service_level >= service_level and (max_occupancy is None or figures.occupancy <= max_occupancy):
            return figures
        agents += 1
    raise ValueError(f"no staffing up to {max_agents} agents reaches the goal")
