"""What the routing engine is told: queues, agents and the work items to route.

The vocabulary follows the two open-source ACDs most operators already know, so a
``queues.conf`` (Asterisk app_queue) or ``callcenter.conf.xml`` (FreeSWITCH
mod_callcenter) translates field by field:

====================================  =====================================  ==========================
Guanxi                                Asterisk app_queue                     FreeSWITCH mod_callcenter
====================================  =====================================  ==========================
``Membership.penalty``                member penalty                         tier level
``Membership.position``               member order in queues.conf            tier position
``QueueConfig.ring_timeout``          ``timeout``                            (agent) ``call-timeout``
``QueueConfig.wrapup_time``           ``wrapuptime``                         (agent) ``wrap-up-time``
``QueueConfig.max_wait``              Queue() timeout argument               ``max-wait-time``
``QueueConfig.max_waiting``           ``maxlen``                             —
``QueueConfig.weight``                ``weight``                             —
``QueueConfig.penalty_rules``         queuerules.conf ``penaltychange``      tier rules (``tier_rules``)
``QueueConfig.join_empty``            ``joinempty``                          —
``QueueConfig.leave_when_empty``      ``leavewhenempty``                     —
``QueueConfig.service_level_seconds`` ``servicelevel``                       —
``Agent.max_missed_offers``           ``autopause``                          (agent) ``max-no-answer``
``Agent.missed_offer_delay``          —                                      (agent) ``no-answer-delay-time``
``Agent.declined_offer_delay``        —                                      (agent) ``reject-delay-time``
``WorkItem.priority``                 ``QUEUE_PRIO``                         —
====================================  =====================================  ==========================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Skill levels run from 1 (novice) to 10 (expert), the scale of most ACD skill matrices.
LOWEST_SKILL_LEVEL = 1
HIGHEST_SKILL_LEVEL = 10


class Strategy(StrEnum):
    """How a queue chooses among the agents free to take a work item.

    Every strategy except ``WRANDOM`` first narrows the choice to the lowest penalty
    (tier level) that has a free agent, exactly as app_queue adds ``penalty * 1000000``
    to every member's metric in ``calc_metric()``; the strategy orders agents inside
    that penalty.
    """

    RINGALL = "ringall"
    """app_queue ``ringall`` / mod_callcenter ``ring-all``: offer to every free agent at
    the lowest penalty at once; the first to accept takes the item."""

    LEASTRECENT = "leastrecent"
    """app_queue ``leastrecent`` (with ``shared_lastcall``) / mod_callcenter
    ``longest-idle-agent``: the agent whose last work item ended longest ago; agents
    who never had one come first (app_queue gives them metric 0)."""

    FEWESTCALLS = "fewestcalls"
    """app_queue ``fewestcalls``: the agent who has answered the fewest items from this
    queue (app_queue counts ``mem->calls`` per queue member)."""

    RANDOM = "random"
    """app_queue / mod_callcenter ``random``: uniformly among free agents at the lowest penalty."""

    RRMEMORY = "rrmemory"
    """app_queue ``rrmemory`` / mod_callcenter ``round-robin``: members in position order,
    starting after the member offered last (``store_next_rr`` keeps ``rrpos``), wrapping
    around."""

    LINEAR = "linear"
    """app_queue ``linear`` / mod_callcenter ``sequentially-by-agent-order``: members in
    position order, always starting from the first."""

    WRANDOM = "wrandom"
    """app_queue ``wrandom``: each free member draws ``random % ((1 + penalty) * 1000)`` and
    the lowest draw wins, so the penalty weights the draw instead of ranking tiers."""

    TOP_DOWN = "top-down"
    """mod_callcenter ``top-down``: by tier level, then tier position, starting from the
    top each time (with ``penalty`` = tier level and ``position`` = tier position)."""

    LEAST_TALK_TIME = "least-talk-time"
    """mod_callcenter ``agent-with-least-talk-time``: the agent with the least total
    handling time so far."""

    LEAST_LOADED = "least-loaded"
    """For multi-item work (chats, emails, service cases): the agent with the smallest
    share of capacity in use, then the longest idle."""

    @classmethod
    def parse(cls, name: str) -> Strategy:
        """Accept Guanxi, app_queue and mod_callcenter spellings of a strategy."""
        normalized = name.strip().lower()
        aliases = {
            "ring-all": cls.RINGALL,
            "longest-idle-agent": cls.LEASTRECENT,
            "longest-idle": cls.LEASTRECENT,
            "agent-with-fewest-calls": cls.FEWESTCALLS,
            "round-robin": cls.RRMEMORY,
            "rrordered": cls.RRMEMORY,
            "sequentially-by-agent-order": cls.LINEAR,
            "agent-with-least-talk-time": cls.LEAST_TALK_TIME,
            "top_down": cls.TOP_DOWN,
            "least_loaded": cls.LEAST_LOADED,
        }
        if normalized in aliases:
            return aliases[normalized]
        try:
            return cls(normalized)
        except ValueError:
            known = ", ".join(sorted({member.value for member in cls} | set(aliases)))
            raise ValueError(f"unknown routing strategy {name!r}; known strategies: {known}") from None


class Media(StrEnum):
    """The kind of work item; every kind is routed by the same engine."""

    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    CALLBACK = "callback"
    CASE = "case"


class MemberCondition(StrEnum):
    """Member states that make a queue count as empty (app_queue ``joinempty`` / ``leavewhenempty``).

    A queue is empty for a rule when none of its members is free of every listed
    condition. With no conditions listed the queue is never empty.
    """

    PAUSED = "paused"
    UNAVAILABLE = "unavailable"  # logged out
    INUSE = "inuse"  # handling at least one work item
    RINGING = "ringing"  # an offer is waiting for the agent's answer
    WRAPUP = "wrapup"
    PENALTY = "penalty"  # member's penalty is outside the range a newly arrived item may use


@dataclass(frozen=True, slots=True)
class PenaltyRule:
    """From ``after_seconds`` of waiting in the queue, the item may go to agents whose
    penalty lies in [``min_penalty``, ``max_penalty``] (``None`` = no bound).

    Mirrors app_queue's queuerules.conf ``penaltychange => after,max,min`` with absolute values.
    """

    after_seconds: float
    max_penalty: int | None
    min_penalty: int | None = None


def tier_rules(levels: Iterable[int], *, wait_second: float, multiply_by_level: bool = True) -> tuple[PenaltyRule, ...]:
    """Penalty rules equivalent to mod_callcenter's tier rules for the given tier levels.

    mod_callcenter lets a caller reach tier level L once it has waited ``L *
    tier-rule-wait-second`` (``tier-rule-wait-multiply-level`` true) or
    ``tier-rule-wait-second`` (false); a level of 0 or below is open at once.
    Use with ``QueueConfig(initial_max_penalty=0, penalty_rules=tier_rules(...))``.
    ``tier-rule-no-agent-no-wait`` is not mirrored.
    """
    distinct_levels = sorted({level for level in levels if level > 0})
    if not distinct_levels:
        return ()
    if not multiply_by_level:
        return (PenaltyRule(after_seconds=wait_second, max_penalty=None),)
    return tuple(PenaltyRule(after_seconds=level * wait_second, max_penalty=level) for level in distinct_levels)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue (a skill group): who may serve it and how its items are routed."""

    name: str
    strategy: Strategy = Strategy.LEASTRECENT
    # Agents holding every listed skill at the listed minimum level are members.
    # Agents can also be made members explicitly with ``Agent.memberships``.
    required_skills: Mapping[str, int] = field(default_factory=dict)
    # When true, a skill-derived member's penalty is ``10 - level`` of the first required
    # skill, so experts are tried first and penalty rules can widen to lower levels.
    penalty_from_skill_level: bool = False
    # Agents serving several queues take the higher-weight queue's items first.
    weight: int = 0
    # Capacity units one item takes from an agent (agents have ``capacity`` units).
    item_size: int = 1
    ring_timeout: float | None = 15.0
    wrapup_time: float = 0.0
    max_wait: float | None = None
    max_waiting: int | None = None
    overflow_after: float | None = None
    overflow_queue: str | None = None
    initial_min_penalty: int | None = None
    initial_max_penalty: int | None = None
    penalty_rules: tuple[PenaltyRule, ...] = ()
    # Effective priority grows by this much per second of waiting, so long waiters
    # eventually overtake newer higher-priority items.
    priority_aging_per_second: float = 0.0
    # Items with at least this priority go to the free agent with the highest skill
    # level (sum over ``required_skills``) instead of the strategy's choice.
    most_skilled_from_priority: int | None = None
    join_empty: frozenset[MemberCondition] = frozenset()
    leave_when_empty: frozenset[MemberCondition] = frozenset()
    service_level_seconds: float = 20.0
    # Abandons quicker than this are not counted against the service level over offered items.
    short_abandon_seconds: float = 5.0
    # Offer a callback when the estimated wait on joining reaches this many seconds ...
    callback_offer_estimate_over: float | None = None
    # ... or once the item has waited this long.
    callback_offer_after: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("a queue needs a name")
        if self.item_size < 1:
            problems.append("item_size must be at least 1")
        if self.weight < 0:
            problems.append("weight must not be negative")
        for label, value in (
            ("ring_timeout", self.ring_timeout),
            ("max_wait", self.max_wait),
            ("overflow_after", self.overflow_after),
            ("callback_offer_estimate_over", self.callback_offer_estimate_over),
            ("callback_offer_after", self.callback_offer_after),
        ):
            if value is not None and not (value >= 0 and math.isfinite(value)):
                problems.append(f"{label} must be a finite number of seconds, not {value!r}")
        if self.wrapup_time < 0 or self.service_level_seconds < 0 or self.short_abandon_seconds < 0:
            problems.append("wrapup_time, service_level_seconds and short_abandon_seconds must not be negative")
        if (self.overflow_after is None) != (self.overflow_queue is None):
            problems.append("overflow_after and overflow_queue go together")
        if self.overflow_queue == self.name:
            problems.append("a queue cannot overflow into itself")
        if self.max_waiting is not None and self.max_waiting < 1:
            problems.append("max_waiting must be at least 1")
        for skill, level in self.required_skills.items():
            if not LOWEST_SKILL_LEVEL <= level <= HIGHEST_SKILL_LEVEL:
                problems.append(f"required level of skill {skill!r} must be within 1..10, not {level}")
        if self.penalty_from_skill_level and not self.required_skills:
            problems.append("penalty_from_skill_level needs required_skills")
        previous_after = 0.0
        for rule in self.penalty_rules:
            if rule.after_seconds < previous_after:
                problems.append("penalty_rules must be ordered by after_seconds")
            previous_after = rule.after_seconds
        if problems:
            raise ValueError(f"queue {self.name!r}: " + "; ".join(problems))
        # Normalise so callers may pass a plain string, set or list.
        object.__setattr__(self, "strategy", Strategy.parse(self.strategy))
        object.__setattr__(self, "join_empty", frozenset(MemberCondition(c) for c in self.join_empty))
        object.__setattr__(self, "leave_when_empty", frozenset(MemberCondition(c) for c in self.leave_when_empty))
        object.__setattr__(self, "penalty_rules", tuple(self.penalty_rules))


