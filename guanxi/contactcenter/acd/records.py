"""The engine's working state: one record per agent, membership, queue, stage, item and offer.

These are plain classes with ``__slots__`` because the routing hot path reads and writes
their attributes millions of times; they are internal to the engine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from guanxi.contactcenter.acd.configuration import Agent, Media, QueueConfig, Strategy, WorkItem

if TYPE_CHECKING:
    from guanxi.contactcenter.acd.agent_pools import AgentPool
    from guanxi.contactcenter.acd.outcomes import Offer

NEVER = -math.inf

# Member conditions as bits (see ``MemberCondition``), so a join/leave rule is one AND.
CONDITION_UNAVAILABLE = 1
CONDITION_PAUSED = 2
CONDITION_INUSE = 4
CONDITION_RINGING = 8
CONDITION_WRAPUP = 16
CONDITION_PENALTY = 32

# Item states.
WAITING = 0
OFFERED = 1
CONNECTED = 2
FINISHED = 3


class AgentRecord:
    __slots__ = (
        "agent_id", "profile", "sequence", "capacity", "memberships", "routing_order", "membership_by_queue",
        "logged_in",
        "paused", "pause_reason", "wrap_up_until", "wrap_up_token", "unavailable_until", "unavailable_token",
        "offer", "used", "active", "last_work_end", "talk_time", "items_answered", "missed_in_a_row", "version",
        "available_memberships", "tracks_presence",
    )

    def __init__(self, profile: Agent, sequence: int) -> None:
        self.agent_id = profile.agent_id
        self.profile = profile
        self.sequence = sequence
        self.capacity = profile.capacity
        self.memberships: list[MembershipRecord] = []
        # The same memberships, highest queue weight first (stable), for the agent-driven search.
        self.routing_order: list[MembershipRecord] = []
        self.membership_by_queue: dict[str, MembershipRecord] = {}
        self.logged_in = False
        self.paused = False
        self.pause_reason = ""
        self.wrap_up_until: float | None = None
        self.wrap_up_token = 0
        self.unavailable_until: float | None = None
        self.unavailable_token = 0
        self.offer: PendingOffer | None = None
        self.used = 0
        self.active: dict[str, ItemRecord] = {}
        self.last_work_end = NEVER
        self.talk_time = 0.0
        self.items_answered = 0
        self.missed_in_a_row = 0
        # Bumped on every change; index entries carrying an older version are stale.
        self.version = 0
        # How many memberships sit in their queue's free-agent pool right now.
        self.available_memberships = 0
        # Whether any of the agent's queues has a join/leave-when-empty rule to keep counts for.
        self.tracks_presence = False

    def condition_bits(self) -> int:
        bits = 0
        if not self.logged_in:
            bits |= CONDITION_UNAVAILABLE
        if self.paused:
            bits |= CONDITION_PAUSED
        if self.used:
            bits |= CONDITION_INUSE
        if self.offer is not None:
            bits |= CONDITION_RINGING
        if self.wrap_up_until is not None:
            bits |= CONDITION_WRAPUP
        return bits


class MembershipRecord:
    __slots__ = (
        "agent", "queue", "penalty", "order", "skill_score", "available", "calls", "eligible_stages",
        "eligible_entry_lists", "only_entries", "weight", "aging", "item_size", "static_condition_bits", "present_for_join",
        "present_for_leave", "pool_slot", "group",
    )

    def __init__(self, agent: AgentRecord, queue: QueueRecord, penalty: int, order: int, skill_score: int) -> None:
        self.agent = agent
        self.queue = queue
        self.penalty = penalty
        # Position in the queue's member order (position, then the order agents were added).
        self.order = order
        self.skill_score = skill_score
        self.available = False
        self.calls = 0
        self.eligible_stages = [
            stage for stage in queue.stages if stage.min_penalty <= penalty <= stage.max_penalty
        ]
        # Copies of what the agent-driven search reads for every membership on every
        # decision, one attribute load away instead of two.
        self.eligible_entry_lists = [stage.entries for stage in self.eligible_stages]
        # The one list to look at when the member is eligible for exactly one stage (the usual case).
        self.only_entries = self.eligible_entry_lists[0] if len(self.eligible_entry_lists) == 1 else None
        self.weight = queue.weight
        self.aging = queue.aging
        self.item_size = queue.item_size
        self.static_condition_bits = 0 if queue.stages[0].min_penalty <= penalty <= queue.stages[0].max_penalty \
            else CONDITION_PENALTY
        self.present_for_join = False
        self.present_for_leave = False
        self.pool_slot = -1
        self.group: PenaltyGroup = queue.group_for(penalty)

    def __lt__(self, other: MembershipRecord) -> bool:
        # Index entries are ordered by unique keys before the record; this only keeps
        # ``heapq`` total if two entries ever tie.
        return self.order < other.order


class Stage:
    """The items of a queue that may currently reach agents with penalty in [min, max]."""

    __slots__ = ("index", "starts_after", "min_penalty", "max_penalty", "entries", "detail")

    def __init__(self, index: int, starts_after: float, min_penalty: float, max_penalty: float) -> None:
        self.index = index
        self.starts_after = starts_after
        self.min_penalty = min_penalty
        self.max_penalty = max_penalty
        # Sorted ascending by (ordering key, -sequence); the next item to serve is last.
        self.entries: list[tuple[float, int, ItemRecord]] = []
        # The escalation event's detail, e.g. "penalty any..4".
        self.detail = f"penalty {_bound_text(min_penalty)}..{_bound_text(max_penalty)}"


class PenaltyGroup:
    """The members of one queue sharing one penalty, with the strategy's index over the free ones."""

    __slots__ = ("penalty", "pool", "skill_pool")

    def __init__(self, penalty: int, pool: AgentPool, skill_pool: AgentPool | None) -> None:
        self.penalty = penalty
        self.pool = pool
        self.skill_pool = skill_pool


