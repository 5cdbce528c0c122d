"""The SLA state of many cases at once (``sla_state.evaluate``) equals the scalar clock's
answer case by case — ok, warning, breached, paused, met — across calendars and time zones."""

import datetime as dt

import numpy as np

from guanxi.service import sla_state
from guanxi.service.business_time import UTC, BusinessCalendar

NOW = dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Monday after the Berlin spring change


def _desks():
    return [BusinessCalendar.from_text("Asia/Shanghai", {day: "09:00-12:00, 13:00-18:00"
                                                         for day in ("mon", "tue", "wed", "thu", "fri")},
                                       holidays={dt.date(2026, 3, 27)}),
            BusinessCalendar.from_text("Europe/Berlin", {day: "08:00-17:00" for day in ("mon", "tue", "wed",
                                                                                         "thu", "fri")}),
            BusinessCalendar.always_open("UTC")]


def _clocks(size: int, seed: int = 3) -> sla_state.CaseClocks:
    rng = np.random.default_rng(seed)
    now = NOW.timestamp()
    created = now - rng.uniform(0, 9 * 86400, size)
    resolution_target = rng.choice([3600.0, 8 * 3600.0, 24 * 3600.0, np.nan], size)
    return sla_state.CaseClocks(
        calendar=rng.integers(-1, 3, size).astype(np.int32), created=created,
        first_response_target=rng.choice([900.0, 3600.0, np.nan], size), responded=rng.random(size) < 0.3,
        resolution_target=resolution_target, used=np.where(rng.random(size) < 0.4, 1800.0, 0.0),
        since=np.where(rng.random(size) < 0.15, np.nan, created + rng.uniform(0, 3600, size)),
        warning_share=np.full(size, 0.8))


def test_vectorized_states_equal_the_scalar_clock():
    desks, clocks = _desks(), _clocks(400)
    state = sla_state.evaluate(clocks, desks, NOW.timestamp())
    seen = set()
    for row in range(len(clocks)):
        if clocks.calendar[row] < 0:
            assert (state.first_response_state[row], state.resolution_state[row]) == (sla_state.NONE,
                                                                                      sla_state.NONE)
            continue
        first_target = clocks.first_response_target[row]
        resolution_target = clocks.resolution_target[row]
        since = None if np.isnan(clocks.since[row]) else dt.datetime.fromtimestamp(clocks.since[row], UTC)
        first, resolution, left = sla_state.evaluate_one(
            desks[clocks.calendar[row]], created=dt.datetime.fromtimestamp(clocks.created[row], UTC),
            first_response_target=None if np.isnan(first_target) else float(first_target),
            responded=bool(clocks.responded[row]),
            resolution_target=None if np.isnan(resolution_target) else float(resolution_target),
            used=float(clocks.used[row]), since=since, warning_share=0.8, now=NOW)
        assert (int(state.first_response_state[row]), int(state.resolution_state[row])) == (first, resolution), row
        if left is None:
            assert np.isnan(state.resolution_left[row])
        else:
            assert abs(state.resolution_left[row] - left) < 1e-3
        seen.add(sla_state.STATE_NAMES[resolution])
        seen.add(sla_state.STATE_NAMES[first])
    assert {"ok", "warning", "breached", "paused", "met", "none"} <= seen  # every state was exercised


def test_counts_by_state():
    state = sla_state.evaluate(_clocks(50), _desks(), NOW.timestamp())
    assert sum(state.counts().values()) == 50


def test_a_desk_open_one_hour_a_week_still_gets_its_deadlines():
    sparse = BusinessCalendar.from_text("UTC", {"wed": "10:00-11:00"})
    clocks = sla_state.CaseClocks(
        calendar=np.array([0]), created=np.array([NOW.timestamp()]), first_response_target=np.array([np.nan]),
        responded=np.array([False]), resolution_target=np.array([40 * 3600.0]), used=np.array([0.0]),
        since=np.array([NOW.timestamp()]), warning_share=np.array([0.8]))
    state = sla_state.evaluate(clocks, [sparse], NOW.timestamp())
    expected = sparse.add_business_seconds(NOW, 40 * 3600)
    assert dt.datetime.fromtimestamp(state.resolution_due[0], UTC) == expected  # forty weeks on