@dataclass(frozen=True, slots=True)
class Membership:
    """An explicit queue membership (an app_queue static member or a mod_callcenter tier)."""

    penalty: int = 0
    position: int | None = None  # defaults to the order in which agents were added


@dataclass(frozen=True, slots=True)
class Agent:
    """Someone who takes work items."""

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    memberships: Mapping[str, Membership] = field(default_factory=dict)
    # Capacity units; an item takes its queue's ``item_size``. 1 with size 1 = one at a time.
    capacity: int = 1
    # Pause automatically after this many offers in a row went unanswered (None: never).
    max_missed_offers: int | None = None
    # After missing or declining an offer the agent gets no offers for this many seconds.
    missed_offer_delay: float = 0.0
    declined_offer_delay: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not self.agent_id:
            problems.append("an agent needs an id")
        if self.capacity < 1:
            problems.append("capacity must be at least 1")
        if self.max_missed_offers is not None and self.max_missed_offers < 1:
            problems.append("max_missed_offers must be at least 1")
        if self.missed_offer_delay < 0 or self.declined_offer_delay < 0:
            problems.append("offer delays must not be negative")
        for skill, level in self.skills.items():
            if not LOWEST_SKILL_LEVEL <= level <= HIGHEST_SKILL_LEVEL:
                problems.append(f"level of skill {skill!r} must be within 1..10, not {level}")
        for queue, membership in self.memberships.items():
            if membership.penalty < 0:
                problems.append(f"penalty in queue {queue!r} must not be negative")
        if problems:
            raise ValueError(f"agent {self.agent_id!r}: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A call, chat, email, callback request or service case waiting for an agent."""

    item_id: str
    queue: str
    media: Media = Media.VOICE
    # Higher is served first (app_queue QUEUE_PRIO); e.g. 10 for gold customers.
    priority: int = 0
    customer_ref: str | None = None
    # Data captured before queueing (IVR answers), handed to the agent with the offer.
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.item_id:
            raise ValueError("a work item needs an id")
        if type(self.media) is not Media:
            object.__setattr__(self, "media", Media(self.media))
