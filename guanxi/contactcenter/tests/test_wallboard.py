"""Wallboard and historical reports: service level over answered (Asterisk SL) and over
offered, SL2, ASA, abandonment without short abandons, AHT, occupancy, queue lengths,
longest wait and agent states; by interval, queue and agent; live over the socket."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from django.utils import timezone

from guanxi.contactcenter import selectors, services
from guanxi.contactcenter.models import AgentProfile, AgentStateChange, Call, CallEndReason, CallState

pytestmark = pytest.mark.django_db
API = "/api/v1/contact-center"


@pytest.fixture
def morning(center):
    """A morning in the billing queue (target 20 s, short abandons under 5 s), from 09:00."""
    queue = center.queue("billing", service_level_seconds=20, short_abandon_seconds=5)
    ana = center.agent("ana", available=False)
    ben = center.agent("ben", available=False)
    nine = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    if nine > timezone.now():
        nine -= datetime.timedelta(days=1)

    def call(minute: int, wait: float, *, talk: float = 0.0, wrapup: float = 0.0, agent=None,
             end_reason: str = CallEndReason.COMPLETED, state: str = CallState.ENDED):
        queued = nine + datetime.timedelta(minutes=minute)
        answered = queued + datetime.timedelta(seconds=wait) if agent else None
        return Call.objects.create(
            adapter="simulator", external_id=f"m{minute}", queue=queue, agent=agent, state=state,
            end_reason=end_reason if state == CallState.ENDED else "", arrived_at=queued, queued_at=queued,
            answered_at=answered, wait_seconds=wait if state == CallState.ENDED else None, talk_seconds=talk,
            wrapup_seconds=wrapup, ended_at=queued + datetime.timedelta(seconds=wait + talk))

    call(0, 10, talk=100, wrapup=20, agent=ana)                        # answered within 20 s
    call(10, 30, talk=50, agent=ben)                                  # answered late
    call(20, 3, end_reason=CallEndReason.ABANDONED)                   # short abandon
    call(70, 25, end_reason=CallEndReason.ABANDONED)                  # abandoned, counted
    call(80, 0, end_reason=CallEndReason.TIMED_OUT)                   # left at the maximum wait
    waiting = call(90, 0, state=CallState.QUEUED)                     # still waiting
    for agent, spans in ((ana, [("available", 600), ("busy", 300), ("wrap_up", 100), ("away", 200)]),
                         (ben, [("available", 1000)])):
        profile = AgentProfile.objects.get(user=agent)
        AgentStateChange.objects.filter(agent=profile).delete()
        start = nine
        for state, seconds in spans:
            AgentStateChange.objects.create(agent=profile, state=state, started_at=start,
                                            ended_at=start + datetime.timedelta(seconds=seconds))
            start += datetime.timedelta(seconds=seconds)
    return {"queue": queue, "ana": ana, "ben": ben, "nine": nine, "waiting": waiting}


def test_the_figures_of_the_morning(morning):
    now = morning["waiting"].queued_at + datetime.timedelta(seconds=40)

    snapshot = selectors.wallboard_snapshot(now=now, since=morning["nine"])

    total = snapshot["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandoned"], total["timed_out"]) == (
        6, 2, 2, 1, 1)
    assert total["service_level"] == pytest.approx(1 / 2)                 # 1 of 2 answered within 20 s
    assert total["service_level_2"] == pytest.approx((1 + 1) / (2 + 2))   # answered or abandoned within 20 s
    assert total["service_level_offered"] == pytest.approx(1 / (2 + 2 + 1 - 1))
    assert total["average_speed_of_answer"] == pytest.approx(20)
    assert total["abandon_rate"] == pytest.approx(1 / 3)                  # the short abandon does not count
    assert total["average_handle_time"] == pytest.approx((100 + 20 + 50) / 2)
    assert (total["waiting"], total["longest_wait"]) == (1, pytest.approx(40))
    assert total["occupancy"] == pytest.approx(400 / 2000)
    billing = snapshot["queues"][0]
    assert (billing["code"], billing["waiting"], billing["answered"], billing["goal"]) == ("billing", 1, 2, 80)


def test_agent_states_are_counted(morning):
    AgentProfile.objects.filter(user=morning["ana"]).update(state="away", away_reason="lunch")

    snapshot = selectors.wallboard_snapshot(since=morning["nine"])

    assert snapshot["agent_states"]["away"] == 1 and snapshot["agent_states"]["logged_out"] == 1
    assert {agent["name"]: agent["away_reason"] for agent in snapshot["agents"]} == {"ana": "Lunch", "ben": ""}


def test_reports_by_interval_queue_and_agent(morning, client_for, make_user):
    client = client_for(make_user("boss", "supervisor"))
    day = morning["nine"].date().isoformat()
    since, until = f"{day}T00:00:00", f"{day}T23:59:59"

    hourly = client.get(API + "/reports", {"group_by": "interval", "since": since, "until": until,
                                           "interval_minutes": 60}).json()
    by_queue = client.get(API + "/reports", {"group_by": "queue", "since": since, "until": until}).json()
    by_agent = client.get(API + "/reports", {"group_by": "agent", "since": since, "until": until}).json()

    assert [(row["label"][-5:], row["offered"]) for row in hourly] == [("09:00", 3), ("10:00", 3)]
    assert hourly[0]["service_level"] == pytest.approx(0.5) and hourly[1]["abandoned"] == 1
    assert [(row["label"], row["offered"], row["answered"]) for row in by_queue] == [("Billing", 6, 2)]
    assert {row["label"]: row["average_speed_of_answer"] for row in by_agent} == {"ana": 10, "ben": 30}
    assert {row["label"]: row["occupancy"] for row in by_agent} == {"ana": pytest.approx(0.4), "ben": 0.0}


def test_bad_report_periods_are_refused(morning, client_for, make_user):
    client = client_for(make_user("boss", "supervisor"))

    backwards = client.get(API + "/reports", {"since": "2026-03-02T00:00:00", "until": "2026-03-01T00:00:00"})
    too_long = client.get(API + "/reports", {"since": "2026-01-01T00:00:00", "until": "2026-06-01T00:00:00"})
    odd_interval = client.get(API + "/reports", {"since": "2026-03-01T00:00:00", "until": "2026-03-02T00:00:00",
                                                 "interval_minutes": 7})

    assert backwards.status_code == 422 and "until" in backwards.json()["errors"]
    assert too_long.status_code == 422 and "until" in too_long.json()["errors"]
    assert odd_interval.status_code == 422 and "interval_minutes" in odd_interval.json()["errors"]


def test_the_report_page_and_its_csv(morning, client, make_user):
    client.force_login(make_user("boss", "supervisor"))
    day = morning["nine"].date().isoformat()

    page = client.get("/contact-center/reports/", {"group_by": "queue", "start": day, "end": day,
                                                   "interval_minutes": 60})
    csv = client.get("/contact-center/reports/", {"group_by": "queue", "start": day, "end": day,
                                                  "interval_minutes": 60, "format": "csv"})

    assert page.status_code == 200 and "Billing" in page.content.decode()
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("label,offered,answered,abandoned,short_abandoned,timed_out,service_level")
    assert lines[1].startswith("Billing,6,2,2,1,1,0.5,")


def test_the_wallboard_needs_the_right_to_see_it(morning, client_for, make_user):
    assert client_for(make_user("rep", "sales_rep")).get(API + "/wallboard").status_code == 403
    assert client_for(morning["ana"]).get(API + "/wallboard").status_code == 200


def test_a_live_call_moves_the_wallboard(center, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from guanxi.contactcenter.live import WALLBOARD_GROUP

    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(WALLBOARD_GROUP, channel)

    with django_capture_on_commit_callbacks(execute=True):
        call = center.call(dnis="95555")
        center.clock.advance(4)
        services.call_answer(actor=ana, call_id=call.pk)

    last = None
    while True:
        try:
            last = async_to_sync(asyncio.wait_for)(layer.receive(channel), 0.2)
        except asyncio.TimeoutError:  # nothing more queued for the wallboard
            break
    assert last["event"] == "contactcenter.wallboard"
    assert last["payload"]["total"]["answered"] == 1
    assert last["payload"]["total"]["service_level"] == 1.0
    assert last["payload"]["agent_states"]["busy"] == 1