class QueueRecord:
    __slots__ = (
        "config", "name", "strategy", "weight", "aging", "item_size", "stages", "members", "groups",
        "group_list", "available_count", "waiting", "listed_count", "next_round_robin_order", "holdtime",
        "talktime", "join_mask", "leave_mask", "join_present", "leave_present", "most_skilled_from",
        "pool_factory", "skill_pool_factory", "rings_all", "weighted_random", "remembers_last", "ring_timeout",
        "wrapup_time", "expiry_line",
        # counters
        "entered", "answered", "answered_within_service_level", "abandoned", "abandoned_within_service_level",
        "short_abandoned", "timed_out", "left_empty", "join_refused", "overflowed_out", "overflowed_in",
        "callbacks_requested", "callbacks_answered", "callbacks_cancelled", "completed", "total_wait_answered",
        "total_handle_time",
    )

    def __init__(self, config: QueueConfig, stages: list[Stage], pool_factory, skill_pool_factory,
                 join_mask: int, leave_mask: int) -> None:
        self.config = config
        self.name = config.name
        self.strategy: Strategy = config.strategy
        # Strategy tests as plain booleans: cheaper than enum comparisons on the hot path.
        self.rings_all = config.strategy is Strategy.RINGALL
        self.weighted_random = config.strategy is Strategy.WRANDOM
        self.remembers_last = config.strategy is Strategy.RRMEMORY
        self.weight = config.weight
        self.aging = config.priority_aging_per_second
        self.item_size = config.item_size
        self.ring_timeout = config.ring_timeout
        self.wrapup_time = config.wrapup_time
        # The engine's line of offer expiries for this ring timeout (shared by queues with the same one).
        self.expiry_line = None
        self.stages = stages
        self.members: dict[str, MembershipRecord] = {}
        self.groups: dict[int, PenaltyGroup] = {}
        self.group_list: list[PenaltyGroup] = []
        self.available_count = 0
        # Every item in this queue not yet answered, in the order it joined (offered ones too).
        self.waiting: dict[str, ItemRecord] = {}
        self.listed_count = 0
        self.next_round_robin_order = 0
        self.holdtime = 0.0
        self.talktime = 0.0
        self.join_mask = join_mask
        self.leave_mask = leave_mask
        self.join_present = 0
        self.leave_present = 0
        self.most_skilled_from = config.most_skilled_from_priority
        self.pool_factory = pool_factory
        self.skill_pool_factory = skill_pool_factory
        self.reset_counters()

    def reset_counters(self) -> None:
        self.entered = 0
        self.answered = 0
        self.answered_within_service_level = 0
        self.abandoned = 0
        self.abandoned_within_service_level = 0
        self.short_abandoned = 0
        self.timed_out = 0
        self.left_empty = 0
        self.join_refused = 0
        self.overflowed_out = 0
        self.overflowed_in = 0
        self.callbacks_requested = 0
        self.callbacks_answered = 0
        self.callbacks_cancelled = 0
        self.completed = 0
        self.total_wait_answered = 0.0
        self.total_handle_time = 0.0

    def group_for(self, penalty: int) -> PenaltyGroup:
        group = self.groups.get(penalty)
        if group is None:
            skill_pool = self.skill_pool_factory() if self.skill_pool_factory is not None else None
            group = PenaltyGroup(penalty, self.pool_factory(), skill_pool)
            self.groups[penalty] = group
            self.group_list.append(group)
            self.group_list.sort(key=lambda existing: existing.penalty)
        return group


class ItemRecord:
    __slots__ = (
        "item", "item_id", "queue", "media", "priority", "arrived_at", "joined_at", "sequence", "entry", "stage",
        "listed", "state", "epoch", "offer", "agent", "answered_at", "callback", "callback_offered",
        "overflow_due",
    )

    def __init__(self, item: WorkItem, sequence: int, arrived_at: float) -> None:
        self.item = item
        self.item_id = item.item_id
        self.queue: QueueRecord | None = None
        self.media = item.media
        self.priority = item.priority
        self.arrived_at = arrived_at
        self.joined_at = arrived_at
        self.sequence = sequence
        self.entry: tuple[float, int, str] | None = None  # (sort key, -sequence, item id)
        self.stage = 0
        self.listed = False
        self.state = WAITING
        # Bumped whenever the item changes queue or leaves, so its pending timers lapse.
        self.epoch = 0
        self.offer: PendingOffer | None = None
        self.agent: AgentRecord | None = None
        self.answered_at = 0.0
        self.callback = item.media is Media.CALLBACK
        self.callback_offered = False
        self.overflow_due = False


class PendingOffer:
    __slots__ = ("offer", "item", "agents")

    def __init__(self, offer: Offer, item: ItemRecord, agents: list[AgentRecord]) -> None:
        self.offer = offer
        self.item = item
        # The agents still ringing; the item goes back in line when the last one lets go.
        self.agents = agents


def _bound_text(value: float) -> str:
    return "any" if math.isinf(value) else str(int(value))
