"""The SLA state of many open cases at once: plain Python and NumPy, no Django.

Given each case's clocks — when it opened, its targets, whether someone replied, the
working time already counted and since when the resolution clock runs (not at all while
pending the customer) — ``evaluate`` answers, for every case, when each target is due,
whether it is ok, in warning, breached or paused, and how much working time is left.

The work is a handful of array operations per business calendar: one ``BusinessTimeline``
(the calendar's opening intervals as arrays over a window wide enough for every case)
turns instants into cumulative working seconds and back, so a million cases cost a few
``searchsorted`` calls instead of a million walks through opening hours. The scalar
``BusinessCalendar`` methods give the same answers one case at a time (the tests and
``benchmarks/sla_sweep.py`` compare both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guanxi.service.business_time import UTC, BusinessCalendar, BusinessTimeline

NONE, OK, WARNING, BREACHED, PAUSED, MET = 0, 1, 2, 3, 4, 5
STATE_NAMES = ("none", "ok", "warning", "breached", "paused", "met")
DAY = 86400.0


@dataclass
class CaseClocks:
    """One entry per case; instants in epoch seconds, NaN where there is none."""

    calendar: np.ndarray               # int: index into the calendars, -1 for no SLA
    created: np.ndarray                # float: the first-response clock starts here
    first_response_target: np.ndarray  # float: working seconds, NaN for none
    responded: np.ndarray              # bool: someone replied (the first-response target is met or missed)
    resolution_target: np.ndarray      # float: working seconds, NaN for none
    used: np.ndarray                   # float: working seconds counted before the last pause
    since: np.ndarray                  # float: resolution clock running since; NaN while paused
    warning_share: np.ndarray          # float: warn at this share of a target, e.g. 0.8

    def __len__(self) -> int:
        return len(self.calendar)


@dataclass
class SlaState:
    first_response_due: np.ndarray     # epoch seconds, NaN when none
    first_response_state: np.ndarray   # int8 state codes
    resolution_due: np.ndarray
    resolution_state: np.ndarray
    resolution_left: np.ndarray        # working seconds left (negative: overdue), NaN when none

    def counts(self, which: str = "resolution") -> dict[str, int]:
        states = self.resolution_state if which == "resolution" else self.first_response_state
        found = np.bincount(states.astype(np.int64), minlength=len(STATE_NAMES))
        return {name: int(found[code]) for code, name in enumerate(STATE_NAMES)}


def _timeline_covering(calendar: BusinessCalendar, start: float, end: float, needed: float) -> BusinessTimeline:
    """A timeline from ``start`` past ``end`` that holds at least ``needed`` working seconds
    after ``end``, widened until it does (a desk open one hour a week needs a long window)."""
    days = max(30.0, needed / DAY * 3 + 14)
    while True:
        timeline = calendar.timeline(dt.datetime.fromtimestamp(start - DAY, UTC),
                                     dt.datetime.fromtimestamp(end + days * DAY, UTC))
        after_end = timeline.total - float(timeline.cumulative(np.array([end]))[0])
        if after_end >= needed or days > 3660 * 2:
            return timeline
        days *= 2


def evaluate(clocks: CaseClocks, calendars: Sequence[BusinessCalendar], now: float) -> SlaState:
    """Deadlines, states and working time left of every case at ``now`` (epoch seconds)."""
    size = len(clocks)
    first_due = np.full(size, np.nan)
    first_state = np.full(size, NONE, dtype=np.int8)
    resolution_due = np.full(size, np.nan)
    resolution_state = np.full(size, NONE, dtype=np.int8)
    left = np.full(size, np.nan)
    for index, calendar in enumerate(calendars):
        rows = np.flatnonzero(clocks.calendar == index)
        if not len(rows):
            continue
        created = clocks.created[rows]
        since = clocks.since[rows]
        running = ~np.isnan(since)
        first_target = clocks.first_response_target[rows]
        resolution_target = clocks.resolution_target[rows]
        used = clocks.used[rows]
        share = clocks.warning_share[rows]
        starts = np.concatenate((created, since[running]))
        remaining = np.nan_to_num(np.concatenate((first_target, resolution_target - used)), nan=0.0)
        timeline = _timeline_covering(calendar, float(starts.min()), max(now, float(starts.max())),
                                      float(max(remaining.max(initial=0.0), 0.0)))
        now_cumulative = timeline.cumulative(np.array([now]))[0]

        # First response: from opening, not paused; met once someone replied.
        has_first = ~np.isnan(first_target)
        due = np.where(has_first, timeline.add(created, np.nan_to_num(first_target)), np.nan)
        warn = np.where(has_first, timeline.add(created, np.nan_to_num(first_target) * share), np.nan)
        state = np.where(now >= due, BREACHED, np.where(now >= warn, WARNING, OK))
        state = np.where(clocks.responded[rows], MET, state)
        first_due[rows] = due
        first_state[rows] = np.where(has_first, state, NONE)

        # Resolution: runs from ``since`` for what is left of the target; paused without it.
        has_resolution = ~np.isnan(resolution_target)
        rest = np.nan_to_num(resolution_target - used)
        safe_since = np.where(running, since, now)
        due = timeline.add(safe_since, np.maximum(rest, 0.0))
        warn = timeline.add(safe_since, np.maximum(np.nan_to_num(resolution_target) * share - used, 0.0))
        elapsed = now_cumulative - timeline.cumulative(safe_since)
        state = np.where(now >= due, BREACHED, np.where(now >= warn, WARNING, OK))
        state = np.where(running, state, PAUSED)
        resolution_due[rows] = np.where(has_resolution & running, due, np.nan)
        resolution_state[rows] = np.where(has_resolution, state, NONE)
        left[rows] = np.where(has_resolution, rest - np.where(running, elapsed, 0.0), np.nan)
    return SlaState(first_due, first_state, resolution_due, resolution_state, left)


def evaluate_one(calendar: BusinessCalendar, *, created: dt.datetime, first_response_target: float | None,
                 responded: bool, resolution_target: float | None, used: float, since: dt.datetime | None,
                 warning_share: float, now: dt.datetime) -> tuple[int, int, float | None]:
    """The same answer for one case with the scalar clock: (first-response state,
    resolution state, working seconds left)."""
    first = NONE
    if first_response_target is not None:
        if responded:
            first = MET
        else:
            due = calendar.add_business_seconds(created, first_response_target)
            warn = calendar.add_business_seconds(created, first_response_target * warning_share)
            first = BREACHED if now >= due else WARNING if now >= warn else OK
    if resolution_target is None:
        return first, NONE, None
    if since is None:
        return first, PAUSED, resolution_target - used
    due = calendar.add_business_seconds(since, max(resolution_target - used, 0.0))
    warn = calendar.add_business_seconds(since, max(resolution_target * warning_share - used, 0.0))
    state = BREACHED if now >= due else WARNING if now >= warn else OK
    return first, state, resolution_target - used - calendar.business_seconds_between(since, now)
