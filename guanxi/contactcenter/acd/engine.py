"""The routing engine: one set of queues for calls, chats, emails, callbacks and cases.

Usage::

    clock = ManualClock()
    engine = Engine(clock, rng_seed=7)
    engine.add_queue(QueueConfig("billing", strategy=Strategy.LEASTRECENT, required_skills={"billing": 1}))
    engine.add_agent(Agent("ana", skills={"billing": 8}))
    engine.agent_login("ana")
    result = engine.enqueue(WorkItem("call-1", "billing", priority=10))
    for offer in engine.take_offers():      # ring the agents ...
        engine.offer_accepted(offer.offer_id, offer.agent_ids[0])
    engine.work_completed("call-1")         # ... wrap-up starts
    clock.advance(30); engine.tick()        # timers: wrap-up end, escalation, overflow, timeouts

How it decides. The engine keeps one invariant: after every operation no waiting item
could be offered to a free agent. So only two searches are ever needed:

* an item becomes routable (it joins, returns from an unanswered offer, escalates or
  overflows): the queue's strategy picks among the free members at the lowest
  penalty the item may reach (``_route_item``);
* an agent becomes free (logs in, unpauses, finishes wrap-up, completes an item with
  capacity left): the agent takes the best item of the queues it serves — higher
  queue ``weight`` first, then higher effective priority, then the longest waiting
  (``_route_agent``).

Both are index look-ups, never scans over all agents or items: free members sit in
per-(queue, penalty) pools ordered for the strategy (see ``agent_pools``); waiting
items sit in per-(queue, stage) sorted lists whose last entry is the next to serve.
An item's stage is the step of the queue's penalty rules it has reached, so an agent
checks one entry per stage it qualifies for. Priority aging keeps a fixed sort key:
``priority + rate * (now - arrived)`` orders like ``priority - rate * arrived``.

A freed agent is routed before it is filed in the pools, so an agent going straight
from one item to the next never enters and leaves the pools of its queues.

What a decision costs (benchmarks/acd_throughput.py): a freed agent visits its queues
highest weight first and stops at the first weight that has an item; offer expiries,
which almost never fire because the agent answers first, wait in one first-in first-out
line per ring timeout instead of the timer heap; events are recorded as flat fields
and become ``Event`` objects when taken; what waits long is kept out of the garbage
collector's way (see ``_EVENT_WIDTH``).

Time comes only from the injected ``clock``; randomness only from ``rng_seed``.
Every public operation first runs the timers due by the clock's time.

Where it knowingly differs from app_queue:

* ``weight`` orders the items a freed agent takes; app_queue also keeps a shared
  member from ringing for a lower-weight queue while a higher-weight queue has
  callers at all, even callers whose penalty range excludes that member.
* Waits (service level, ASA, hold time estimate) count from the item's first arrival,
  so an overflowed call keeps its whole wait; app_queue counts from joining each queue.
* Agents freed at the same instant are routed in the order their events arrive.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush

from guanxi.contactcenter.acd.agent_pools import MostSkilledPool, pool_factory_for
from guanxi.contactcenter.acd.configuration import (
    HIGHEST_SKILL_LEVEL, Agent, Media, MemberCondition, QueueConfig, Strategy, WorkItem,
)
from guanxi.contactcenter.acd.outcomes import (
    AgentState, AgentStatus, DuplicateEntry, EnqueueResult, Event, EventKind, InvalidTransition, Offer, QueueStats,
    UnknownAgent, UnknownItem, UnknownOffer, UnknownQueue,
)
from guanxi.contactcenter.acd.records import (
    CONDITION_INUSE, CONDITION_PAUSED, CONDITION_PENALTY, CONDITION_RINGING, CONDITION_UNAVAILABLE, CONDITION_WRAPUP,
    CONNECTED, FINISHED, OFFERED, WAITING, AgentRecord, ItemRecord, MembershipRecord, PendingOffer, QueueRecord, Stage,
)

_CONDITION_BITS = {
    MemberCondition.UNAVAILABLE: CONDITION_UNAVAILABLE,
    MemberCondition.PAUSED: CONDITION_PAUSED,
    MemberCondition.INUSE: CONDITION_INUSE,
    MemberCondition.RINGING: CONDITION_RINGING,
    MemberCondition.WRAPUP: CONDITION_WRAPUP,
    MemberCondition.PENALTY: CONDITION_PENALTY,
}

# Timer kinds.
_STAGE = 0
_OVERFLOW = 1
_TIMEOUT = 2
_CALLBACK_OFFER = 3
_OFFER_EXPIRY = 4
_WRAP_UP_END = 5
_UNAVAILABLE_END = 6

_WRANDOM_WIDTH = 1000  # app_queue: ast_random() % ((1 + penalty) * 1000)

# What waits in the engine for long (events until ``take_events``, offer expiries for a
# ring timeout, sort entries and timers for an item's wait) is kept out of the garbage
# collector's reach where it can be: every container object that outlives a moment
# counts towards the next collection, and the collections walk whatever is still
# tracked. So events and expiries are flattened into one list / deque each (the tuple
# built for ``extend`` is freed at once), the hot path records event kinds and media as
# plain strings rather than enum members (an object with a ``__dict__``, which would
# keep a tuple tracked), and entries and timers name an item by id, not by its record.
# ``take_events`` turns the kinds back into ``EventKind`` members.
_EVENT_WIDTH = 7  # the fields of ``Event``
_ENTERED = EventKind.ENTERED.value
_OFFERED = EventKind.OFFERED.value
_ANSWERED = EventKind.ANSWERED.value
_COMPLETED = EventKind.COMPLETED.value
_EVENT_KINDS = {kind.value: kind for kind in EventKind}  # a member hashes and compares as its value
_MEDIA_TEXT = {media: media.value for media in Media}


class ManualClock:
    """A clock for tests, simulations and replays: time moves only when told."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.now += seconds
        return self.now


