"""Wrap-up, overflow, max wait, join/leave when empty, auto-pause, callbacks, position and
estimated wait, service level counters and the refusal of out-of-order events."""

from __future__ import annotations

import pytest

from guanxi.contactcenter.acd import (
    Agent, AgentState, DuplicateEntry, InvalidTransition, Media, MemberCondition, Membership, UnknownItem, UnknownOffer,
    UnknownQueue,
)
from guanxi.contactcenter.tests.conftest import Scenario

# --------------------------------------------------------------------------- wrap-up


def test_after_completing_an_item_the_agent_wraps_up_before_the_next_offer():
    scenario = Scenario()
    scenario.queue(wrapup_time=30)
    scenario.agents("ana")
    scenario.handle("c1")
    scenario.call("c2")
    scenario.clock.advance(100)
    scenario.engine.work_completed("c1")
    assert scenario.engine.agent_status("ana").state is AgentState.WRAP_UP
    assert scenario.engine.agent_status("ana").wrap_up_until == 130.0
    assert scenario.engine.next_timer_at() == 130.0  # a scheduler sleeps until then
    assert scenario.offers() == []
    assert scenario.advance(29.5) == []
    offers = scenario.advance(0.5)
    assert [(offer.item_id, offer.offered_at) for offer in offers] == [("c2", 130.0)]


def test_an_agent_may_end_wrap_up_early():
    scenario = Scenario()
    scenario.queue(wrapup_time=120)
    scenario.agents("ana")
    scenario.handle("c1", seconds=60)
    scenario.call("c2")
    scenario.clock.advance(5)
    scenario.engine.wrap_up_finished("ana")
    assert [offer.item_id for offer in scenario.offers()] == ["c2"]
    with pytest.raises(InvalidTransition):
        scenario.engine.wrap_up_finished("ana")


# --------------------------------------------------------------------------- overflow


def overflow_scenario(**front_settings) -> Scenario:
    scenario = Scenario()
    scenario.queue("second-line")
    scenario.queue("front", overflow_after=60, overflow_queue="second-line", **front_settings)
    scenario.agents("backup", skills={"second-line": 5})
    return scenario


def test_an_item_overflows_to_the_other_queue_after_the_configured_wait():
    scenario = overflow_scenario()
    scenario.call("c1", "front")
    assert scenario.advance(59) == []
    offers = scenario.advance(1)
    assert [(offer.item_id, offer.queue, offer.agent_ids, offer.waited) for offer in offers] == [
        ("c1", "second-line", ("backup",), 60.0)
    ]
    assert "overflowed" in scenario.event_kinds("c1")
    assert scenario.engine.queue_stats("front").overflowed_out == 1
    assert scenario.engine.queue_stats("second-line").overflowed_in == 1


def test_an_item_ringing_at_overflow_time_overflows_only_if_the_agent_does_not_answer():
    scenario = overflow_scenario(ring_timeout=30)
    scenario.agents("ana", skills={"front": 5})
    scenario.handle("busy", "front")
    scenario.call("c1", "front")
    scenario.clock.advance(50)
    scenario.engine.work_completed("busy")  # ana starts ringing at 50 s
    assert [offer.item_id for offer in scenario.offers()] == ["c1"]
    assert scenario.advance(15) == []  # 65 s: past the overflow time, still ringing ana
    offers = scenario.advance(15)  # 80 s: ana missed it, so it overflows
    assert [(offer.queue, offer.agent_ids) for offer in offers] == [("second-line", ("backup",))]


