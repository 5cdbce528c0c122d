"""Penalty / tier escalation as an item waits, and priority aging."""

from __future__ import annotations

from guanxi.contactcenter.acd import Agent, Membership, PenaltyRule, Strategy, tier_rules
from guanxi.contactcenter.tests.conftest import Scenario


def escalating_queue(scenario: Scenario, **settings) -> None:
    scenario.queue(required_skills={}, initial_max_penalty=0,
                   penalty_rules=(PenaltyRule(after_seconds=30, max_penalty=2),), **settings)
    scenario.agent(Agent("primary", memberships={"support": Membership(penalty=0)}))
    scenario.agent(Agent("backup", memberships={"support": Membership(penalty=2)}))


def test_an_item_reaches_higher_penalty_agents_exactly_when_the_rule_starts():
    scenario = Scenario()
    escalating_queue(scenario)
    scenario.handle("busy")  # primary is busy; backup is free but out of reach
    scenario.call("c1")
    assert scenario.advance(29.9) == []
    offers = scenario.advance(0.1)
    assert [(offer.item_id, offer.agent_ids, offer.offered_at) for offer in offers] == [("c1", ("backup",), 30.0)]
    assert "escalated" in scenario.event_kinds("c1")


def test_a_freed_agent_outside_the_items_reach_does_not_take_it_before_escalation():
    scenario = Scenario()
    escalating_queue(scenario)
    scenario.engine.agent_pause("backup")
    scenario.handle("busy")
    scenario.call("c1")
    scenario.clock.advance(10)
    scenario.engine.agent_unpause("backup")
    assert scenario.offers() == []
    assert [offer.agent_ids for offer in scenario.advance(20)] == [("backup",)]


def test_escalation_timing_restarts_in_an_overflow_queue():
    scenario = Scenario()
    scenario.queue("overflow", required_skills={}, initial_max_penalty=0,
                   penalty_rules=(PenaltyRule(after_seconds=30, max_penalty=2),))
    scenario.queue("front", overflow_after=20, overflow_queue="overflow")
    scenario.agent(Agent("backup", memberships={"overflow": Membership(penalty=2)}))
    scenario.call("c1", "front")
    assert scenario.advance(20) == []  # moved to "overflow", whose rules count from now
    assert scenario.advance(29) == []
    assert [offer.agent_ids for offer in scenario.advance(1)] == [("backup",)]


def test_freeswitch_tier_rules_open_each_level_after_level_times_wait_second():
    scenario = Scenario()
    scenario.queue(required_skills={}, strategy=Strategy.TOP_DOWN, initial_max_penalty=0,
                   penalty_rules=tier_rules([1, 2, 3], wait_second=10, multiply_by_level=True))
    scenario.agent(Agent("tier3", memberships={"support": Membership(penalty=3)}))
    scenario.agent(Agent("tier2", memberships={"support": Membership(penalty=2)}))
    scenario.call("c1")
    # level 1 opens at 10 s (nobody there), level 2 at 20 s
    assert scenario.advance(19) == []
    assert [offer.agent_ids for offer in scenario.advance(1)] == [("tier2",)]


def test_freeswitch_tier_rules_without_multiplying_open_every_level_at_once():
    rules = tier_rules([1, 2, 3], wait_second=15, multiply_by_level=False)
    assert rules == (PenaltyRule(after_seconds=15, max_penalty=None),)


def test_experts_first_then_lower_skill_levels_as_the_wait_grows():
    scenario = Scenario()
    # penalty = 10 - level: an expert (level 9) has penalty 1, a novice (level 4) penalty 6
    scenario.queue(penalty_from_skill_level=True, initial_max_penalty=2,
                   penalty_rules=(PenaltyRule(after_seconds=45, max_penalty=6),))
    scenario.agents("expert", skills={"support": 9})
    scenario.agents("novice", skills={"support": 4})
    assert scenario.engine.agent_queues("novice") == {"support": 6}
    assert scenario.handle("c1") == "expert"
    scenario.call("c2")
    assert scenario.advance(44) == []
    assert [offer.agent_ids for offer in scenario.advance(1)] == [("novice",)]


def test_a_minimum_penalty_rule_moves_an_item_away_from_the_first_tier():
    scenario = Scenario()
    scenario.queue(required_skills={}, penalty_rules=(PenaltyRule(after_seconds=60, max_penalty=None, min_penalty=1),))
    scenario.agent(Agent("primary", memberships={"support": Membership(penalty=0)}))
    scenario.handle("busy")
    scenario.call("c1")
    scenario.advance(60)
    scenario.engine.work_completed("busy")
    assert scenario.offers() == []  # primary is below the new minimum
    scenario.agent(Agent("specialist", memberships={"support": Membership(penalty=1)}))
    assert [offer.item_id for offer in scenario.offers()] == ["c1"]


def test_priority_aging_lets_a_long_waiter_overtake_a_later_higher_priority_item():
    def served_first(gap_seconds: float, aging: float) -> str:
        scenario = Scenario()
        scenario.queue(priority_aging_per_second=aging)
        scenario.agents("ana")
        scenario.handle("busy")
        scenario.call("early-regular", priority=0)
        scenario.clock.advance(gap_seconds)
        scenario.call("late-vip", priority=5)
        scenario.clock.advance(100)
        scenario.engine.work_completed("busy")
        return scenario.offers()[0].item_id

    # 0.1 priority per second: a 5-point head start is worth 50 s of waiting
    assert served_first(gap_seconds=55, aging=0.1) == "early-regular"
    assert served_first(gap_seconds=45, aging=0.1) == "late-vip"
    assert served_first(gap_seconds=55, aging=0.0) == "late-vip"


def test_priority_aging_orders_items_across_queues_by_their_effective_priority_now():
    scenario = Scenario()
    scenario.queue("aging", priority_aging_per_second=1.0)
    scenario.queue("static", priority_aging_per_second=0.0)
    scenario.agents("ana", skills={"aging": 5, "static": 5})
    scenario.handle("busy", "static")
    scenario.call("static-high", "static", priority=20)
    scenario.call("aging-low", "aging", priority=0)
    scenario.clock.advance(15)
    scenario.engine.work_completed("busy")
    assert scenario.offers()[0].item_id == "static-high"  # 20 > 0 + 15
    scenario.engine.abandon("static-high")
    assert scenario.engine.position("aging-low") == 0  # ringing ana once static-high left


def test_priority_aging_beats_a_static_priority_once_enough_time_has_passed():
    scenario = Scenario()
    scenario.queue("aging", priority_aging_per_second=1.0)
    scenario.queue("static")
    scenario.agents("ana", skills={"aging": 5, "static": 5})
    scenario.handle("busy", "static")
    scenario.call("aging-low", "aging", priority=0)
    scenario.call("static-high", "static", priority=20)
    scenario.clock.advance(25)
    scenario.engine.work_completed("busy")
    assert scenario.offers()[0].item_id == "aging-low"  # 0 + 25 > 20
