"""Case assignment through the contact center's ACD engine (``guanxi.contactcenter.acd``).

One engine routes every work item — calls, chats, emails and service cases — so queues,
skills, round robin and least-loaded mean the same thing everywhere. The engine is an
in-memory state machine; cases live in the database and are assigned from any process.
So each routing pass stands up an engine that mirrors the stored state, asks it, and
hands back its decisions for ``services`` to save:

* the queue, with its strategy, required skills and "experts from priority" threshold;
* every agent who could serve it, logged in when accepting cases, with capacity
  ``max_open_cases`` and their skills and explicit memberships;
* each agent's current load: the cases they already hold, as items taken from a private
  load queue (an engine queue only that agent serves), so least-loaded sees real load;
* the queue's memory: agents are added in the order the strategy continues from — after
  the last agent given a case for round robin, longest since their last case for the
  others — so a fresh engine picks exactly as a long-running one would.

Then the waiting cases are enqueued best first (priority, customer tier, longest waiting);
each one the engine offers to an agent is accepted on that agent's behalf. A case taken
is marked finished a second later and replaced by a load item, so within one pass the
engine also sees who was given a case last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guanxi.contactcenter.acd import (
    HIGHEST_SKILL_LEVEL, LOWEST_SKILL_LEVEL, Agent, Engine, ManualClock, Media, Membership, QueueConfig, Strategy,
    WorkItem,
)
from guanxi.core.models import ValueTier
from guanxi.service.models import PRIORITY_ORDER, QueueStrategy

TIER_BONUS = {ValueTier.PLATINUM: 3, ValueTier.GOLD: 2, ValueTier.SILVER: 1}


@dataclass(frozen=True)
class AgentSnapshot:
    user_id: int
    skills: dict[str, int]
    capacity: int
    accepting: bool
    open_cases: int
    penalty: int | None          # explicit membership of the queue, if any
    last_assigned_at: float      # epoch seconds; 0 when never assigned


@dataclass(frozen=True)
class WaitingCase:
    case_id: int
    priority: str
    customer_tier: str
    queued_at: float             # epoch seconds


@dataclass(frozen=True)
class QueueSnapshot:
    code: str
    strategy: str
    required_skills: dict[str, int]
    experts_from_priority: str
    last_assigned_user_id: int | None


def work_priority(priority: str, customer_tier: str) -> int:
    """The engine's priority of a case: ten per priority step, plus the customer's tier."""
    rank = PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 1
    return rank * 10 + TIER_BONUS.get(customer_tier, 0)


def valid_skills(skills: dict) -> dict[str, int]:
    """Skills the engine accepts (levels 1-10); anything else is left out of routing."""
    return {str(name): int(level) for name, level in (skills or {}).items()
            if isinstance(level, int) and not isinstance(level, bool)
            and LOWEST_SKILL_LEVEL <= level <= HIGHEST_SKILL_LEVEL}


def _agent_order(queue: QueueSnapshot, agents: Sequence[AgentSnapshot]) -> list[AgentSnapshot]:
    by_id = sorted(agents, key=lambda agent: agent.user_id)
    if queue.strategy == QueueStrategy.ROUND_ROBIN:
        last = queue.last_assigned_user_id
        if last is None:
            return by_id
        after = [agent for agent in by_id if agent.user_id > last]
        return after + [agent for agent in by_id if agent.user_id <= last]
    if queue.strategy == QueueStrategy.LINEAR:
        return by_id
    return sorted(agents, key=lambda agent: (agent.last_assigned_at, agent.user_id))


def decide_assignments(queue: QueueSnapshot, agents: Iterable[AgentSnapshot],
                       waiting: Iterable[WaitingCase]) -> list[tuple[int, int]]:
    """(case id, agent user id) for each waiting case the engine places, in order."""
    clock = ManualClock(1.0)
    engine = Engine(clock, rng_seed=0, record_events=False)
    experts_from = (work_priority(queue.experts_from_priority, "") if queue.experts_from_priority else None)
    engine.add_queue(QueueConfig(queue.code, strategy=Strategy.parse(queue.strategy),
                                 required_skills=valid_skills(queue.required_skills), ring_timeout=None,
                                 most_skilled_from_priority=experts_from))
    load_queue = {}
    for agent in _agent_order(queue, list(agents)):
        agent_id = str(agent.user_id)
        load_queue[agent_id] = f"load:{agent_id}"
        engine.add_queue(QueueConfig(load_queue[agent_id], strategy=Strategy.LINEAR, ring_timeout=None))
        memberships = {load_queue[agent_id]: Membership()}
        if agent.penalty is not None:
            memberships[queue.code] = Membership(penalty=agent.penalty)
        engine.add_agent(Agent(agent_id, skills=valid_skills(agent.skills), memberships=memberships,
                               capacity=max(1, agent.capacity)))
        if not agent.accepting:
            continue
        engine.agent_login(agent_id)
        for index in range(min(agent.open_cases, agent.capacity)):
            result = engine.enqueue(WorkItem(f"{load_queue[agent_id]}:{index}", load_queue[agent_id],
                                             media=Media.CASE))
            engine.offer_accepted(result.offer.offer_id, agent_id)

    decisions: list[tuple[int, int]] = []
    ordered = sorted(waiting, key=lambda case: (-work_priority(case.priority, case.customer_tier), case.queued_at,
                                                case.case_id))
    for case in ordered:
        item_id = f"case:{case.case_id}"
        result = engine.enqueue(WorkItem(item_id, queue.code, media=Media.CASE,
                                         priority=work_priority(case.priority, case.customer_tier)))
        if result.offer is None:
            break  # no member is free; every later case would wait as well
        agent_id = result.offer.agent_ids[0]
        engine.offer_accepted(result.offer.offer_id, agent_id)
        decisions.append((case.case_id, int(agent_id)))
        # Keep the load, but let the engine know when this agent was last given a case.
        clock.advance(1.0)
        engine.work_completed(item_id)
        refill = engine.enqueue(WorkItem(f"{item_id}:held", load_queue[agent_id], media=Media.CASE))
        engine.offer_accepted(refill.offer.offer_id, agent_id)
    return decisions