def test_a_later_item_reusing_an_id_keeps_its_own_overflow_time():
    scenario = overflow_scenario()
    # given: c1 waits 10 s and hangs up; a new call arrives as c1 at 20 s
    scenario.call("c1", "front")
    scenario.clock.advance(10)
    scenario.engine.abandon("c1")
    scenario.clock.advance(10)
    scenario.call("c1", "front")
    # when: the first c1's overflow time passes, then the second's
    assert scenario.advance(40) == []  # 60 s: the old timer lapses
    assert scenario.engine.position("c1") == 1
    offers = scenario.advance(20)  # 80 s: 60 s after the second c1 arrived
    # then: only the second c1 overflows, with its own wait
    assert [(offer.item_id, offer.queue, offer.waited) for offer in offers] == [("c1", "second-line", 60.0)]
    assert scenario.engine.queue_stats("front").overflowed_out == 1


def test_overflow_needs_a_known_destination_queue():
    scenario = Scenario()
    with pytest.raises(UnknownQueue, match="must be added first"):
        scenario.queue("front", overflow_after=60, overflow_queue="nowhere")


# --------------------------------------------------------------------------- max wait


def test_an_item_times_out_after_max_wait_and_a_ringing_offer_is_withdrawn():
    scenario = Scenario()
    scenario.queue(max_wait=90, ring_timeout=60)
    scenario.agents("ana")
    scenario.handle("busy")
    scenario.call("c1")
    scenario.clock.advance(80)
    scenario.engine.work_completed("busy")
    offer = scenario.offers()[0]
    scenario.advance(10)
    kinds = scenario.event_kinds("c1")
    assert kinds[-2:] == ["offer_withdrawn", "timed_out"]
    assert scenario.engine.queue_stats("support").timed_out == 1
    assert scenario.engine.agent_status("ana").state is AgentState.AVAILABLE
    with pytest.raises(UnknownOffer):
        scenario.engine.offer_accepted(offer.offer_id, "ana")


# --------------------------------------------------------------------------- join / leave when empty


def test_join_empty_refuses_items_when_every_member_is_paused_or_logged_out():
    scenario = Scenario()
    scenario.queue(join_empty={MemberCondition.PAUSED, MemberCondition.UNAVAILABLE})
    scenario.agents("ana")
    scenario.agents("bo", login=False)
    scenario.engine.agent_pause("ana", "lunch")
    refused = scenario.call("c1")
    assert (refused.accepted, refused.refused_reason) == (False, "empty")
    assert scenario.event_kinds("c1") == ["join_refused"]
    scenario.engine.agent_unpause("ana")
    scenario.handle("c2")  # ana is busy now: that does not make the queue empty
    assert scenario.call("c3").accepted
    assert scenario.engine.queue_stats("support").join_refused == 1


def test_join_empty_with_inuse_treats_busy_members_as_absent():
    scenario = Scenario()
    scenario.queue(join_empty={"inuse", "unavailable"})
    scenario.agents("ana")
    scenario.handle("c1")
    assert scenario.call("c2").refused_reason == "empty"


def test_join_empty_with_penalty_ignores_members_the_item_cannot_reach():
    scenario = Scenario()
    scenario.queue(required_skills={}, initial_max_penalty=0, join_empty={"penalty"})
    scenario.agent(Agent("backup", memberships={"support": Membership(penalty=3)}))
    assert scenario.call("c1").refused_reason == "empty"


def test_a_full_queue_refuses_new_items():
    scenario = Scenario()
    scenario.queue(max_waiting=2)
    scenario.call("c1")
    scenario.call("c2")
    assert scenario.call("c3").refused_reason == "full"


def test_leave_when_empty_sends_waiting_items_away_when_the_last_member_logs_out_but_keeps_callbacks():
    scenario = Scenario()
    scenario.queue(leave_when_empty={"unavailable"})
    scenario.agents("ana")
    scenario.handle("busy")
    scenario.call("c1")
    scenario.call("c2")
    scenario.engine.request_callback("c2")
    scenario.engine.agent_logout("ana")
    assert "left_empty" in scenario.event_kinds("c1")
    assert scenario.engine.waiting_item_ids("support") == ["c2"]
    assert scenario.engine.queue_stats("support").left_empty == 1
    with pytest.raises(UnknownItem):
        scenario.engine.position("c1")


