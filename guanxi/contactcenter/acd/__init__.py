"""The ACD routing engine: plain Python, no Django, deterministic, clock injected.

The public API is re-exported here; see ``engine`` for how routing works and
``configuration`` for how the settings map to Asterisk app_queue and FreeSWITCH
mod_callcenter.
"""

from guanxi.contactcenter.acd.configuration import (
    HIGHEST_SKILL_LEVEL, LOWEST_SKILL_LEVEL, Agent, Media, MemberCondition, Membership, PenaltyRule, QueueConfig,
    Strategy, WorkItem, tier_rules,
)
from guanxi.contactcenter.acd.engine import Engine, ManualClock
from guanxi.contactcenter.acd.outcomes import (
    AgentState, AgentStatus, DuplicateEntry, EnqueueResult, Event, EventKind, InvalidTransition, Offer, QueueStats,
    RoutingError, UnknownAgent, UnknownItem, UnknownOffer, UnknownQueue,
)

__all__ = [
    "HIGHEST_SKILL_LEVEL", "LOWEST_SKILL_LEVEL", "Agent", "AgentState", "AgentStatus", "DuplicateEntry",
    "EnqueueResult", "Engine", "Event", "EventKind", "InvalidTransition", "ManualClock", "Media", "MemberCondition",
    "Membership", "Offer", "PenaltyRule", "QueueConfig", "QueueStats", "RoutingError", "Strategy", "UnknownAgent",
    "UnknownItem", "UnknownOffer", "UnknownQueue", "WorkItem", "tier_rules",
]
