"""ACD routing throughput: decisions per second and p99 decision latency.

SPEC §5 target: at least 50,000 routing decisions a second on one core with p99 at most
1 ms, with 1,000 agents × 50 skills and 10,000 waiting contacts. The run is repeated
with 10,000 agents.

The scenario is a busy contact center in steady state: 50 queues (one per skill) using
every strategy but ringall in turn, some with skill-level escalation, priority aging and
"gold to the most skilled" routing; each agent holds ``--skills-per-agent`` of the 50
skills at random levels; every agent is busy and ``--size`` contacts wait (10 % gold).
Each step, a random agent completes its item, the engine decides what it takes next
(the decision being timed), the agent answers, and a new contact arrives so the backlog
stays put; the manual clock moves 1 ms a step, so escalation and ring-timeout timers
fire along the way. The value is decisions per second of engine time spent in the
calls that make them (``work_completed`` → the next offer), i.e. 1 / mean decision
latency; "whole loop" also counts the answers, arrivals, timers and event draining
around each decision. A second run times the other decision path: contacts arriving
to idle agents (``enqueue`` → the strategy's pick).

Before timing, the set-up's objects are frozen out of the garbage collector's reach
(``gc.freeze``, see ``settle_memory``), as the routing service does after rebuilding
its engine. The engine records events as flat fields in one list and builds ``Event``
objects in ``take_events``, which this loop calls every 1,000 steps outside the timed calls; the
whole-loop figure includes that.

The baseline is a naive router on the same data that scans every waiting contact (for
a free agent) or every agent (for a new contact) on each decision.

Ends with one JSON line: {"benchmark": "acd_throughput", "value": decisions/s, ...}.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guanxi.contactcenter.acd import (  # noqa: E402
    Agent, Engine, ManualClock, PenaltyRule, QueueConfig, Strategy, WorkItem,
)

SKILL_COUNT = 50
GOLD_PRIORITY = 10
STEP_SECONDS = 0.001


def queue_configs() -> list[QueueConfig]:
    # ringall is left out: with ~160 free members per queue one ringall offer rings, and
    # then releases, every one of them, a cost proportional to the agents rung that no
    # operator would configure at this size.
    strategies = [strategy for strategy in Strategy if strategy is not Strategy.RINGALL]
    configs = []
    for number in range(SKILL_COUNT):
        skill = f"skill-{number:02d}"
        settings: dict = {
            "strategy": strategies[number % len(strategies)],
            "required_skills": {skill: 1},
            "weight": number % 3,
            "ring_timeout": 20.0,
        }
        if number % 4 == 1:
            # experts (level >= 6) first, everyone after 30 s
            settings.update(penalty_from_skill_level=True, initial_max_penalty=4,
                            penalty_rules=(PenaltyRule(after_seconds=30, max_penalty=9),))
        if number % 5 == 2:
            settings["priority_aging_per_second"] = 0.05
        if number % 3 == 0:
            settings["most_skilled_from_priority"] = GOLD_PRIORITY
        configs.append(QueueConfig(skill, **settings))
    return configs


def agent_profiles(agent_count: int, skills_per_agent: int, rng: random.Random) -> list[Agent]:
    skills = [f"skill-{number:02d}" for number in range(SKILL_COUNT)]
    return [
        Agent(f"agent-{number}", skills={skill: rng.randint(1, 10) for skill in rng.sample(skills, skills_per_agent)})
        for number in range(agent_count)
    ]


def new_contact(number: int, rng: random.Random) -> WorkItem:
    priority = GOLD_PRIORITY if rng.random() < 0.1 else rng.randint(0, 2)
    return WorkItem(f"contact-{number}", f"skill-{rng.randrange(SKILL_COUNT):02d}", priority=priority)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def build_engine(agent_count: int, skills_per_agent: int, rng: random.Random, seed: int) -> tuple[Engine, ManualClock]:
    clock = ManualClock()
    engine = Engine(clock, rng_seed=seed)
    for config in queue_configs():
        engine.add_queue(config)
    for profile in agent_profiles(agent_count, skills_per_agent, rng):
        engine.add_agent(profile)
        engine.agent_login(profile.agent_id)
    return engine, clock


def settle_memory() -> None:
    """Collect, then freeze what the set-up built (``gc.freeze``), before timing.

    Python's cyclic garbage collector otherwise re-walks every object of the engine's
    state (~10,000 waiting contacts, 1,000 agents × their memberships) on each full
    collection: 50-100 ms pauses, a few a second, that say how big the heap is, not how
    fast routing is. A long-running service does the same after its start-up load (the
    routing service of ``guanxi.contactcenter.services`` freezes the engine it rebuilt
    from the database); objects made while routing are collected as usual.
    """
    gc.collect()
    gc.freeze()


def summary(cpu_seconds: list[float], wall_seconds: list[float]) -> dict:
    """Throughput and latency from per-call CPU time (this thread on its core), with the
    wall-clock latency alongside (it also counts time the OS ran other processes)."""
    return {
        "decisions_per_second": len(cpu_seconds) / sum(cpu_seconds),
        "p50_ms": statistics.median(cpu_seconds) * 1000,
        "p99_ms": percentile(cpu_seconds, 0.99) * 1000,
        "max_ms": max(cpu_seconds) * 1000,
        "wall_decisions_per_second": len(wall_seconds) / sum(wall_seconds),
        "wall_p99_ms": percentile(wall_seconds, 0.99) * 1000,
    }


def run_backlog(agent_count: int, waiting: int, decisions: int, skills_per_agent: int, seed: int) -> dict:
    """SPEC scenario: every agent busy, ``waiting`` contacts in line; an agent finishing
    is the routing decision (which contact next, across its queues)."""
    rng = random.Random(seed)
    engine, clock = build_engine(agent_count, skills_per_agent, rng, seed)
    contact_number = 0
    busy: list[tuple[str, str]] = []  # (agent, item) pairs in progress

    def answer(offers) -> None:
        for offer in offers:
            engine.offer_accepted(offer.offer_id, offer.agent_ids[0])
            busy.append((offer.agent_ids[0], offer.item_id))

    while len(busy) < agent_count and contact_number < agent_count * 20:
        engine.enqueue(new_contact(contact_number, rng))
        contact_number += 1
        answer(engine.take_offers())
    waiting_now = sum(engine.queue_stats(name).waiting for name in engine.queue_names())
    while waiting_now < waiting:
        engine.enqueue(new_contact(contact_number, rng))
        contact_number += 1
        answer(engine.take_offers())
        waiting_now += 1
    engine.take_events()

    cpu_seconds: list[float] = []
    wall_seconds: list[float] = []
    made = 0
    perf_counter, thread_time = time.perf_counter, time.thread_time
    settle_memory()
    started = thread_time()
    for step in range(decisions):
        slot = rng.randrange(len(busy))
        _agent_id, item_id = busy[slot]
        busy[slot] = busy[-1]
        busy.pop()
        wall_before, cpu_before = perf_counter(), thread_time()
        engine.work_completed(item_id)
        offers = engine.take_offers()
        cpu_after, wall_after = thread_time(), perf_counter()
        if offers:
            cpu_seconds.append(cpu_after - cpu_before)
            wall_seconds.append(wall_after - wall_before)
            made += len(offers)
            answer(offers)
        engine.enqueue(new_contact(contact_number, rng))
        contact_number += 1
        offers = engine.take_offers()
        made += len(offers)
        answer(offers)
        clock.advance(STEP_SECONDS)
        if step % 1000 == 0:
            offers = engine.tick()
            made += len(offers)
            answer(offers)
            engine.take_events()
    elapsed = thread_time() - started
    result = summary(cpu_seconds, wall_seconds)
    result.update(
        agents=agent_count,
        waiting_contacts=sum(engine.queue_stats(name).waiting for name in engine.queue_names()),
        cycle_rate=made / elapsed,
    )
    return result


def run_arrivals(agent_count: int, decisions: int, skills_per_agent: int, seed: int) -> dict:
    """Idle agents, no backlog: a contact arriving is the routing decision (which free
    agent, by the queue's strategy)."""
    rng = random.Random(seed)
    engine, clock = build_engine(agent_count, skills_per_agent, rng, seed)
    cpu_seconds: list[float] = []
    wall_seconds: list[float] = []
    perf_counter, thread_time = time.perf_counter, time.thread_time
    settle_memory()
    for number in range(decisions):
        contact = new_contact(number, rng)
        wall_before, cpu_before = perf_counter(), thread_time()
        result = engine.enqueue(contact)
        cpu_after, wall_after = thread_time(), perf_counter()
        engine.take_offers()
        if result.offer is not None:
            cpu_seconds.append(cpu_after - cpu_before)
            wall_seconds.append(wall_after - wall_before)
            engine.offer_accepted(result.offer.offer_id, result.offer.agent_ids[0])
            engine.work_completed(contact.item_id)
        else:
            engine.abandon(contact.item_id)
        clock.advance(STEP_SECONDS)
        if number % 1000 == 0:
            engine.take_events()
    return summary(cpu_seconds, wall_seconds)


class NaiveRouter:
    """The same policy (weight, effective priority, arrival; longest idle) by full scans."""

    def __init__(self, configs: list[QueueConfig], profiles: list[Agent]) -> None:
        self.weight = {config.name: config.weight for config in configs}
        self.aging = {config.name: config.priority_aging_per_second for config in configs}
        self.skills = {profile.agent_id: set(profile.skills) for profile in profiles}
        self.idle_since = {profile.agent_id: -math.inf for profile in profiles}
        self.busy_with: dict[str, str | None] = {profile.agent_id: None for profile in profiles}
        self.waiting: list[tuple[str, str, int, float, int]] = []  # item, queue, priority, arrived, sequence
        self.sequence = 0

    def arrive(self, item: WorkItem, now: float) -> str | None:
        best_agent, best_idle = None, math.inf
        for agent_id, skills in self.skills.items():
            if self.busy_with[agent_id] is None and item.queue in skills and self.idle_since[agent_id] < best_idle:
                best_agent, best_idle = agent_id, self.idle_since[agent_id]
        self.sequence += 1
        if best_agent is None:
            self.waiting.append((item.item_id, item.queue, item.priority, now, self.sequence))
            return None
        self.busy_with[best_agent] = item.item_id
        return best_agent

    def complete(self, agent_id: str, now: float) -> str | None:
        self.busy_with[agent_id] = None
        self.idle_since[agent_id] = now
        skills = self.skills[agent_id]
        best_index, best_rank = -1, None
        for index, (_item, queue, priority, arrived, sequence) in enumerate(self.waiting):
            if queue in skills:
                rank = (self.weight[queue], priority + self.aging[queue] * (now - arrived), -sequence)
                if best_rank is None or rank > best_rank:
                    best_index, best_rank = index, rank
        if best_index < 0:
            return None
        item_id = self.waiting.pop(best_index)[0]
        self.busy_with[agent_id] = item_id
        return item_id


def run_baseline(agent_count: int, waiting: int, decisions: int, skills_per_agent: int, seed: int) -> dict:
    rng = random.Random(seed)
    profiles = agent_profiles(agent_count, skills_per_agent, rng)
    router = NaiveRouter(queue_configs(), profiles)
    now = 0.0
    contact_number = 0
    busy: list[str] = []
    while len(busy) < agent_count and contact_number < agent_count * 20:
        agent_id = router.arrive(new_contact(contact_number, rng), now)
        contact_number += 1
        if agent_id is not None:
            busy.append(agent_id)
    while len(router.waiting) < waiting:
        router.arrive(new_contact(contact_number, rng), now)
        contact_number += 1
    latencies = []
    made = 0
    started = time.thread_time()
    for _step in range(decisions):
        slot = rng.randrange(len(busy))
        agent_id = busy[slot]
        before = time.thread_time()
        item_id = router.complete(agent_id, now)
        latencies.append(time.thread_time() - before)
        if item_id is None:
            busy[slot] = busy[-1]
            busy.pop()
        else:
            made += 1
        before = time.thread_time()
        taken_by = router.arrive(new_contact(contact_number, rng), now)
        contact_number += 1
        if taken_by is not None:
            latencies.append(time.thread_time() - before)
            made += 1
            busy.append(taken_by)
        now += STEP_SECONDS
    elapsed = time.thread_time() - started
    return {
        "decisions_per_second": made / elapsed,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="waiting contacts (default 10,000)")
    parser.add_argument("--agents", type=int, default=1_000, help="agents in the headline run (default 1,000)")
    parser.add_argument("--large-agents", type=int, default=10_000,
                        help="agents in the second run (default 10,000; 0 skips it)")
    parser.add_argument("--skills-per-agent", type=int, default=8, help="skills each agent holds, of 50")
    parser.add_argument("--decisions", type=int, default=200_000, help="decisions to time per run")
    parser.add_argument("--baseline-decisions", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)

    def report(label: str, figures: dict) -> None:
        extra = f"; whole loop {figures['cycle_rate']:,.0f}/s" if "cycle_rate" in figures else ""
        print(f"{label:<40} {figures['decisions_per_second']:>8,.0f} decisions/s  p50 {figures['p50_ms']:.3f} ms  "
              f"p99 {figures['p99_ms']:.3f} ms  max {figures['max_ms']:.1f} ms  "
              f"(wall clock: {figures['wall_decisions_per_second']:,.0f}/s, p99 {figures['wall_p99_ms']:.3f} ms"
              f"{extra})")

    headline = run_backlog(arguments.agents, arguments.size, arguments.decisions, arguments.skills_per_agent,
                           arguments.seed)
    report(f"{arguments.agents} agents, {headline['waiting_contacts']} waiting", headline)
    arrivals = run_arrivals(arguments.agents, arguments.decisions // 2, arguments.skills_per_agent, arguments.seed)
    report(f"{arguments.agents} agents, arrivals to idle agents", arrivals)
    large = None
    if arguments.large_agents:
        large = run_backlog(arguments.large_agents, arguments.size, arguments.decisions, arguments.skills_per_agent,
                            arguments.seed)
        report(f"{arguments.large_agents} agents, {large['waiting_contacts']} waiting", large)
    baseline = run_baseline(arguments.agents, arguments.size, arguments.baseline_decisions,
                            arguments.skills_per_agent, arguments.seed)
    print(f"{'naive scan router, ' + str(arguments.agents) + ' agents':<40} "
          f"{baseline['decisions_per_second']:>9,.0f} decisions/s  p99 {baseline['p99_ms']:.3f} ms")
    result = {
        "benchmark": "acd_throughput",
        "value": round(headline["decisions_per_second"]),
        "unit": "decisions/s",
        "target": 50_000,
        "p99_ms": round(headline["p99_ms"], 4),
        "p99_target_ms": 1.0,
        "timing": "per-call thread CPU time",
        "wall_clock_value": round(headline["wall_decisions_per_second"]),
        "wall_clock_p99_ms": round(headline["wall_p99_ms"], 4),
        "whole_loop_decisions_per_second": round(headline["cycle_rate"]),
        "arrival_decisions_per_second": round(arrivals["decisions_per_second"]),
        "arrival_p99_ms": round(arrivals["p99_ms"], 4),
        "agents": arguments.agents,
        "skills": SKILL_COUNT,
        "baseline": "naive router scanning every agent / waiting contact per decision",
        "baseline_value": round(baseline["decisions_per_second"]),
        "ratio": round(headline["decisions_per_second"] / baseline["decisions_per_second"], 1),
        "size": arguments.size,
    }
    if large is not None:
        result["large_agents"] = arguments.large_agents
        result["large_value"] = round(large["decisions_per_second"])
        result["large_p99_ms"] = round(large["p99_ms"], 4)
        result["large_whole_loop_decisions_per_second"] = round(large["cycle_rate"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