def test_an_item_joining_a_queue_that_counts_as_empty_for_leaving_leaves_at_once():
    scenario = Scenario()
    scenario.queue(leave_when_empty={"paused"})
    scenario.agents("ana")
    scenario.engine.agent_pause("ana")
    result = scenario.call("c1")
    assert (result.accepted, result.refused_reason) == (False, "left_empty")


# --------------------------------------------------------------------------- missed offers


def test_an_agent_is_paused_automatically_after_missing_offers_in_a_row():
    scenario = Scenario()
    scenario.queue(ring_timeout=10)
    scenario.agents("ana", max_missed_offers=2)
    scenario.call("c1")
    scenario.advance(10)  # missed once, offered again at once
    assert scenario.engine.agent_status("ana").missed_offers_in_a_row == 1
    scenario.advance(10)  # missed twice
    status = scenario.engine.agent_status("ana")
    assert (status.state, status.pause_reason) == (AgentState.PAUSED, "missed offers")
    assert "agent_auto_paused" in scenario.event_kinds()
    assert scenario.engine.position("c1") == 1


def test_answering_resets_the_missed_offer_count():
    scenario = Scenario()
    scenario.queue(ring_timeout=10)
    scenario.agents("ana", max_missed_offers=2)
    scenario.call("c1")
    offer = scenario.advance(10)[-1]  # missed once, offered again
    scenario.engine.offer_accepted(offer.offer_id, "ana")
    assert scenario.engine.agent_status("ana").missed_offers_in_a_row == 0


def test_a_missed_offer_rests_the_agent_and_the_item_goes_to_the_next_agent():
    scenario = Scenario()
    scenario.queue(ring_timeout=15, strategy="linear")
    scenario.agents("ana", "bo", missed_offer_delay=60)
    first = scenario.call("c1").offer
    assert first.agent_ids == ("ana",)
    scenario.offers()
    second = scenario.advance(15)
    assert [offer.agent_ids for offer in second] == [("bo",)]
    assert scenario.engine.agent_status("ana").state is AgentState.NOT_READY
    scenario.engine.offer_rejected(second[0].offer_id, "bo")  # declined; bo has no decline delay
    assert [offer.agent_ids for offer in scenario.offers()] == [("bo",)]
    assert scenario.engine.agent_status("bo").missed_offers_in_a_row == 0


def test_logging_out_while_ringing_returns_the_item_and_logging_out_mid_call_keeps_the_item():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana", "bo")
    scenario.handle("c1")  # ana
    ringing = scenario.call("c2").offer
    assert ringing.agent_ids == ("bo",)
    scenario.engine.agent_logout("bo")
    assert scenario.engine.position("c2") == 1
    scenario.engine.agent_logout("ana")
    assert scenario.engine.agent_status("ana").active_item_ids == ("c1",)
    scenario.engine.work_completed("c1")
    assert scenario.engine.agent_status("ana").state is AgentState.LOGGED_OUT


# --------------------------------------------------------------------------- callbacks