class Engine:
    """Routes work items from queues to agents. See the module docstring for the model."""

    def __init__(self, clock: Callable[[], float], rng_seed: int = 0, *, record_events: bool = True) -> None:
        self._clock = clock
        # A ManualClock is read directly: one attribute load instead of a call per operation.
        self._manual_clock = clock if type(clock) is ManualClock else None
        self._random = random.Random(rng_seed)
        self._now = float(clock())
        self._record_events = record_events
        self._queues: dict[str, QueueRecord] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._items: dict[str, ItemRecord] = {}
        self._offers: dict[int, PendingOffer] = {}
        self._timers: list[tuple] = []
        # Offer expiries, one first-in first-out line per ring timeout (see ``_begin``),
        # flat: expires_at, sequence, offer_id, expires_at, ...
        self._expiry_lines: dict[float, deque] = {}
        self._expiry_line_list: list[deque] = []
        self._timer_sequence = 0
        self._item_sequence = 0
        self._agent_sequence = 0
        self._offer_sequence = 0
        self._new_offers: list[Offer] = []
        self._events: list = []  # Event fields, _EVENT_WIDTH per event, see take_events
        self._queues_to_check_empty: list[QueueRecord] = []

    # ------------------------------------------------------------------ configuration

    def add_queue(self, config: QueueConfig) -> None:
        """Register a queue; agents already known who qualify become members."""
        if config.name in self._queues:
            raise DuplicateEntry(f"queue {config.name!r} already exists")
        if config.overflow_queue is not None and config.overflow_queue not in self._queues:
            raise UnknownQueue(
                f"queue {config.name!r} overflows into {config.overflow_queue!r}, which must be added first"
            )
        stages = [Stage(0, 0.0, _lower_bound(config.initial_min_penalty), _upper_bound(config.initial_max_penalty))]
        for rule in config.penalty_rules:
            stages.append(Stage(len(stages), rule.after_seconds, _lower_bound(rule.min_penalty),
                                _upper_bound(rule.max_penalty)))
        join_mask = _condition_mask(config.join_empty)
        leave_mask = _condition_mask(config.leave_when_empty)
        skill_pool_factory = MostSkilledPool if config.most_skilled_from_priority is not None else None
        queue = QueueRecord(config, stages, pool_factory_for(config.strategy), skill_pool_factory, join_mask,
                            leave_mask)
        if config.ring_timeout is not None:
            if config.ring_timeout not in self._expiry_lines:
                self._expiry_lines[config.ring_timeout] = deque()
                self._expiry_line_list = list(self._expiry_lines.values())
            queue.expiry_line = self._expiry_lines[config.ring_timeout]
        self._queues[config.name] = queue
        for agent in self._agents.values():
            membership = self._membership_for(agent, queue)
            if membership is not None:
                self._attach_membership(membership)
        for agent in list(self._agents.values()):
            if agent.membership_by_queue.get(config.name) is not None:
                self._agent_changed(agent)
        self._finish()

    def add_agent(self, agent: Agent) -> None:
        """Register an agent (logged out); queue memberships follow from skills and ``memberships``."""
        if agent.agent_id in self._agents:
            raise DuplicateEntry(f"agent {agent.agent_id!r} already exists")
        self._agent_sequence += 1
        record = AgentRecord(agent, self._agent_sequence)
        self._agents[agent.agent_id] = record
        self._build_memberships(record)

    def update_agent(self, agent: Agent) -> None:
        """Replace an agent's skills, memberships, capacity or offer rules; state is kept."""
        record = self._agent(agent.agent_id)
        self._begin()
        if record.offer is not None:
            raise InvalidTransition(f"agent {agent.agent_id!r} has an offer ringing; update after it is answered")
        for membership in list(record.memberships):
            self._detach_membership(membership)
        record.profile = agent
        record.capacity = agent.capacity
        self._build_memberships(record)
        self._agent_changed(record)
        self._finish()

    def remove_agent(self, agent_id: str) -> None:
        record = self._agent(agent_id)
        if record.logged_in or record.active or record.offer is not None:
            raise InvalidTransition(f"agent {agent_id!r} must be logged out with no work before removal")
        for membership in list(record.memberships):
            self._detach_membership(membership)
        del self._agents[agent_id]
        self._finish()

    # ------------------------------------------------------------------ agent state

    def agent_login(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        self._begin()
        if agent.logged_in:
            raise InvalidTransition(f"agent {agent_id!r} is already logged in")
        agent.logged_in = True
        agent.missed_in_a_row = 0
        self._event(EventKind.AGENT_LOGGED_IN, agent_id=agent_id)
        self._agent_changed(agent)
        self._finish()

    def agent_logout(self, agent_id: str) -> None:
        """Log out; a ringing offer is withdrawn, items in hand stay with the agent until completed."""
        agent = self._agent(agent_id)
        self._begin()
        if not agent.logged_in:
            raise InvalidTransition(f"agent {agent_id!r} is not logged in")
        agent.logged_in = False
        agent.wrap_up_until = None
        agent.unavailable_until = None
        pending = agent.offer
        if pending is not None:
            self._release_agent_from_offer(pending, agent, EventKind.OFFER_WITHDRAWN, "agent logged out")
        self._event(EventKind.AGENT_LOGGED_OUT, agent_id=agent_id)
        self._agent_changed(agent)
        self._finish()

    def agent_pause(self, agent_id: str, reason: str = "") -> None:
        agent = self._agent(agent_id)
        self._begin()
        if not agent.logged_in:
            raise InvalidTransition(f"agent {agent_id!r} is not logged in")
        if agent.paused:
            raise InvalidTransition(f"agent {agent_id!r} is already paused")
        agent.paused = True
        agent.pause_reason = reason
        self._event(EventKind.AGENT_PAUSED, agent_id=agent_id, detail=reason)
        self._agent_changed(agent)
        self._finish()

    def agent_unpause(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        self._begin()
        if not agent.paused:
            raise InvalidTransition(f"agent {agent_id!r} is not paused")
        agent.paused = False
        agent.pause_reason = ""
        agent.missed_in_a_row = 0
        self._event(EventKind.AGENT_UNPAUSED, agent_id=agent_id)
        self._agent_changed(agent)
        self._finish()

    def wrap_up_finished(self, agent_id: str) -> None:
        """End the agent's wrap-up before its time runs out."""
        agent = self._agent(agent_id)
        self._begin()
        if agent.wrap_up_until is None:
            raise InvalidTransition(f"agent {agent_id!r} is not in wrap-up")
        self._end_wrap_up(agent)
        self._finish()

    # ------------------------------------------------------------------ work items

    def enqueue(self, item: WorkItem) -> EnqueueResult:
        """A work item joins its queue. Returns its position, the estimated wait
        (app_queue's hold time announcement) and whether a callback should be offered."""
        now = self._begin()
        if item.item_id in self._items:
            raise DuplicateEntry(f"work item {item.item_id!r} is already in the contact center")
        queue = self._queue(item.queue)
        refusal = self._join_refusal(queue)
        if refusal is not None:
            queue.join_refused += 1
            self._event(EventKind.JOIN_REFUSED, queue=queue.name, item_id=item.item_id, detail=refusal)
            self._finish()
            return EnqueueResult(accepted=False, refused_reason=refusal)
        self._item_sequence += 1
        record = ItemRecord(item, self._item_sequence, now)
        self._items[item.item_id] = record
        queue.entered += 1
        if self._record_events:
            self._events.extend((_ENTERED, now, queue.name, item.item_id, None, None, _MEDIA_TEXT[item.media]))
        self._place(record, queue)
        if queue.leave_mask and queue.leave_present == 0:
            self._queues_to_check_empty.append(queue)
            self._finish()
            if record.state == FINISHED:
                return EnqueueResult(accepted=False, refused_reason="left_empty")
        if record.state == OFFERED:
            result = EnqueueResult(accepted=True, position=0, estimated_wait=0.0, offer=record.offer.offer)
        else:
            estimate = self._estimated_wait(record)
            threshold = queue.config.callback_offer_estimate_over
            offer_callback = threshold is not None and not record.callback and estimate >= threshold
            if offer_callback:
                record.callback_offered = True
                self._event(EventKind.CALLBACK_OFFERED, queue=queue.name, item_id=item.item_id, waited=0.0,
                            detail=f"estimated wait {estimate:.0f} s")
            result = EnqueueResult(accepted=True, position=self._position(record), estimated_wait=estimate,
                                   callback_offered=offer_callback)
        self._finish()
        return result

    def offer_accepted(self, offer_id: int, agent_id: str) -> None:
        """The agent answered: the item is connected and leaves the queue."""
        now = self._begin()
        pending = self._pending_offer(offer_id)
        agent = self._agent(agent_id)
        if agent not in pending.agents:
            raise InvalidTransition(f"offer {offer_id} was not made to agent {agent_id!r}")
        del self._offers[offer_id]
        record = pending.item
        queue = record.queue
        others = [other for other in pending.agents if other is not agent]
        for other in others:
            other.offer = None
            self._event(EventKind.OFFER_WITHDRAWN, queue=queue.name, item_id=record.item_id, agent_id=other.agent_id,
                        detail="answered by another agent")
        agent.offer = None
        record.offer = None
        record.state = CONNECTED
        record.agent = agent
        record.answered_at = now
        record.epoch += 1
        record.entry = None
        del queue.waiting[record.item_id]
        waited = now - record.arrived_at
        if record.callback:
            queue.callbacks_answered += 1
        else:
            queue.answered += 1
            queue.total_wait_answered += waited
            if waited <= queue.config.service_level_seconds:
                queue.answered_within_service_level += 1
            # app_queue recalc_holdtime(): holdtime = (3 * holdtime + sample) / 4
            queue.holdtime = (3.0 * queue.holdtime + waited) / 4.0
        membership = agent.membership_by_queue.get(queue.name)
        if membership is not None:
            membership.calls += 1
        agent.used += queue.item_size
        agent.active[record.item_id] = record
        agent.items_answered += 1
        agent.missed_in_a_row = 0
        if self._record_events:
            self._events.extend((_ANSWERED, now, queue.name, record.item_id, agent_id, waited, ""))
        self._agent_changed(agent)
        for other in others:
            self._agent_changed(other)
        self._finish()

    def offer_rejected(self, offer_id: int, agent_id: str, *, missed: bool = False) -> None:
        """The agent declined (``missed=False``) or did not answer (``missed=True``).

        Missed offers count towards the agent's ``max_missed_offers`` auto-pause. The
        item keeps its place and goes to the next agent.
        """
        self._begin()
        pending = self._pending_offer(offer_id)
        agent = self._agent(agent_id)
        if agent not in pending.agents:
            raise InvalidTransition(f"offer {offer_id} was not made to agent {agent_id!r}")
        kind = EventKind.OFFER_MISSED if missed else EventKind.OFFER_DECLINED
        self._release_agent_from_offer(pending, agent, kind, "")
        self._finish()

    def work_completed(self, item_id: str) -> None:
        """The agent finished the item; the queue's wrap-up time starts."""
        now = self._begin()
        record = self._items.get(item_id)
        if record is None:
            record = self._item(item_id)  # raises with the reason
        if record.state != CONNECTED:
            raise InvalidTransition(f"work item {item_id!r} was not answered, so it cannot be completed")
        agent = record.agent
        queue = record.queue
        del self._items[item_id]
        del agent.active[item_id]
        agent.used -= queue.item_size
        handled = now - record.answered_at
        agent.talk_time += handled
        agent.last_work_end = now
        record.state = FINISHED
        queue.completed += 1
        queue.total_handle_time += handled
        queue.talktime = (3.0 * queue.talktime + handled) / 4.0
        if self._record_events:
            self._events.extend((_COMPLETED, now, queue.name, item_id, agent.agent_id, None, ""))
        wrapup_time = queue.wrapup_time
        if wrapup_time > 0 and agent.logged_in:
            agent.wrap_up_until = now + wrapup_time
            agent.wrap_up_token += 1
            self._schedule(agent.wrap_up_until, _WRAP_UP_END, agent, agent.wrap_up_token)
            self._event(EventKind.WRAP_UP_STARTED, queue=queue.name, agent_id=agent.agent_id)
        # ``_agent_changed`` and ``_finish``, inlined: this is the routing decision's hot path.
        if not (agent.logged_in and not agent.paused and agent.offer is None and agent.wrap_up_until is None
                and agent.unavailable_until is None and agent.used < agent.capacity and self._route_agent(agent)):
            self._refresh_agent(agent)
        if self._queues_to_check_empty:
            self._finish()

    def abandon(self, item_id: str) -> None:
        """The customer left (hung up, closed the chat) or a callback request was cancelled."""
        now = self._begin()
        record = self._item(item_id)
        if record.state == CONNECTED:
            raise InvalidTransition(f"work item {item_id!r} was already answered; report work_completed instead")
        queue = record.queue
        released = self._withdraw_offer(record, "customer left") if record.state == OFFERED else []
        waited = now - record.arrived_at
        self._remove_waiting(record)
        if record.callback:
            queue.callbacks_cancelled += 1
            self._event(EventKind.CALLBACK_CANCELLED, queue=queue.name, item_id=item_id, waited=waited)
        else:
            queue.abandoned += 1
            if waited <= queue.config.service_level_seconds:
                queue.abandoned_within_service_level += 1
            if waited < queue.config.short_abandon_seconds:
                queue.short_abandoned += 1
            self._event(EventKind.ABANDONED, queue=queue.name, item_id=item_id, waited=waited)
        for agent in released:
            self._agent_changed(agent)
        self._finish()

    def request_callback(self, item_id: str) -> None:
        """The waiting customer chose a callback: the item keeps its place, no longer
        times out, and reaches the agent as a ``callback`` to dial."""
        self._begin()
        record = self._item(item_id)
        if record.state not in (WAITING, OFFERED):
            raise InvalidTransition(f"work item {item_id!r} is no longer waiting")
        if record.callback:
            raise InvalidTransition(f"work item {item_id!r} is already a callback request")
        record.callback = True
        record.media = Media.CALLBACK
        record.queue.callbacks_requested += 1
        self._event(EventKind.CALLBACK_REQUESTED, queue=record.queue.name, item_id=item_id,
                    waited=self._now - record.arrived_at)
        self._finish()

    # ------------------------------------------------------------------ outputs

    def tick(self) -> list[Offer]:
        """Run the timers due by now and return the offers decided since the last call."""
        self._begin()
        self._finish()
        return self.take_offers()

    def take_offers(self) -> list[Offer]:
        offers = self._new_offers
        self._new_offers = []
        return offers

    def take_events(self) -> list[Event]:
        """The events since the last call, oldest first.

        Routing appends each event's fields to one flat list (cheaper than an object
        with an ``__init__``, and nothing for the garbage collector, see
        ``_EVENT_WIDTH``); they become ``Event`` objects here, when someone reads them.
        """
        fields = iter(self._events)
        self._events = []
        kinds = _EVENT_KINDS
        return [Event(kinds[kind], at, queue, item_id, agent_id, waited, detail)
                for kind, at, queue, item_id, agent_id, waited, detail in zip(*[fields] * _EVENT_WIDTH)]

    def next_timer_at(self) -> float | None:
        """When ``tick`` next has something to do (for a scheduler's sleep)."""
        heads = [line[0] for line in self._expiry_lines.values() if line]
        if self._timers:
            heads.append(self._timers[0][0])
        return min(heads, default=None)

    def position(self, item_id: str) -> int | None:
        """1 = next in line, 0 = ringing an agent, None = not waiting."""
        self._begin()
        return self._position(self._item(item_id))

    def estimated_wait(self, item_id: str) -> float | None:
        self._begin()
        record = self._item(item_id)
        if record.state not in (WAITING, OFFERED):
            return None
        return self._estimated_wait(record)

    def queue_names(self) -> list[str]:
        return list(self._queues)

    def agent_ids(self) -> list[str]:
        return list(self._agents)

    def waiting_item_ids(self, queue_name: str) -> list[str]:
        """Waiting items in the order they will be served (ringing ones first)."""
        queue = self._queue(queue_name)
        offered = [record.item_id for record in queue.waiting.values() if record.state == OFFERED]
        listed = [entry for stage in queue.stages for entry in stage.entries]
        listed.sort(reverse=True)
        return offered + [entry[2] for entry in listed]

    def queue_stats(self, queue_name: str) -> QueueStats:
        now = self._begin()
        queue = self._queue(queue_name)
        longest = max((now - record.arrived_at for record in queue.waiting.values()), default=0.0)
        agents = {state.value: 0 for state in AgentState}
        for membership in queue.members.values():
            agents[self._agent_state(membership.agent).value] += 1
        answered, abandoned = queue.answered, queue.abandoned
        within = queue.answered_within_service_level
        offered_for_service_level = answered + abandoned + queue.timed_out - queue.short_abandoned
        return QueueStats(
            queue=queue.name,
            waiting=len(queue.waiting),
            longest_wait=longest,
            holdtime_estimate=queue.holdtime,
            talktime_estimate=queue.talktime,
            entered=queue.entered,
            answered=answered,
            answered_within_service_level=within,
            abandoned=abandoned,
            abandoned_within_service_level=queue.abandoned_within_service_level,
            short_abandoned=queue.short_abandoned,
            timed_out=queue.timed_out,
            left_empty=queue.left_empty,
            join_refused=queue.join_refused,
            overflowed_out=queue.overflowed_out,
            overflowed_in=queue.overflowed_in,
            callbacks_requested=queue.callbacks_requested,
            callbacks_answered=queue.callbacks_answered,
            callbacks_cancelled=queue.callbacks_cancelled,
            completed=queue.completed,
            average_speed_of_answer=queue.total_wait_answered / answered if answered else 0.0,
            average_handle_time=queue.total_handle_time / queue.completed if queue.completed else 0.0,
            service_level=within / answered if answered else 0.0,
            service_level_2=(within + queue.abandoned_within_service_level) / (answered + abandoned)
            if answered + abandoned else 0.0,
            service_level_offered=within / offered_for_service_level if offered_for_service_level > 0 else 0.0,
            abandon_rate=abandoned / (answered + abandoned) if answered + abandoned else 0.0,
            agents=agents,
        )

    def reset_stats(self, queue_name: str | None = None) -> None:
        """Start a new reporting interval (live figures such as waiting items are kept)."""
        queues = [self._queue(queue_name)] if queue_name is not None else list(self._queues.values())
        for queue in queues:
            queue.reset_counters()

    def agent_status(self, agent_id: str) -> AgentStatus:
        self._begin()
        agent = self._agent(agent_id)
        return AgentStatus(
            agent_id=agent_id,
            state=self._agent_state(agent),
            pause_reason=agent.pause_reason,
            active_item_ids=tuple(agent.active),
            items_answered=agent.items_answered,
            talk_time=agent.talk_time,
            missed_offers_in_a_row=agent.missed_in_a_row,
            wrap_up_until=agent.wrap_up_until,
            unavailable_until=agent.unavailable_until,
        )

    def agent_queues(self, agent_id: str) -> dict[str, int]:
        """The queues the agent serves, with the agent's penalty in each."""
        return {membership.queue.name: membership.penalty for membership in self._agent(agent_id).memberships}

    # ------------------------------------------------------------------ routing

    def _route_item(self, record: ItemRecord) -> bool:
        """Offer a routable item to the agent(s) its queue's strategy picks, if any is free."""
        queue = record.queue
        if not queue.available_count:
            return False
        stage = queue.stages[record.stage]
        lowest, highest = stage.min_penalty, stage.max_penalty
        if queue.most_skilled_from is not None and record.priority >= queue.most_skilled_from:
            chosen = self._most_skilled(queue, lowest, highest)
        elif queue.weighted_random:
            chosen = self._weighted_random(queue, lowest, highest)
        else:
            chosen = None
            for group in queue.group_list:
                if group.penalty < lowest or not group.pool.size:
                    continue
                if group.penalty > highest:
                    break
                if queue.rings_all:
                    chosen = list(group.pool.members)
                else:
                    chosen = [group.pool.pick(queue, self._random)]
                break
        if not chosen:
            return False
        self._make_offer(record, chosen)
        return True

    def _most_skilled(self, queue: QueueRecord, lowest: float, highest: float) -> list[MembershipRecord] | None:
        best = None
        best_rank = None
        for group in queue.group_list:
            if group.penalty < lowest or not group.pool.size:
                continue
            if group.penalty > highest:
                break
            candidate = group.skill_pool.pick(queue, self._random)
            if candidate is None:
                continue
            rank = (-candidate.skill_score, candidate.agent.last_work_end, group.penalty, candidate.order)
            if best_rank is None or rank < best_rank:
                best, best_rank = candidate, rank
        return [best] if best is not None else None

    def _weighted_random(self, queue: QueueRecord, lowest: float, highest: float) -> list[MembershipRecord] | None:
        # app_queue draws one number per member and takes the lowest. The lowest of n
        # uniform draws on [0, w) is w * (1 - U ** (1 / n)), so one draw per penalty
        # group gives the same winner distribution without touching every member.
        rng = self._random
        best_group = None
        best_draw = math.inf
        for group in queue.group_list:
            size = group.pool.size
            if group.penalty < lowest or not size:
                continue
            if group.penalty > highest:
                break
            width = (1 + group.penalty) * _WRANDOM_WIDTH
            draw = width * (1.0 - rng.random() ** (1.0 / size))
            if draw < best_draw:
                best_group, best_draw = group, draw
        if best_group is None:
            return None
        members = best_group.pool.members
        return [members[rng.randrange(len(members))]]

    def _route_agent(self, agent: AgentRecord) -> bool:
        """Offer a newly free agent the best item among the queues it serves, if any waits.

        Best = higher queue weight, then higher effective priority, then earlier arrival.
        Memberships are visited highest weight first (``routing_order``), so once an item
        is found the queues of lower weight are not looked at. The best item of a stage
        is the last entry of its sorted list, so taking it is a ``pop`` of that list.
        """
        now = self._now
        free_capacity = agent.capacity - agent.used
        best_entry = None
        best_entries = None
        best_membership = None
        best_weight = 0
        best_priority = 0.0
        for membership in agent.routing_order:
            weight = membership.weight
            if best_entry is not None and weight < best_weight:
                break
            if free_capacity < membership.item_size:
                continue
            top_entries = membership.only_entries
            if top_entries is not None:
                if not top_entries:
                    continue
                top = top_entries[-1]
            else:
                top = None
                for entries in membership.eligible_entry_lists:
                    if entries:
                        candidate = entries[-1]
                        if top is None or candidate > top:
                            top = candidate
                            top_entries = entries
                if top is None:
                    continue
            priority = top[0] + membership.aging * now
            if (best_entry is None or weight > best_weight or priority > best_priority
                    or (priority == best_priority and top[1] > best_entry[1])):
                best_entry, best_entries, best_membership = top, top_entries, membership
                best_weight, best_priority = weight, priority
        if best_entry is None:
            return False
        best_entries.pop()
        record = self._items[best_entry[2]]
        record.listed = False
        record.queue.listed_count -= 1
        self._make_offer(record, [best_membership])
        return True

    def _make_offer(self, record: ItemRecord, memberships: list[MembershipRecord]) -> None:
        queue = record.queue
        now = self._now
        self._offer_sequence += 1
        offer_id = self._offer_sequence
        ring_timeout = queue.ring_timeout
        expires_at = now + ring_timeout if ring_timeout is not None else None
        item = record.item
        waited = now - record.arrived_at
        item_id = record.item_id
        if len(memberships) == 1:
            agents = [memberships[0].agent]
            agent_ids = (agents[0].agent_id,)
        else:
            agents = [membership.agent for membership in memberships]
            agent_ids = tuple(agent.agent_id for agent in agents)
        # Positional arguments: this runs once per routing decision (see ``Offer``'s field order).
        offer = Offer(offer_id, item_id, queue.name, agent_ids, record.media, record.priority, now, expires_at,
                      waited, item.customer_ref, item.attributes)
        pending = PendingOffer(offer, record, agents)
        self._offers[offer_id] = pending
        record.state = OFFERED
        record.offer = pending
        if queue.remembers_last:
            queue.next_round_robin_order = memberships[-1].order + 1
        record_events = self._record_events
        events = self._events
        media = _MEDIA_TEXT[record.media]
        for membership in memberships:
            agent = membership.agent
            agent.offer = pending
            if agent.available_memberships or agent.tracks_presence:
                self._refresh_agent(agent)
            else:
                # A ringing agent is never free, so for an agent outside every pool the
                # refresh reduces to retiring its index entries.
                agent.version += 1
            if record_events:
                events.extend((_OFFERED, now, queue.name, item_id, agent.agent_id, waited, media))
        if expires_at is not None:
            # The timer holds only the id, so an answered offer is freed at once.
            self._timer_sequence += 1
            queue.expiry_line.extend((expires_at, self._timer_sequence, offer_id))
        self._new_offers.append(offer)

    # ------------------------------------------------------------------ agents

    def _refresh_agent(self, agent: AgentRecord) -> bool:
        """Bring the agent's pool entries in line with its state; True if free for any queue."""
        agent.version += 1
        ready = (agent.logged_in and not agent.paused and agent.offer is None and agent.wrap_up_until is None
                 and agent.unavailable_until is None and agent.used < agent.capacity)
        if not ready and not agent.available_memberships and not agent.tracks_presence:
            return False  # the common busy agent: not in any pool before or after
        free_capacity = agent.capacity - agent.used
        bits = agent.condition_bits() if agent.tracks_presence else 0
        any_available = False
        for membership in agent.memberships:
            queue = membership.queue
            available = ready and free_capacity >= queue.item_size
            group = membership.group
            if available:
                any_available = True
                if membership.available:
                    group.pool.refresh(membership)
                    if group.skill_pool is not None:
                        group.skill_pool.refresh(membership)
                else:
                    membership.available = True
                    agent.available_memberships += 1
                    queue.available_count += 1
                    group.pool.insert(membership)
                    if group.skill_pool is not None:
                        group.skill_pool.insert(membership)
            elif membership.available:
                membership.available = False
                agent.available_memberships -= 1
                queue.available_count -= 1
                group.pool.discard(membership)
                if group.skill_pool is not None:
                    group.skill_pool.discard(membership)
            if queue.join_mask or queue.leave_mask:
                self._update_presence(membership, bits | membership.static_condition_bits)
        return any_available

    def _agent_changed(self, agent: AgentRecord) -> None:
        """Route an agent whose state changed, then file it in the pools if it stays free.

        Routing first means an agent going straight from one item to the next never
        enters and leaves the pools of its queues.
        """
        if (agent.logged_in and not agent.paused and agent.offer is None and agent.wrap_up_until is None
                and agent.unavailable_until is None and agent.used < agent.capacity and self._route_agent(agent)):
            return
        self._refresh_agent(agent)

    def _update_presence(self, membership: MembershipRecord, bits: int) -> None:
        queue = membership.queue
        if queue.join_mask:
            present = not (bits & queue.join_mask)
            if present != membership.present_for_join:
                membership.present_for_join = present
                queue.join_present += 1 if present else -1
        if queue.leave_mask:
            present = not (bits & queue.leave_mask)
            if present != membership.present_for_leave:
                membership.present_for_leave = present
                queue.leave_present += 1 if present else -1
                if queue.leave_present == 0:
                    self._queues_to_check_empty.append(queue)

    def _release_agent_from_offer(self, pending: PendingOffer, agent: AgentRecord, kind: EventKind,
                                  detail: str) -> None:
        """One agent stops ringing for an offer; when nobody is left the item goes back in line."""
        now = self._now
        pending.agents.remove(agent)
        agent.offer = None
        record = pending.item
        self._event(kind, queue=record.queue.name, item_id=record.item_id, agent_id=agent.agent_id,
                    waited=now - record.arrived_at, detail=detail)
        profile = agent.profile
        if kind is EventKind.OFFER_MISSED:
            agent.missed_in_a_row += 1
            limit = profile.max_missed_offers
            if limit is not None and agent.missed_in_a_row >= limit and not agent.paused and agent.logged_in:
                agent.paused = True
                agent.pause_reason = "missed offers"
                self._event(EventKind.AGENT_AUTO_PAUSED, agent_id=agent.agent_id,
                            detail=f"{agent.missed_in_a_row} offers missed in a row")
            delay = profile.missed_offer_delay
        elif kind is EventKind.OFFER_DECLINED:
            delay = profile.declined_offer_delay
        else:
            delay = 0.0
        if delay > 0 and agent.logged_in:
            agent.unavailable_until = now + delay
            agent.unavailable_token += 1
            self._schedule(agent.unavailable_until, _UNAVAILABLE_END, agent, agent.unavailable_token)
        if not pending.agents:
            del self._offers[pending.offer.offer_id]
            record.offer = None
            record.state = WAITING
            self._return_to_line(record)
        self._agent_changed(agent)

    def _withdraw_offer(self, record: ItemRecord, detail: str) -> list[AgentRecord]:
        """Stop an item's offer; the released agents are returned for routing once the item is settled."""
        pending = record.offer
        del self._offers[pending.offer.offer_id]
        record.offer = None
        record.state = WAITING
        for agent in pending.agents:
            agent.offer = None
            self._event(EventKind.OFFER_WITHDRAWN, queue=record.queue.name, item_id=record.item_id,
                        agent_id=agent.agent_id, detail=detail)
        return list(pending.agents)

    def _end_wrap_up(self, agent: AgentRecord) -> None:
        agent.wrap_up_until = None
        self._event(EventKind.WRAP_UP_ENDED, agent_id=agent.agent_id)
        self._agent_changed(agent)

    def _agent_state(self, agent: AgentRecord) -> AgentState:
        if not agent.logged_in:
            return AgentState.LOGGED_OUT
        if agent.paused:
            return AgentState.PAUSED
        if agent.offer is not None:
            return AgentState.RINGING
        if agent.wrap_up_until is not None:
            return AgentState.WRAP_UP
        if agent.used:
            return AgentState.BUSY
        if agent.unavailable_until is not None:
            return AgentState.NOT_READY
        return AgentState.AVAILABLE

    # ------------------------------------------------------------------ memberships

    def _build_memberships(self, agent: AgentRecord) -> None:
        for queue in self._queues.values():
            membership = self._membership_for(agent, queue)
            if membership is not None:
                self._attach_membership(membership)

    def _membership_for(self, agent: AgentRecord, queue: QueueRecord) -> MembershipRecord | None:
        profile = agent.profile
        config = queue.config
        explicit = profile.memberships.get(config.name)
        skills = profile.skills
        required = config.required_skills
        qualifies = bool(required) and all(skills.get(skill, 0) >= level for skill, level in required.items())
        if explicit is None and not qualifies:
            return None
        if explicit is not None:
            penalty = explicit.penalty
            position = explicit.position
        else:
            position = None
            if config.penalty_from_skill_level:
                first_skill = next(iter(required))
                penalty = HIGHEST_SKILL_LEVEL - skills[first_skill]
            else:
                penalty = 0
        if position is None:
            position = agent.sequence
        order = (position << 32) | agent.sequence
        skill_score = sum(skills.get(skill, 0) for skill in required)
        return MembershipRecord(agent, queue, penalty, order, skill_score)

    def _attach_membership(self, membership: MembershipRecord) -> None:
        agent = membership.agent
        queue = membership.queue
        agent.memberships.append(membership)
        agent.routing_order = sorted(agent.memberships, key=_highest_weight_first)
        agent.membership_by_queue[queue.name] = membership
        queue.members[agent.agent_id] = membership
        if queue.join_mask or queue.leave_mask:
            agent.tracks_presence = True
        # Presence starts from "absent"; the first refresh counts the member in.
        bits = agent.condition_bits() | membership.static_condition_bits
        self._update_presence(membership, bits)
        self._refresh_agent(agent)

    def _detach_membership(self, membership: MembershipRecord) -> None:
        agent = membership.agent
        queue = membership.queue
        if membership.available:
            membership.available = False
            agent.available_memberships -= 1
            queue.available_count -= 1
            membership.group.pool.discard(membership)
            if membership.group.skill_pool is not None:
                membership.group.skill_pool.discard(membership)
        if membership.present_for_join:
            queue.join_present -= 1
        if membership.present_for_leave:
            queue.leave_present -= 1
            if queue.leave_present == 0:
                self._queues_to_check_empty.append(queue)
        agent.memberships.remove(membership)
        agent.routing_order = sorted(agent.memberships, key=_highest_weight_first)
        del agent.membership_by_queue[queue.name]
        del queue.members[agent.agent_id]
        agent.tracks_presence = any(
            other.queue.join_mask or other.queue.leave_mask for other in agent.memberships
        )
        agent.version += 1

    # ------------------------------------------------------------------ items in line

    def _place(self, record: ItemRecord, queue: QueueRecord) -> None:
        """Put an item into a queue (on arrival or overflow) and try to route it."""
        now = self._now
        record.queue = queue
        record.joined_at = now
        record.epoch += 1
        record.state = WAITING
        # Sort entries and the item's timers name the item by id, not by its record: a
        # tuple of strings and numbers leaves the garbage collector's lists at its first
        # collection, and thousands of them wait at any time (see ``_EVENT_KINDS``).
        item_id = record.item_id
        record.entry = (record.priority - queue.aging * record.arrived_at, -record.sequence, item_id)
        queue.waiting[item_id] = record
        # (sequence, epoch): a timer lapses when the item moves on, or when a later item reuses the id.
        token = (record.sequence, record.epoch)
        stage_index = 0
        for stage in queue.stages:
            if stage.starts_after <= 0:
                stage_index = stage.index
            else:
                self._schedule(now + stage.starts_after, _STAGE, item_id, (*token, stage.index))
        record.stage = stage_index
        config = queue.config
        if config.overflow_after is not None:
            self._schedule(now + config.overflow_after, _OVERFLOW, item_id, token)
        if config.max_wait is not None:
            self._schedule(now + config.max_wait, _TIMEOUT, item_id, token)
        if config.callback_offer_after is not None:
            self._schedule(now + config.callback_offer_after, _CALLBACK_OFFER, item_id, token)
        if not self._route_item(record):
            self._list(record)

    def _return_to_line(self, record: ItemRecord) -> None:
        """An item whose offer went unanswered takes its old place (or overflows if due)."""
        if record.overflow_due:
            self._overflow(record)
        elif not self._route_item(record):
            self._list(record)

    def _list(self, record: ItemRecord) -> None:
        queue = record.queue
        insort(queue.stages[record.stage].entries, record.entry)
        record.listed = True
        queue.listed_count += 1

    def _unlist(self, record: ItemRecord) -> None:
        queue = record.queue
        entries = queue.stages[record.stage].entries
        del entries[bisect_left(entries, record.entry)]
        record.listed = False
        queue.listed_count -= 1

    def _remove_waiting(self, record: ItemRecord) -> None:
        if record.listed:
            self._unlist(record)
        del record.queue.waiting[record.item_id]
        del self._items[record.item_id]
        record.state = FINISHED
        record.epoch += 1
        record.entry = None

    def _overflow(self, record: ItemRecord) -> None:
        source = record.queue
        target = self._queues[source.config.overflow_queue]
        if record.listed:
            self._unlist(record)
        del source.waiting[record.item_id]
        record.overflow_due = False
        source.overflowed_out += 1
        target.overflowed_in += 1
        self._event(EventKind.OVERFLOWED, queue=source.name, item_id=record.item_id,
                    waited=self._now - record.arrived_at, detail=f"to {target.name}")
        self._place(record, target)

    def _position(self, record: ItemRecord) -> int | None:
        if record.state == OFFERED:
            return 0
        if not record.listed:
            return None
        entry = record.entry
        ahead = 0
        for stage in record.queue.stages:
            entries = stage.entries
            ahead += len(entries) - bisect_right(entries, entry)
        return ahead + 1

    def _estimated_wait(self, record: ItemRecord) -> float:
        # app_queue say_position(): the queue's hold time less the time already waited.
        if record.state == OFFERED:
            return 0.0
        return max(0.0, record.queue.holdtime - (self._now - record.arrived_at))

    def _join_refusal(self, queue: QueueRecord) -> str | None:
        max_waiting = queue.config.max_waiting
        if max_waiting is not None and len(queue.waiting) >= max_waiting:
            return "full"
        if queue.join_mask and queue.join_present == 0:
            return "empty"
        return None

    # ------------------------------------------------------------------ timers

    def _schedule(self, when: float, kind: int, target: object, token: object) -> None:
        self._timer_sequence += 1
        heappush(self._timers, (when, self._timer_sequence, kind, target, token))

    def _begin(self) -> float:
        """Run the timers due by the clock's time, in (time, scheduling order), and return that time.

        Offer expiries wait in ``_expiry_lines`` instead of the heap: one line per ring
        timeout, already in time order because the engine's time never goes back. Most
        offers are answered within seconds, so their expiry would be a no-op; an expiry
        that falls due moves into the heap, with its original time and sequence, only if
        its offer is still pending (offer ids are never reused), and then fires exactly
        where the heap alone would have fired it.
        """
        manual_clock = self._manual_clock
        now = manual_clock.now if manual_clock is not None else float(self._clock())
        if now < self._now:
            now = self._now  # a clock stepping back must not reorder what already happened
        timers = self._timers
        offers = self._offers
        while True:
            for line in self._expiry_line_list:
                while line and line[0] <= now:
                    popleft = line.popleft
                    expires_at, sequence, offer_id = popleft(), popleft(), popleft()
                    if offer_id in offers:
                        heappush(timers, (expires_at, sequence, _OFFER_EXPIRY, None, offer_id))
            if not timers or timers[0][0] > now:
                break
            when, _sequence, kind, target, token = heappop(timers)
            if when > self._now:
                self._now = when
            self._fire(kind, target, token)
        self._now = now
        return now

    def _fire(self, kind: int, target, token) -> None:
        if kind == _OFFER_EXPIRY:
            pending = self._offers.get(token)
            if pending is not None:
                for agent in list(pending.agents):
                    if self._offers.get(token) is pending:
                        self._release_agent_from_offer(pending, agent, EventKind.OFFER_MISSED, "ring timeout")
        elif kind == _WRAP_UP_END:
            if target.wrap_up_token == token and target.wrap_up_until is not None:
                self._end_wrap_up(target)
        elif kind == _UNAVAILABLE_END:
            if target.unavailable_token == token and target.unavailable_until is not None:
                target.unavailable_until = None
                self._agent_changed(target)
        elif kind == _STAGE:
            sequence, epoch, stage_index = token
            record = self._items.get(target)
            if record is None or record.sequence != sequence or record.epoch != epoch or stage_index <= record.stage:
                return
            self._event(EventKind.ESCALATED, queue=record.queue.name, item_id=record.item_id,
                        waited=self._now - record.arrived_at, detail=record.queue.stages[stage_index].detail)
            if record.listed:
                self._unlist(record)
                record.stage = stage_index
                if not self._route_item(record):
                    self._list(record)
            else:
                record.stage = stage_index
        elif kind == _OVERFLOW:
            record = self._current_item(target, token)
            if record is None:
                return
            if record.state == OFFERED:
                record.overflow_due = True  # let the ringing agent answer; overflow if nobody does
            else:
                self._overflow(record)
        elif kind == _TIMEOUT:
            record = self._current_item(target, token)
            if record is None or record.callback:
                return
            queue = record.queue
            released = self._withdraw_offer(record, "max wait reached") if record.state == OFFERED else []
            self._remove_waiting(record)
            queue.timed_out += 1
            self._event(EventKind.TIMED_OUT, queue=queue.name, item_id=record.item_id,
                        waited=self._now - record.arrived_at)
            for agent in released:
                self._agent_changed(agent)
        elif kind == _CALLBACK_OFFER:
            record = self._current_item(target, token)
            if record is None or record.callback or record.callback_offered:
                return
            record.callback_offered = True
            self._event(EventKind.CALLBACK_OFFERED, queue=record.queue.name, item_id=record.item_id,
                        waited=self._now - record.arrived_at, detail="waited too long")
        self._finish()

    def _current_item(self, item_id: str, token: tuple[int, int]) -> ItemRecord | None:
        """The item an item timer was set for, if it is still where the timer found it."""
        record = self._items.get(item_id)
        if record is None or (record.sequence, record.epoch) != token:
            return None
        return record

    def _finish(self) -> None:
        """Apply leave-when-empty to queues whose last present member just went away."""
        pending = self._queues_to_check_empty
        if not pending:
            return
        while pending:
            queue = pending.pop()
            if not queue.leave_mask or queue.leave_present:
                continue
            leaving = [record for record in queue.waiting.values() if record.state == WAITING and not record.callback]
            for record in leaving:
                self._remove_waiting(record)
                queue.left_empty += 1
                self._event(EventKind.LEFT_EMPTY, queue=queue.name, item_id=record.item_id,
                            waited=self._now - record.arrived_at)

    # ------------------------------------------------------------------ lookups

    def _event(self, kind: EventKind, *, queue: str | None = None, item_id: str | None = None,
               agent_id: str | None = None, waited: float | None = None, detail: str = "") -> None:
        if self._record_events:
            self._events.extend((kind, self._now, queue, item_id, agent_id, waited, detail))

    def _queue(self, name: str) -> QueueRecord:
        queue = self._queues.get(name)
        if queue is None:
            raise UnknownQueue(f"no queue named {name!r}")
        return queue

    def _agent(self, agent_id: str) -> AgentRecord:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id!r}")
        return agent

    def _item(self, item_id: str) -> ItemRecord:
        record = self._items.get(item_id)
        if record is None:
            raise UnknownItem(f"no work item {item_id!r} in the contact center (finished, left or never entered)")
        return record

    def _pending_offer(self, offer_id: int) -> PendingOffer:
        pending = self._offers.get(offer_id)
        if pending is None:
            raise UnknownOffer(f"offer {offer_id} is not pending (answered, missed, withdrawn or never made)")
        return pending


def _highest_weight_first(membership: MembershipRecord) -> int:
    return -membership.weight


def _lower_bound(value: int | None) -> float:
    return -math.inf if value is None else value


def _upper_bound(value: int | None) -> float:
    return math.inf if value is None else value


def _condition_mask(conditions: frozenset[MemberCondition]) -> int:
    mask = 0
    for condition in conditions:
        mask |= _CONDITION_BITS[condition]
    return mask
