"""A discrete-event simulation of one inbound queue that drives the real routing engine.

Calls arrive as a Poisson stream, are handled for exponential times and, if a mean
patience is given, hang up after an exponential patience unless answered first.
simpy keeps the time; every routing decision is taken by ``acd.Engine`` itself
(enqueue → offer → accept → work_completed → the next offer), so the measured service
level and speed of answer test the engine against Erlang C / Erlang A.

The first ``warmup_calls`` calls fill the empty system and are not measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import simpy

from guanxi.contactcenter.acd import Agent, Engine, QueueConfig, Strategy, WorkItem

SIMULATED_QUEUE = "simulated"
SIMULATED_SKILL = "simulated"


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Measured figures, defined exactly as ``erlang.StaffingFigures`` defines them."""

    model: str
    agents: int
    calls_per_hour: float
    average_handle_time: float
    target_seconds: float
    average_patience: float | None
    seed: int
    strategy: str
    calls_offered: int
    calls_answered: int
    calls_abandoned: int
    probability_of_waiting: float
    service_level: float
    service_level_over_answered: float
    average_speed_of_answer: float
    average_wait: float
    occupancy: float
    probability_of_abandon: float
    simulated_seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def simulate(*, calls_per_hour: float, average_handle_time: float, agents: int, target_seconds: float, calls: int,
             seed: int = 0, average_patience: float | None = None, warmup_calls: int | None = None,
             strategy: Strategy | str = Strategy.LEASTRECENT) -> SimulationResult:
    """Simulate ``calls`` measured calls (after ``warmup_calls``, default 2 % of them)."""
    if not calls_per_hour > 0 or not average_handle_time > 0:
        raise ValueError("calls per hour and average handle time must be positive")
    if agents < 1 or calls < 1:
        raise ValueError("at least one agent and one call are needed")
    if target_seconds < 0:
        raise ValueError("the service level target must not be negative")
    if average_patience is not None and not average_patience > 0:
        raise ValueError("average patience must be positive")
    strategy = Strategy.parse(strategy)
    warmup = max(0, calls // 50 if warmup_calls is None else warmup_calls)
    total = warmup + calls

    environment = simpy.Environment()
    engine = Engine(clock=lambda: environment.now, rng_seed=seed, record_events=False)
    engine.add_queue(QueueConfig(SIMULATED_QUEUE, strategy=strategy, required_skills={SIMULATED_SKILL: 1},
                                 ring_timeout=None, service_level_seconds=target_seconds))
    for number in range(agents):
        agent_id = f"agent-{number}"
        engine.add_agent(Agent(agent_id, skills={SIMULATED_SKILL: 5}))
        engine.agent_login(agent_id)

    streams = np.random.default_rng(seed)
    interarrival_times = streams.exponential(3600.0 / calls_per_hour, total).tolist()
    handle_times = streams.exponential(average_handle_time, total).tolist()
    patience_times = streams.exponential(average_patience, total).tolist() if average_patience else None
    arrival_times = np.cumsum(interarrival_times)
    # Occupancy is measured between the first and the last measured arrival.
    window_start = float(arrival_times[warmup] if warmup else 0.0)
    window_end = float(arrival_times[-1])

    item_ids = [str(index) for index in range(total)]
    arrived_at = [math.nan] * total
    answered_at = [math.nan] * total
    abandoned_at = [math.nan] * total
    waited_on_arrival = [False] * total
    busy = {"agents": 0, "since": 0.0, "area": 0.0}

    def busy_changed(change: int) -> None:
        now = environment.now
        start = max(busy["since"], window_start)
        end = min(now, window_end)
        if end > start:
            busy["area"] += busy["agents"] * (end - start)
        busy["agents"] += change
        busy["since"] = now

    def connect_offers() -> None:
        offers = engine.take_offers()
        while offers:
            for offer in offers:
                engine.offer_accepted(offer.offer_id, offer.agent_ids[0])
                index = int(offer.item_id)
                answered_at[index] = environment.now
                busy_changed(+1)
                environment.timeout(handle_times[index]).callbacks.append(partial(complete, index))
            offers = engine.take_offers()

    def complete(index: int, _event: simpy.Event) -> None:
        engine.work_completed(item_ids[index])
        busy_changed(-1)
        connect_offers()

    def give_up(index: int, _event: simpy.Event) -> None:
        if math.isnan(answered_at[index]):
            engine.abandon(item_ids[index])
            abandoned_at[index] = environment.now

    def arrive(index: int, _event: simpy.Event | None) -> None:
        arrived_at[index] = environment.now
        result = engine.enqueue(WorkItem(item_ids[index], SIMULATED_QUEUE))
        waited_on_arrival[index] = result.offer is None
        connect_offers()
        if patience_times is not None and math.isnan(answered_at[index]):
            environment.timeout(patience_times[index]).callbacks.append(partial(give_up, index))
        if index + 1 < total:
            environment.timeout(interarrival_times[index + 1]).callbacks.append(partial(arrive, index + 1))

    environment.timeout(interarrival_times[0]).callbacks.append(partial(arrive, 0))
    environment.run()
    busy_changed(0)

    measured = range(warmup, total)
    offered = len(measured)
    waits_answered = [answered_at[i] - arrived_at[i] for i in measured if not math.isnan(answered_at[i])]
    waits_abandoned = [abandoned_at[i] - arrived_at[i] for i in measured if not math.isnan(abandoned_at[i])]
    answered = len(waits_answered)
    within_target = sum(1 for wait in waits_answered if wait <= target_seconds)
    window = window_end - window_start
    return SimulationResult(
        model="simulation",
        agents=agents,
        calls_per_hour=calls_per_hour,
        average_handle_time=average_handle_time,
        target_seconds=target_seconds,
        average_patience=average_patience,
        seed=seed,
        strategy=str(strategy),
        calls_offered=offered,
        calls_answered=answered,
        calls_abandoned=len(waits_abandoned),
        probability_of_waiting=sum(waited_on_arrival[i] for i in measured) / offered,
        service_level=within_target / offered,
        service_level_over_answered=within_target / answered if answered else 0.0,
        average_speed_of_answer=sum(waits_answered) / answered if answered else 0.0,
        average_wait=(sum(waits_answered) + sum(waits_abandoned)) / offered,
        occupancy=busy["area"] / (agents * window) if window > 0 else 0.0,
        probability_of_abandon=len(waits_abandoned) / offered,
        simulated_seconds=environment.now,
    )