def test_a_callback_is_offered_when_the_estimated_wait_is_long_and_keeps_the_callers_place():
    scenario = Scenario()
    scenario.queue(callback_offer_estimate_over=60, max_wait=300)
    scenario.agents("ana")
    scenario.handle("warm-up-busy")
    # given: two callers waited 100 s and 200 s, so the hold time estimate is
    # (3 * ((3 * 0 + 100) / 4) + 200) / 4 = 68.75 s
    scenario.call("w1")
    scenario.clock.advance(100)
    scenario.engine.work_completed("warm-up-busy")
    scenario.answer_all()
    scenario.call("w2")
    scenario.clock.advance(200)
    scenario.engine.work_completed("w1")
    scenario.answer_all()
    assert scenario.engine.queue_stats("support").holdtime_estimate == pytest.approx(68.75)
    # when: a caller joins behind another
    scenario.call("ahead")
    joined = scenario.call("c1")
    # then: the announcement carries position 2, the estimate, and a callback offer
    assert (joined.position, joined.estimated_wait, joined.callback_offered) == (2, pytest.approx(68.75), True)
    assert "callback_offered" in scenario.event_kinds("c1")
    scenario.engine.request_callback("c1")
    assert scenario.engine.position("c1") == 2
    # a callback request does not time out with the caller's max wait
    scenario.advance(400)
    assert scenario.engine.waiting_item_ids("support") == ["c1"]
    scenario.engine.work_completed("w2")
    callback_offer = scenario.offers()[0]
    assert (callback_offer.item_id, callback_offer.media) == ("c1", Media.CALLBACK)
    scenario.engine.offer_accepted(callback_offer.offer_id, "ana")
    stats = scenario.engine.queue_stats("support")
    assert (stats.callbacks_requested, stats.callbacks_answered, stats.timed_out) == (1, 1, 1)


def test_a_callback_is_offered_after_a_long_wait():
    scenario = Scenario()
    scenario.queue(callback_offer_after=120)
    scenario.call("c1")
    scenario.advance(119)
    assert scenario.event_kinds("c1") == ["entered"]
    scenario.advance(1)
    assert scenario.event_kinds("c1") == ["callback_offered"]


def test_callback_requests_can_be_queued_directly_and_cancelled():
    scenario = Scenario()
    scenario.queue()
    result = scenario.call("web-callback", media="callback")
    assert result.accepted
    scenario.engine.abandon("web-callback")
    stats = scenario.engine.queue_stats("support")
    assert (stats.callbacks_cancelled, stats.abandoned) == (1, 0)


# --------------------------------------------------------------------------- position and estimate


def test_the_estimated_wait_is_the_hold_time_less_the_time_already_waited():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    scenario.handle("busy")
    scenario.call("first")
    scenario.clock.advance(40)
    scenario.engine.work_completed("busy")
    scenario.answer_all()  # first waited 40 s: holdtime (3 * 0 + 40) / 4 = 10
    scenario.call("second")
    scenario.clock.advance(4)
    assert scenario.engine.estimated_wait("second") == pytest.approx(6.0)
    scenario.clock.advance(20)
    assert scenario.engine.estimated_wait("second") == 0.0


def test_positions_follow_priority_then_arrival():
    scenario = Scenario()
    scenario.queue()
    assert scenario.call("a").position == 1
    assert scenario.call("b").position == 2
    assert scenario.call("vip", priority=5).position == 1
    assert [scenario.engine.position(item) for item in ("vip", "a", "b")] == [1, 2, 3]
    scenario.engine.abandon("a")
    assert scenario.engine.position("b") == 2


# --------------------------------------------------------------------------- statistics


def test_service_level_counters_over_answered_and_over_offered_with_short_abandons():
    scenario = Scenario()
    scenario.queue(service_level_seconds=20, short_abandon_seconds=5, max_wait=100)
    scenario.agents("ana")
    scenario.handle("busy")
    for item_id in ("quick", "slow", "short-abandon", "late-abandon", "timeout"):
        scenario.call(item_id)
    scenario.clock.advance(3)
    scenario.engine.abandon("short-abandon")  # 3 s: short, within 20 s
    scenario.clock.advance(7)
    scenario.engine.work_completed("busy")
    scenario.answer_all()  # "quick" answered after 10 s
    scenario.clock.advance(15)
    scenario.engine.abandon("late-abandon")  # 25 s
    scenario.clock.advance(5)
    scenario.engine.work_completed("quick")
    scenario.answer_all()  # "slow" answered after 30 s
    scenario.advance(70)  # "timeout" leaves at 100 s
    stats = scenario.engine.queue_stats("support")
    # answered 3 ("busy" at 0 s, "quick" 10 s, "slow" 30 s); 2 within 20 s
    assert (stats.answered, stats.answered_within_service_level) == (3, 2)
    assert (stats.abandoned, stats.abandoned_within_service_level, stats.short_abandoned) == (2, 1, 1)
    assert stats.service_level == pytest.approx(2 / 3)  # app_queue SL
    assert stats.service_level_2 == pytest.approx((2 + 1) / (3 + 2))  # app_queue SL2
    assert stats.service_level_offered == pytest.approx(2 / (3 + 2 + 1 - 1))
    assert stats.average_speed_of_answer == pytest.approx((0 + 10 + 30) / 3)
    assert stats.abandon_rate == pytest.approx(2 / 5)


