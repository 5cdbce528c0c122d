"""Each routing strategy picks exactly the agent its Asterisk / FreeSWITCH model would."""

from __future__ import annotations

from collections import Counter

import pytest

from guanxi.contactcenter.acd import Agent, Membership, Strategy, WorkItem
from guanxi.contactcenter.tests.conftest import Scenario


def test_leastrecent_offers_the_agent_idle_longest_and_never_worked_agents_first():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.LEASTRECENT)
    scenario.agents("ana", "bo", "cy")
    # given: all three take a call; cy finishes first, then ana, then bo
    for item_id in ("c1", "c2", "c3"):
        scenario.call(item_id)
    scenario.answer_all()
    scenario.clock.advance(10)
    scenario.engine.work_completed("c3")
    scenario.clock.advance(10)
    scenario.engine.work_completed("c1")
    scenario.clock.advance(10)
    scenario.engine.work_completed("c2")
    # when / then: the longest idle goes first, in that order
    assert scenario.offered_agent("c4") == "cy"
    assert scenario.offered_agent("c5") == "ana"
    assert scenario.offered_agent("c6") == "bo"
    # and an agent who never took an item is idle longest of all
    scenario.agents("dee")
    scenario.engine.take_offers()
    for offer_item in ("c4", "c5", "c6"):
        scenario.engine.abandon(offer_item)
    assert scenario.offered_agent("c7") == "dee"


def test_fewestcalls_offers_the_agent_with_fewest_answered_items_in_this_queue():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.FEWESTCALLS)
    scenario.queue("sales", strategy=Strategy.FEWESTCALLS)
    scenario.agents("ana", "bo", "cy", skills={"support": 5, "sales": 5})
    # given: ana answers one support call and stays on it; bo answers one and finishes
    assert scenario.handle("c1") == "ana"
    assert scenario.handle("c2", seconds=5) == "bo"
    # when: another support call arrives, cy (0 calls) beats bo (1 call)
    assert scenario.handle("c3") == "cy"
    scenario.engine.work_completed("c3")
    scenario.engine.work_completed("c1")
    # then: with one call each the first in member order wins the tie
    assert scenario.offered_agent("c4") == "ana"
    scenario.engine.abandon("c4")
    # and calls answered in another queue do not count (app_queue counts per queue member)
    scenario.handle("s1", "sales", seconds=5)  # ana, first in order, answers a sales call
    assert scenario.offered_agent("c5") == "ana"


def test_random_picks_uniformly_among_free_agents_at_the_lowest_penalty_and_repeats_with_the_seed():
    def picks(seed: int) -> list[str]:
        scenario = Scenario(seed=seed)
        scenario.queue(strategy=Strategy.RANDOM, required_skills={})
        for agent_id in ("ana", "bo", "cy"):
            scenario.agent(Agent(agent_id, memberships={"support": Membership(penalty=0)}))
        scenario.agent(Agent("backup", memberships={"support": Membership(penalty=1)}))
        chosen = []
        for number in range(3000):
            chosen.append(scenario.offered_agent(f"c{number}"))
            scenario.engine.abandon(f"c{number}")
        return chosen

    chosen = picks(seed=11)
    counts = Counter(chosen)
    assert "backup" not in counts  # a higher penalty is never used while penalty 0 has a free agent
    for agent_id in ("ana", "bo", "cy"):
        assert abs(counts[agent_id] / 3000 - 1 / 3) < 0.04
    assert picks(seed=11) == chosen
    assert picks(seed=12) != chosen


def test_rrmemory_continues_after_the_agent_offered_last_and_wraps_around():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.RRMEMORY)
    scenario.agents("ana", "bo", "cy", "dee")
    assert scenario.handle("c1", seconds=1) == "ana"
    assert scenario.handle("c2", seconds=1) == "bo"
    # given: cy takes c3 and stays busy
    assert scenario.handle("c3") == "cy"
    # then: dee is next, then the pointer wraps to ana, skipping busy cy afterwards
    assert scenario.handle("c4", seconds=1) == "dee"
    assert scenario.handle("c5", seconds=1) == "ana"
    assert scenario.handle("c6", seconds=1) == "bo"
    assert scenario.handle("c7", seconds=1) == "dee"


