"""Indexes over the free members of one queue at one penalty, one kind per strategy.

A pick costs O(log n) or O(1) instead of a scan over every agent: the ordering
strategies keep a heap whose entries go stale when the agent's ``version`` moves on
(stale entries are dropped when they reach the top, or in a periodic compaction);
the position strategies keep a sorted list of member positions; the random ones keep
an array with O(1) removal.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING

from guanxi.contactcenter.acd.configuration import Strategy

if TYPE_CHECKING:
    from collections.abc import Callable

    from guanxi.contactcenter.acd.records import MembershipRecord, QueueRecord


class AgentPool:
    """Free members of a queue at one penalty. ``size`` counts them."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0

    def insert(self, membership: MembershipRecord) -> None:
        """The member has become free for this queue."""
        raise NotImplementedError

    def discard(self, membership: MembershipRecord) -> None:
        """The member is no longer free for this queue."""
        raise NotImplementedError

    def refresh(self, membership: MembershipRecord) -> None:
        """The member stays free but its ordering keys or version changed."""

    def pick(self, queue: QueueRecord, rng: random.Random) -> MembershipRecord | None:
        raise NotImplementedError


class _OrderedByKeyPool(AgentPool):
    """A lazy heap of (key, tie-break, member order, version, member)."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        super().__init__()
        self.heap: list[tuple] = []

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        raise NotImplementedError

    def insert(self, membership: MembershipRecord) -> None:
        self.size += 1
        self.refresh(membership)

    def discard(self, membership: MembershipRecord) -> None:
        # The heap entry stays; the version check in ``pick`` skips it.
        self.size -= 1

    def refresh(self, membership: MembershipRecord) -> None:
        heap = self.heap
        first, second = self.sort_keys(membership)
        heappush(heap, (first, second, membership.order, membership.agent.version, membership))
        if len(heap) > 64 + 4 * self.size:
            live = [entry for entry in heap if entry[4].available and entry[3] == entry[4].agent.version]
            heapify(live)
            self.heap = live

    def pick(self, queue: QueueRecord, rng: random.Random) -> MembershipRecord | None:
        heap = self.heap
        while heap:
            entry = heap[0]
            membership = entry[4]
            if entry[3] == membership.agent.version and membership.available:
                return membership
            heappop(heap)
        return None


class LongestIdlePool(_OrderedByKeyPool):
    """app_queue ``leastrecent`` / mod_callcenter ``longest-idle-agent``.

    The member whose last work item ended earliest; members who never finished one
    come first (app_queue's metric 0), then the lower position.
    """

    __slots__ = ()

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        return membership.agent.last_work_end, 0.0


class FewestCallsPool(_OrderedByKeyPool):
    """app_queue ``fewestcalls``: fewest items answered from this queue, then the lower position."""

    __slots__ = ()

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        return membership.calls, 0.0


class LeastTalkTimePool(_OrderedByKeyPool):
    """mod_callcenter ``agent-with-least-talk-time``: least total handling time, then the lower position."""

    __slots__ = ()

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        return membership.agent.talk_time, 0.0


class LeastLoadedPool(_OrderedByKeyPool):
    """Smallest share of capacity in use, then longest idle, then the lower position."""

    __slots__ = ()

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        agent = membership.agent
        return agent.used / agent.capacity, agent.last_work_end


class MostSkilledPool(_OrderedByKeyPool):
    """For priority items: the highest skill score, then longest idle, then the lower position."""

    __slots__ = ()

    def sort_keys(self, membership: MembershipRecord) -> tuple[float, float]:
        return -membership.skill_score, membership.agent.last_work_end


class PositionOrderPool(AgentPool):
    """Free members sorted by position, for ``linear``, ``top-down`` and ``rrmemory``.

    ``linear`` and ``top-down`` take the first position every time. ``rrmemory`` takes
    the first position at or after the queue's round-robin pointer and wraps to the
    start, as app_queue's ``calc_metric`` ranks ``pos < rrpos`` members 1000 behind.
    """

    __slots__ = ("orders", "by_order", "remember_last")

    def __init__(self, remember_last: bool) -> None:
        super().__init__()
        self.orders: list[int] = []
        self.by_order: dict[int, MembershipRecord] = {}
        self.remember_last = remember_last

    def insert(self, membership: MembershipRecord) -> None:
        self.size += 1
        insort(self.orders, membership.order)
        self.by_order[membership.order] = membership

    def discard(self, membership: MembershipRecord) -> None:
        self.size -= 1
        orders = self.orders
        del orders[bisect_left(orders, membership.order)]
        del self.by_order[membership.order]

    def pick(self, queue: QueueRecord, rng: random.Random) -> MembershipRecord | None:
        orders = self.orders
        if not orders:
            return None
        index = 0
        if self.remember_last:
            index = bisect_left(orders, queue.next_round_robin_order)
            if index == len(orders):
                index = 0
        return self.by_order[orders[index]]


class UnorderedPool(AgentPool):
    """Free members in an array with O(1) insert, removal and uniform draw (``random``,
    ``wrandom``, ``ringall``)."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        super().__init__()
        self.members: list[MembershipRecord] = []

    def insert(self, membership: MembershipRecord) -> None:
        membership.pool_slot = len(self.members)
        self.members.append(membership)
        self.size += 1

    def discard(self, membership: MembershipRecord) -> None:
        members = self.members
        slot = membership.pool_slot
        last = members.pop()
        if last is not membership:
            members[slot] = last
            last.pool_slot = slot
        membership.pool_slot = -1
        self.size -= 1

    def pick(self, queue: QueueRecord, rng: random.Random) -> MembershipRecord | None:
        if not self.members:
            return None
        return self.members[rng.randrange(len(self.members))]


def pool_factory_for(strategy: Strategy) -> Callable[[], AgentPool]:
    if strategy is Strategy.LEASTRECENT:
        return LongestIdlePool
    if strategy is Strategy.FEWESTCALLS:
        return FewestCallsPool
    if strategy is Strategy.LEAST_TALK_TIME:
        return LeastTalkTimePool
    if strategy is Strategy.LEAST_LOADED:
        return LeastLoadedPool
    if strategy is Strategy.RRMEMORY:
        return lambda: PositionOrderPool(remember_last=True)
    if strategy in (Strategy.LINEAR, Strategy.TOP_DOWN):
        return lambda: PositionOrderPool(remember_last=False)
    return UnorderedPool