def test_live_queue_figures_show_waiting_items_longest_wait_and_agent_states():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana", "bo", "cy")
    scenario.agents("dee", login=False)
    scenario.handle("c1")
    scenario.engine.agent_pause("bo", "training")
    scenario.call("c2")  # rings cy
    scenario.clock.advance(12)
    scenario.call("c3")
    scenario.clock.advance(3)
    stats = scenario.engine.queue_stats("support")
    assert (stats.waiting, stats.longest_wait) == (2, 15.0)
    assert stats.agents["busy"] == 1 and stats.agents["paused"] == 1
    assert stats.agents["ringing"] == 1 and stats.agents["logged_out"] == 1


def test_resetting_statistics_starts_a_new_interval_but_keeps_live_figures():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    scenario.handle("c1", seconds=10)
    scenario.call("c2")
    scenario.engine.reset_stats("support")
    stats = scenario.engine.queue_stats("support")
    assert (stats.answered, stats.completed, stats.waiting) == (0, 0, 1)


# --------------------------------------------------------------------------- refused events


def test_out_of_order_duplicated_and_unknown_events_are_refused_with_a_reason():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    offer = scenario.call("c1").offer
    with pytest.raises(DuplicateEntry, match="already in the contact center"):
        scenario.call("c1")
    with pytest.raises(InvalidTransition, match="was not answered"):
        scenario.engine.work_completed("c1")
    with pytest.raises(InvalidTransition, match="not made to agent"):
        scenario.agents("bo")
        scenario.engine.offer_accepted(offer.offer_id, "bo")
    scenario.engine.offer_accepted(offer.offer_id, "ana")
    with pytest.raises(UnknownOffer, match="not pending"):
        scenario.engine.offer_accepted(offer.offer_id, "ana")
    with pytest.raises(InvalidTransition, match="already answered"):
        scenario.engine.abandon("c1")
    scenario.engine.work_completed("c1")
    with pytest.raises(UnknownItem):
        scenario.engine.work_completed("c1")
    with pytest.raises(InvalidTransition, match="already logged in"):
        scenario.engine.agent_login("ana")
    with pytest.raises(UnknownQueue):
        scenario.call("c9", "nowhere")


def test_updating_an_agents_skills_changes_the_queues_it_serves():
    scenario = Scenario()
    scenario.queue("billing")
    scenario.queue("sales")
    scenario.agents("ana", skills={"billing": 5})
    scenario.call("s1", "sales")
    scenario.engine.update_agent(Agent("ana", skills={"sales": 7}))
    assert scenario.engine.agent_queues("ana") == {"sales": 0}
    assert [offer.item_id for offer in scenario.offers()] == ["s1"]


def test_an_agent_can_be_removed_only_when_logged_out_with_no_work():
    scenario = Scenario()
    scenario.queue()
    scenario.agents("ana")
    scenario.handle("c1")
    with pytest.raises(InvalidTransition, match="logged out with no work"):
        scenario.engine.remove_agent("ana")
    scenario.engine.agent_logout("ana")
    scenario.engine.work_completed("c1")
    scenario.engine.remove_agent("ana")
    assert scenario.engine.agent_ids() == []
    assert scenario.engine.queue_stats("support").agents["logged_out"] == 0