def test_linear_always_starts_from_the_first_member_in_order():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.LINEAR, required_skills={})
    # members listed in queues.conf order 3, 1, 2 by explicit position
    scenario.agent(Agent("third", memberships={"support": Membership(position=3)}))
    scenario.agent(Agent("first", memberships={"support": Membership(position=1)}))
    scenario.agent(Agent("second", memberships={"support": Membership(position=2)}))
    assert scenario.handle("c1", seconds=1) == "first"
    assert scenario.handle("c2", seconds=1) == "first"  # no memory: back to the top
    assert scenario.handle("c3") == "first"
    assert scenario.handle("c4") == "second"
    assert scenario.offered_agent("c5") == "third"


def test_top_down_orders_by_tier_level_then_position():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.TOP_DOWN, required_skills={})
    scenario.agent(Agent("tier2-first", memberships={"support": Membership(penalty=2, position=1)}))
    scenario.agent(Agent("tier1-second", memberships={"support": Membership(penalty=1, position=2)}))
    scenario.agent(Agent("tier1-first", memberships={"support": Membership(penalty=1, position=1)}))
    assert scenario.handle("c1", seconds=1) == "tier1-first"
    assert scenario.handle("c2") == "tier1-first"
    assert scenario.handle("c3") == "tier1-second"
    assert scenario.offered_agent("c4") == "tier2-first"


def test_ringall_offers_every_free_agent_at_the_lowest_penalty_and_the_first_answer_wins():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.RINGALL, required_skills={})
    for agent_id in ("ana", "bo"):
        scenario.agent(Agent(agent_id, memberships={"support": Membership(penalty=0)}))
    scenario.agent(Agent("backup", memberships={"support": Membership(penalty=1)}))
    result = scenario.call("c1")
    assert set(result.offer.agent_ids) == {"ana", "bo"}
    scenario.engine.take_events()
    # when bo answers, ana stops ringing and is free for the next call
    scenario.engine.offer_accepted(result.offer.offer_id, "bo")
    events = scenario.engine.take_events()
    assert [(str(event.kind), event.agent_id) for event in events if event.kind == "offer_withdrawn"] == [
        ("offer_withdrawn", "ana")
    ]
    assert scenario.engine.agent_status("ana").state == "available"
    second = scenario.call("c2")
    assert second.offer.agent_ids == ("ana",)


def test_ringall_item_returns_to_line_only_when_every_ringing_agent_declined():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.RINGALL)
    scenario.agents("ana", "bo", declined_offer_delay=60)
    offer = scenario.call("c1").offer
    scenario.engine.offer_rejected(offer.offer_id, "ana")
    assert scenario.engine.position("c1") == 0  # bo is still ringing
    scenario.engine.offer_rejected(offer.offer_id, "bo")
    assert scenario.engine.position("c1") == 1


def test_wrandom_uses_the_penalty_as_a_weight_instead_of_a_tier():
    scenario = Scenario(seed=5)
    scenario.queue(strategy=Strategy.WRANDOM, required_skills={})
    scenario.agent(Agent("expert", memberships={"support": Membership(penalty=0)}))
    scenario.agent(Agent("novice", memberships={"support": Membership(penalty=4)}))
    trials = 6000
    counts = Counter()
    for number in range(trials):
        counts[scenario.offered_agent(f"c{number}")] += 1
        scenario.engine.abandon(f"c{number}")
    # app_queue: expert draws U[0, 1000), novice U[0, 5000); expert wins with
    # probability 1 - P(novice draw < expert draw) = 1 - (1000 / 5000) / 2 = 0.9
    assert abs(counts["expert"] / trials - 0.9) < 0.015
    assert counts["novice"] > 0


def test_least_talk_time_offers_the_agent_with_least_total_handling_time():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.LEAST_TALK_TIME)
    scenario.agents("ana", "bo", "cy")
    assert scenario.handle("c1", seconds=300) == "ana"
    assert scenario.handle("c2", seconds=100) == "bo"
    assert scenario.handle("c3", seconds=200) == "cy"
    assert scenario.handle("c4", seconds=150) == "bo"  # 100 s so far
    assert scenario.offered_agent("c5") == "cy"  # 200 s beats bo's 250 s and ana's 300 s


def test_least_loaded_offers_the_agent_with_the_smallest_share_of_capacity_in_use():
    scenario = Scenario()
    scenario.queue("chat", strategy=Strategy.LEAST_LOADED, item_size=1)
    scenario.agents("ana", "bo", skills={"chat": 5}, capacity=3)
    first = scenario.handle("chat-1", "chat")
    second = scenario.handle("chat-2", "chat")
    assert {first, second} == {"ana", "bo"}  # each takes one before anyone takes a second
    scenario.handle("chat-3", "chat")
    scenario.handle("chat-4", "chat")
    scenario.engine.work_completed("chat-1")  # first agent drops to one chat of three
    assert scenario.offered_agent("chat-5", "chat") == first


