"""The business-hours clock of service-level agreements: plain Python (``zoneinfo``) and NumPy.

A ``BusinessCalendar`` says when a service desk works: opening hours per weekday in the
desk's own time zone, public holidays, and special days that override both (the
make-up working Saturdays of Chinese holiday weeks, 调休, or a short Christmas Eve).
On it, SLA arithmetic is two questions:

* ``business_seconds_between(start, end)``: how much working time passed;
* ``add_business_seconds(start, seconds)``: when a target of so much working time runs out.

Opening hours are wall-clock times, so a desk open 09:00–18:00 in Berlin is open nine
real hours on the days daylight saving time starts and ends too, while a 24/7 desk is
open 23 and 25 hours on those days. Every instant handed in must be timezone-aware;
answers are in UTC.

``BusinessTimeline`` answers the same questions for arrays of instants at once (NumPy
over the opening intervals of a window), which is how millions of open cases are
evaluated in one sweep; its answers equal the scalar ones to the microsecond.

No Django here: the service domain turns its stored calendars into these objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

UTC = dt.timezone.utc
MINUTES_PER_DAY = 24 * 60
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no opening hours within this many days has none at all: searching for
# the end of a target gives up instead of looping for ever.
SEARCH_HORIZON_DAYS = 3 * 366

Hours = tuple[tuple[int, int], ...]  # (opening minute, closing minute) of one day; 1440 = 24:00

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """A calendar that cannot be used: bad hours, unknown time zone, or never open."""


# ======================================================================================
# Reading opening hours
# ======================================================================================
def parse_hours(text: str) -> Hours:
    """``"09:00-12:00, 13:00-18:00"`` → ``((540, 720), (780, 1080))``; ``""`` is closed.

    ``24:00`` closes at midnight; ranges must be ascending and must not overlap.
    """
    ranges = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match is None:
            raise CalendarError(f"{part.strip()!r} is not a time range like 09:00-18:00")
        open_hour, open_minute, close_hour, close_minute = (int(group) for group in match.groups())
        if open_minute > 59 or close_minute > 59 or open_hour > 23 or close_hour > 24 or (
                close_hour == 24 and close_minute):
            raise CalendarError(f"{part.strip()!r} is not a valid time of day")
        ranges.append((open_hour * 60 + open_minute, close_hour * 60 + close_minute))
    return normalize_hours(ranges)


def normalize_hours(ranges: Iterable[Sequence[int]]) -> Hours:
    """Validate (opening minute, closing minute) pairs: each within one day, ascending,
    not overlapping. Touching ranges are merged."""
    result: list[tuple[int, int]] = []
    for pair in ranges:
        start, end = int(pair[0]), int(pair[1])
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise CalendarError(f"opening hours {format_minutes(start)}-{format_minutes(end)} are not a range "
                                f"within one day")
        if result and start < result[-1][1]:
            raise CalendarError("opening hours must be in order and must not overlap")
        if result and start == result[-1][1]:
            result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return tuple(result)


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_hours(hours: Hours) -> str:
    return ", ".join(f"{format_minutes(start)}-{format_minutes(end)}" for start, end in hours)


def _aware(instant: dt.datetime, name: str) -> dt.datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {instant!r}")
    return instant


# ======================================================================================
# The calendar
# ======================================================================================
@dataclass(frozen=True)
class BusinessCalendar:
    """When a service desk works. See the module docstring."""

    time_zone: str
    weekly_hours: Mapping[int, Hours]  # weekday (0 = Monday) → opening hours
    holidays: frozenset[dt.date] = frozenset()
    special_days: Mapping[dt.date, Hours] = field(default_factory=dict)  # override weekday and holiday

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CalendarError(f"unknown time zone {self.time_zone!r}") from error
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "weekly_hours", {int(day): normalize_hours(hours)
                                                  for day, hours in self.weekly_hours.items()})
        for day in self.weekly_hours:
            if not 0 <= day <= 6:
                raise CalendarError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "special_days", {day: normalize_hours(hours)
                                                  for day, hours in self.special_days.items()})

    # --- constructors ---
    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> BusinessCalendar:
        """24 hours a day, 7 days a week (holidays included)."""
        return cls(time_zone, {day: ((0, MINUTES_PER_DAY),) for day in range(7)})

    @classmethod
    def from_text(cls, time_zone: str, weekly: Mapping[str, str], holidays: Iterable[dt.date] = (),
                  special_days: Mapping[dt.date, str] | None = None) -> BusinessCalendar:
        """``weekly`` maps ``mon`` … ``sun`` to ranges like ``"09:00-18:00"``."""
        unknown = set(weekly) - set(WEEKDAY_NAMES)
        if unknown:
            raise CalendarError(f"unknown weekday names {sorted(unknown)}; use {', '.join(WEEKDAY_NAMES)}")
        return cls(time_zone, {WEEKDAY_NAMES.index(name): parse_hours(text) for name, text in weekly.items()},
                   frozenset(holidays), {day: parse_hours(text) for day, text in (special_days or {}).items()})

    # --- days ---
    @property
    def zone(self) -> ZoneInfo:
        return self._zone  # type: ignore[attr-defined]

    def hours_on(self, day: dt.date) -> Hours:
        """Opening hours on a local date: a special day's, none on a holiday, else the weekday's."""
        if day in self.special_days:
            return self.special_days[day]
        if day in self.holidays:
            return ()
        return self.weekly_hours.get(day.weekday(), ())

    def intervals_on(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's opening intervals as UTC instants.

        A wall-clock time skipped by a daylight-saving change counts with the offset in
        force before the change (``fold=0``), so a range across the gap is as long as the
        real time that passes in it.
        """
        intervals = []
        for start, end in self.hours_on(day):
            opening, closing = self._instant(day, start), self._instant(day, end)
            if closing > opening:
                intervals.append((opening, closing))
        return intervals

    def _instant(self, day: dt.date, minute: int) -> dt.datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + dt.timedelta(days=1), 0
        local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.zone)
        return local.astimezone(UTC)

    def local_date(self, instant: dt.datetime) -> dt.date:
        return _aware(instant, "instant").astimezone(self.zone).date()

    def _intervals_from(self, instant: dt.datetime):
        """Opening intervals ending after ``instant``, in order, for up to the search horizon."""
        day = self.local_date(instant) - dt.timedelta(days=1)
        for offset in range(SEARCH_HORIZON_DAYS + 2):
            for opening, closing in self.intervals_on(day + dt.timedelta(days=offset)):
                if closing > instant:
                    yield opening, closing

    # --- questions ---
    def is_open(self, instant: dt.datetime) -> bool:
        _aware(instant, "instant")
        day = self.local_date(instant)
        return any(opening <= instant < closing
                   for check in (day - dt.timedelta(days=1), day)
                   for opening, closing in self.intervals_on(check))

    def next_open(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` when the desk is open then, else the next opening (UTC)."""
        _aware(instant, "instant")
        for opening, _closing in self._intervals_from(instant):
            return max(opening, instant).astimezone(UTC)
        raise CalendarError(f"the calendar has no opening hours within {SEARCH_HORIZON_DAYS} days")

    def business_seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds in [start, end); 0 when ``end`` is not after ``start``."""
        _aware(start, "start")
        _aware(end, "end")
        if end <= start:
            return 0.0
        total = 0.0
        day = self.local_date(start) - dt.timedelta(days=1)
        last = self.local_date(end)
        while day <= last:
            for opening, closing in self.intervals_on(day):
                overlap = (min(closing, end) - max(opening, start)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += dt.timedelta(days=1)
        return total

    def add_business_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant (UTC) at which ``seconds`` of working time after ``start`` have passed.

        Zero or less answers ``start`` itself. The answer is the moment the last second is
        used up, so a target ending exactly at closing time is due at closing time, not at
        the next opening.
        """
        _aware(start, "start")
        remaining = float(seconds)
        if remaining <= 0:
            return start.astimezone(UTC)
        for opening, closing in self._intervals_from(start):
            begin = max(opening, start)
            available = (closing - begin).total_seconds()
            if remaining <= available:
                return (begin + dt.timedelta(seconds=remaining)).astimezone(UTC)
            remaining -= available
        raise CalendarError(f"the calendar has no opening hours within {SEARCH_HORIZON_DAYS} days")

    def timeline(self, start: dt.datetime, end: dt.datetime) -> BusinessTimeline:
        return BusinessTimeline.build(self, start, end)


# ======================================================================================
# Many instants at once
# ======================================================================================
def epoch_seconds(instant: dt.datetime) -> float:
    return _aware(instant, "instant").timestamp()


def from_epoch_seconds(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True)
class BusinessTimeline:
    """A calendar's opening intervals over a window, as arrays of epoch seconds.

    ``cumulative(t)`` is the working time from the window's start to ``t``, a
    non-decreasing piecewise-linear function; working time between two instants is the
    difference of their cumulatives, and the instant a target runs out is its inverse.
    Instants outside the window are clamped to it, so build the window wide enough.
    """

    window_start: float
    window_end: float
    opens: np.ndarray        # float64 epoch seconds, ascending
    closes: np.ndarray
    before: np.ndarray       # working seconds before each interval opens

    @classmethod
    def build(cls, calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> BusinessTimeline:
        _aware(start, "start")
        _aware(end, "end")
        opens, closes = [], []
        day = calendar.local_date(start) - dt.timedelta(days=1)
        last = calendar.local_date(end) + dt.timedelta(days=1)
        while day <= last:
            for opening, closing in calendar.intervals_on(day):
                opens.append(opening.timestamp())
                closes.append(closing.timestamp())
            day += dt.timedelta(days=1)
        open_array = np.asarray(opens, dtype=np.float64)
        close_array = np.asarray(closes, dtype=np.float64)
        lengths = close_array - open_array
        before = np.concatenate(([0.0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0)
        return cls(start.timestamp(), end.timestamp(), open_array, close_array, before)

    @property
    def total(self) -> float:
        return float(self.before[-1] + (self.closes[-1] - self.opens[-1])) if len(self.opens) else 0.0

    def cumulative(self, instants: np.ndarray) -> np.ndarray:
        """Working seconds from the first interval to each instant (epoch seconds)."""
        instants = np.asarray(instants, dtype=np.float64)
        if not len(self.opens):
            return np.zeros_like(instants)
        index = np.searchsorted(self.opens, instants, side="right") - 1
        safe = np.clip(index, 0, None)
        inside = np.clip(instants - self.opens[safe], 0.0, self.closes[safe] - self.opens[safe])
        return np.where(index >= 0, self.before[safe] + inside, 0.0)

    def seconds_between(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return np.clip(self.cumulative(ends) - self.cumulative(starts), 0.0, None)

    def add(self, starts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Epoch seconds at which ``seconds`` of working time after each start have passed;
        NaN where that lies beyond the window."""
        starts = np.asarray(starts, dtype=np.float64)
        seconds = np.asarray(seconds, dtype=np.float64)
        target = self.cumulative(starts) + np.clip(seconds, 0.0, None)
        ends = self.before + (self.closes - self.opens)
        index = np.searchsorted(ends, target, side="left")
        beyond = index >= len(self.opens)
        safe = np.clip(index, 0, max(len(self.opens) - 1, 0))
        if not len(self.opens):
            return np.where(seconds <= 0, starts, np.nan)
        instants = np.maximum(self.opens[safe] + (target - self.before[safe]), starts)
        result = np.where(beyond, np.nan, instants)
        return np.where(seconds <= 0, starts, result)
