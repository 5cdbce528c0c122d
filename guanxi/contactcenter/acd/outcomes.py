"""What the routing engine hands back: offers, wallboard events, statistics and errors.

``Offer``, ``Event`` and ``EnqueueResult`` are made on the routing hot path, so they are
plain slotted dataclasses (a frozen one costs four times as much to build); treat
them as read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from guanxi.contactcenter.acd.configuration import Media


@dataclass(slots=True)
class Offer:
    """A routing decision: ``item_id`` is offered to ``agent_ids`` (several only for ringall).

    The caller rings the agents and reports back with ``Engine.offer_accepted`` or
    ``Engine.offer_rejected``; an offer not answered by ``expires_at`` counts as missed.
    """

    offer_id: int
    item_id: str
    queue: str
    agent_ids: tuple[str, ...]
    media: Media
    priority: int
    offered_at: float
    expires_at: float | None
    waited: float
    customer_ref: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


class EventKind(StrEnum):
    """Wallboard and queue-log events (names follow app_queue's queue_log where one exists)."""

    ENTERED = "entered"  # ENTERQUEUE
    JOIN_REFUSED = "join_refused"  # JOINEMPTY / FULL
    OFFERED = "offered"  # RING
    ANSWERED = "answered"  # CONNECT
    OFFER_MISSED = "offer_missed"  # RINGNOANSWER
    OFFER_DECLINED = "offer_declined"
    OFFER_WITHDRAWN = "offer_withdrawn"  # another agent answered, or the item left
    COMPLETED = "completed"  # COMPLETEAGENT / COMPLETECALLER
    ABANDONED = "abandoned"  # ABANDON
    TIMED_OUT = "timed_out"  # EXITWITHTIMEOUT
    LEFT_EMPTY = "left_empty"  # EXITEMPTY
    OVERFLOWED = "overflowed"
    ESCALATED = "escalated"  # a penalty rule widened the agents an item may reach
    CALLBACK_OFFERED = "callback_offered"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_CANCELLED = "callback_cancelled"
    AGENT_LOGGED_IN = "agent_logged_in"  # ADDMEMBER
    AGENT_LOGGED_OUT = "agent_logged_out"  # REMOVEMEMBER
    AGENT_PAUSED = "agent_paused"  # PAUSE
    AGENT_UNPAUSED = "agent_unpaused"  # UNPAUSE
    AGENT_AUTO_PAUSED = "agent_auto_paused"
    WRAP_UP_STARTED = "wrap_up_started"
    WRAP_UP_ENDED = "wrap_up_ended"


@dataclass(slots=True)
class Event:
    """Something the wallboard, the queue log or the agent desktop wants to know."""

    kind: EventKind
    at: float
    queue: str | None = None
    item_id: str | None = None
    agent_id: str | None = None
    # Seconds the item had waited since it first entered the contact center.
    waited: float | None = None
    detail: str = ""


class AgentState(StrEnum):
    """One state per agent for the desktop and the wallboard, the most restrictive first."""

    LOGGED_OUT = "logged_out"
    PAUSED = "paused"
    RINGING = "ringing"
    WRAP_UP = "wrap_up"
    BUSY = "busy"  # handling at least one work item
    NOT_READY = "not_ready"  # resting after a missed or declined offer (the agent's offer delay)
    AVAILABLE = "available"


@dataclass(frozen=True, slots=True)
class AgentStatus:
    agent_id: str
    state: AgentState
    pause_reason: str
    active_item_ids: tuple[str, ...]
    items_answered: int
    talk_time: float
    missed_offers_in_a_row: int
    wrap_up_until: float | None
    unavailable_until: float | None


@dataclass(slots=True)
class EnqueueResult:
    """The answer to a work item joining a queue, ready for the announcement."""

    accepted: bool
    # 1 = next in line; 0 = offered to an agent straight away.
    position: int | None = None
    # app_queue's announcement: the queue's hold time estimate less the time already waited.
    estimated_wait: float | None = None
    callback_offered: bool = False
    refused_reason: str | None = None
    offer: Offer | None = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue's live figures and counters since the engine started (or ``reset_stats``).

    ``service_level`` is app_queue's SL: answered within the threshold over answered.
    ``service_level_2`` is app_queue's SL2: answered plus abandoned within the threshold
    over answered plus abandoned. ``service_level_offered`` counts every offered item
    except short abandons: answered within the threshold over answered + abandoned +
    timed out − short abandons.
    """

    queue: str
    waiting: int
    longest_wait: float
    holdtime_estimate: float
    talktime_estimate: float
    entered: int
    answered: int
    answered_within_service_level: int
    abandoned: int
    abandoned_within_service_level: int
    short_abandoned: int
    timed_out: int
    left_empty: int
    join_refused: int
    overflowed_out: int
    overflowed_in: int
    callbacks_requested: int
    callbacks_answered: int
    callbacks_cancelled: int
    completed: int
    average_speed_of_answer: float
    average_handle_time: float
    service_level: float
    service_level_2: float
    service_level_offered: float
    abandon_rate: float
    agents: Mapping[str, int]


class RoutingError(Exception):
    """An operation the engine refused; the message says why, for the log."""


class UnknownQueue(RoutingError, LookupError):
    pass


class UnknownAgent(RoutingError, LookupError):
    pass


class UnknownItem(RoutingError, LookupError):
    pass


class UnknownOffer(RoutingError, LookupError):
    pass


class DuplicateEntry(RoutingError):
    """An id that is already known (a duplicated event)."""


class InvalidTransition(RoutingError):
    """An event that does not fit the current state (out of order or repeated)."""