def test_lower_penalty_comes_before_a_longer_idle_agent_at_a_higher_penalty():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.LEASTRECENT, required_skills={})
    scenario.agent(Agent("backup", memberships={"support": Membership(penalty=1)}))
    scenario.agent(Agent("primary", memberships={"support": Membership(penalty=0)}))
    scenario.handle("c1", seconds=10)  # primary works, backup has been idle all along
    assert scenario.offered_agent("c2") == "primary"


def test_gold_customers_go_to_the_most_skilled_free_agent_others_follow_the_strategy():
    scenario = Scenario()
    scenario.queue(strategy=Strategy.LINEAR, most_skilled_from_priority=10)
    scenario.agents("junior", skills={"support": 3})
    scenario.agents("senior", skills={"support": 9})
    scenario.agents("middle", skills={"support": 6})
    assert scenario.offered_agent("regular", priority=0) == "junior"  # linear: first in order
    scenario.engine.abandon("regular")
    assert scenario.offered_agent("gold", priority=10) == "senior"


def test_gold_customers_are_served_before_earlier_regular_customers():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    scenario.handle("busy")
    scenario.call("regular-1")
    scenario.call("regular-2")
    gold = scenario.call("gold", priority=10)
    assert gold.position == 1
    assert scenario.engine.waiting_item_ids("support") == ["gold", "regular-1", "regular-2"]
    scenario.engine.work_completed("busy")
    assert [offer.item_id for offer in scenario.offers()] == ["gold"]


def test_an_agent_in_several_queues_serves_the_higher_weight_queue_first():
    scenario = Scenario()
    scenario.queue("vip", weight=10)
    scenario.queue("general", weight=0)
    scenario.agents("ana", skills={"vip": 5, "general": 5})
    scenario.handle("busy", "general")
    scenario.call("general-early", "general")
    scenario.clock.advance(60)
    scenario.call("vip-late", "vip")
    scenario.engine.work_completed("busy")
    assert [offer.item_id for offer in scenario.offers()] == ["vip-late"]


def test_equal_weight_queues_serve_the_highest_priority_then_the_longest_waiting_item():
    scenario = Scenario()
    scenario.queue("email")
    scenario.queue("chat")
    scenario.agents("ana", skills={"email": 5, "chat": 5})
    scenario.handle("busy", "email")
    scenario.call("chat-early", "chat")
    scenario.clock.advance(5)
    scenario.call("email-later", "email")
    scenario.engine.work_completed("busy")
    assert [offer.item_id for offer in scenario.offers()] == ["chat-early"]


def test_calls_chats_emails_and_callbacks_share_one_engine_with_their_media():
    scenario = Scenario()
    scenario.queue("voice")
    scenario.queue("digital", item_size=1)
    scenario.agents("ana", skills={"voice": 5, "digital": 5})
    result = scenario.call("mail-1", "digital", media="email")
    assert result.offer.media == "email"
    assert result.offer.queue == "digital"


@pytest.mark.parametrize(
    ("name", "strategy"),
    [
        ("ring-all", Strategy.RINGALL),
        ("longest-idle-agent", Strategy.LEASTRECENT),
        ("agent-with-fewest-calls", Strategy.FEWESTCALLS),
        ("round-robin", Strategy.RRMEMORY),
        ("sequentially-by-agent-order", Strategy.LINEAR),
        ("top-down", Strategy.TOP_DOWN),
        ("agent-with-least-talk-time", Strategy.LEAST_TALK_TIME),
        ("WRANDOM", Strategy.WRANDOM),
    ],
)
def test_strategy_names_from_freeswitch_and_asterisk_are_understood(name, strategy):
    assert Strategy.parse(name) is strategy


def test_an_unknown_strategy_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown routing strategy 'fastest'.*leastrecent"):
        Strategy.parse("fastest")


def test_offers_carry_the_captured_ivr_data_and_customer():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    result = scenario.engine.enqueue(
        WorkItem("c1", "support", customer_ref="contact-42", attributes={"account": "12345"})
    )
    assert result.offer.customer_ref == "contact-42"
    assert result.offer.attributes == {"account": "12345"}
