"""The business-hours clock (``guanxi.service.business_time``): working time across nights,
weekends, holidays, make-up working days and time zones, including daylight-saving changes.

Every instant is given explicitly (the clock is frozen by construction: the module never
reads the time), so each case is one fixed scenario.
"""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from guanxi.service.business_time import (
    UTC, BusinessCalendar, CalendarError, epoch_seconds, format_hours, from_epoch_seconds, parse_hours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def berlin(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def shanghai_desk() -> BusinessCalendar:
    """Mon–Fri 09:00–12:00 and 13:00–18:00 (8 h), the 2026 National Day week off, with the
    make-up working Sunday 27 September and Saturday 10 October (调休)."""
    national_day = {dt.date(2026, 10, day) for day in range(1, 8)}
    return BusinessCalendar.from_text(
        "Asia/Shanghai", {name: "09:00-12:00, 13:00-18:00" for name in ("mon", "tue", "wed", "thu", "fri")},
        holidays=national_day,
        special_days={dt.date(2026, 9, 27): "09:00-12:00, 13:00-18:00", dt.date(2026, 10, 10): "09:00-18:00"})


@pytest.fixture
def berlin_desk() -> BusinessCalendar:
    return BusinessCalendar.from_text("Europe/Berlin", {name: "08:00-17:00" for name in ("mon", "tue", "wed",
                                                                                          "thu", "fri")},
                                      holidays={dt.date(2026, 12, 25), dt.date(2026, 12, 26)})


# ======================================================================================
# Reading opening hours
# ======================================================================================
def test_hours_are_read_merged_and_written_back():
    assert parse_hours("09:00-12:00, 13:00-18:00") == ((540, 720), (780, 1080))
    assert parse_hours("00:00-12:00,12:00-24:00") == ((0, 1440),)
    assert parse_hours("") == ()
    assert format_hours(parse_hours("9:00-12:30")) == "09:00-12:30"


@pytest.mark.parametrize("text", ["9-17", "18:00-09:00", "09:00-25:00", "09:00-12:00, 11:00-13:00", "24:30-24:45",
                                  "09:60-10:00"])
def test_bad_hours_are_refused_with_the_reason(text):
    with pytest.raises(CalendarError):
        parse_hours(text)


def test_unknown_time_zone_and_weekday_are_refused():
    with pytest.raises(CalendarError, match="time zone"):
        BusinessCalendar.from_text("Mars/Olympus", {"mon": "09:00-17:00"})
    with pytest.raises(CalendarError, match="weekday"):
        BusinessCalendar.from_text("UTC", {"monday": "09:00-17:00"})


def test_naive_datetimes_are_refused(shanghai_desk):
    with pytest.raises(ValueError, match="timezone-aware"):
        shanghai_desk.add_business_seconds(dt.datetime(2026, 3, 2, 9), HOUR)


# ======================================================================================
# Nights, lunch, weekends (Asia/Shanghai)
# ======================================================================================
def test_target_inside_one_morning(shanghai_desk):
    # given a case opened Monday 09:30, when 2 working hours are added, then it is due 11:30
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 2, 9, 30), 2 * HOUR) == shanghai(2026, 3, 2, 11, 30)


def test_target_skips_the_lunch_break(shanghai_desk):
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 2, 11), 2 * HOUR) == shanghai(2026, 3, 2, 14)


def test_target_ending_at_closing_time_is_due_at_closing_not_next_morning(shanghai_desk):
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 2, 17), HOUR) == shanghai(2026, 3, 2, 18)


def test_target_runs_over_the_night(shanghai_desk):
    # Monday 17:00 + 4 h: 1 h on Monday, 3 h from Tuesday 09:00
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 2, 17), 4 * HOUR) == shanghai(2026, 3, 3, 12)


def test_case_opened_at_night_starts_counting_at_opening(shanghai_desk):
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 2, 23, 45), HOUR) == shanghai(2026, 3, 3, 10)
    assert shanghai_desk.next_open(shanghai(2026, 3, 2, 23, 45)) == shanghai(2026, 3, 3, 9)
    assert not shanghai_desk.is_open(shanghai(2026, 3, 2, 12, 30))
    assert shanghai_desk.is_open(shanghai(2026, 3, 2, 13))


def test_target_runs_over_the_weekend(shanghai_desk):
    # Friday 16:00 + 8 h: 2 h on Friday, then Monday 09:00-12:00 and 13:00-16:00
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 6, 16), 8 * HOUR) == shanghai(2026, 3, 9, 16)
    # opened on Saturday: the clock starts Monday morning
    assert shanghai_desk.add_business_seconds(shanghai(2026, 3, 7, 10), HOUR) == shanghai(2026, 3, 9, 10)


def test_working_time_between_counts_only_opening_hours(shanghai_desk):
    # Friday 17:00 to Monday 10:00 = 1 h + 1 h
    assert shanghai_desk.business_seconds_between(shanghai(2026, 3, 6, 17), shanghai(2026, 3, 9, 10)) == 2 * HOUR
    assert shanghai_desk.business_seconds_between(shanghai(2026, 3, 9, 10), shanghai(2026, 3, 6, 17)) == 0
    # a whole week is 5 × 8 h
    assert shanghai_desk.business_seconds_between(shanghai(2026, 3, 2), shanghai(2026, 3, 9)) == 40 * HOUR


# ======================================================================================
# Holidays and make-up working days
# ======================================================================================
def test_holiday_week_is_skipped(shanghai_desk):
    # Wednesday 30 September 17:00 + 2 h: 1 h that day, the National Day week is off,
    # Thursday 8 October is the next working day
    due = shanghai_desk.add_business_seconds(shanghai(2026, 9, 30, 17), 2 * HOUR)
    assert due == shanghai(2026, 10, 8, 10)


def test_make_up_working_weekend_days_count(shanghai_desk):
    # Saturday 26 September is off, Sunday 27 September is a make-up working day
    due = shanghai_desk.add_business_seconds(shanghai(2026, 9, 26, 10), HOUR)
    assert due == shanghai(2026, 9, 27, 10)
    # Saturday 10 October works 09:00-18:00 without a lunch break
    assert shanghai_desk.business_seconds_between(shanghai(2026, 10, 10), shanghai(2026, 10, 11)) == 9 * HOUR


def test_calendar_never_open_is_refused_instead_of_looping():
    closed = BusinessCalendar("UTC", {})
    with pytest.raises(CalendarError, match="no opening hours"):
        closed.add_business_seconds(dt.datetime(2026, 1, 1, tzinfo=UTC), 60)
    assert closed.add_business_seconds(dt.datetime(2026, 1, 1, tzinfo=UTC), 0) == dt.datetime(2026, 1, 1, tzinfo=UTC)


# ======================================================================================
# Time zones and daylight saving time (Europe/Berlin)
# ======================================================================================
def test_instants_from_another_zone_are_read_in_the_desk_zone(berlin_desk):
    # 15:00 in Shanghai on Monday 2 March is 08:00 in Berlin (CET, UTC+1): the desk just opened
    opened = shanghai(2026, 3, 2, 15)
    assert berlin_desk.is_open(opened)
    assert berlin_desk.add_business_seconds(opened, 9 * HOUR) == berlin(2026, 3, 2, 17)
    assert berlin_desk.add_business_seconds(opened, 9 * HOUR).tzinfo == UTC


def test_office_hours_keep_their_length_across_the_spring_change(berlin_desk):
    # Friday 27 March 2026 16:00 CET + 2 h → Monday 30 March 09:00 CEST (clocks went forward on Sunday)
    due = berlin_desk.add_business_seconds(berlin(2026, 3, 27, 16), 2 * HOUR)
    assert due == berlin(2026, 3, 30, 9)
    assert due == dt.datetime(2026, 3, 30, 7, tzinfo=UTC)


def test_office_hours_keep_their_length_across_the_autumn_change(berlin_desk):
    due = berlin_desk.add_business_seconds(berlin(2026, 10, 23, 16), 2 * HOUR)
    assert due == berlin(2026, 10, 26, 9)
    assert due == dt.datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_round_the_clock_desk_has_23_and_25_hour_days_at_the_changes():
    desk = BusinessCalendar.always_open("Europe/Berlin")
    assert desk.business_seconds_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * HOUR
    assert desk.business_seconds_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * HOUR
    # 24 working hours from Saturday noon before the spring change end at Sunday 13:00 local
    assert desk.add_business_seconds(berlin(2026, 3, 28, 12), 24 * HOUR) == berlin(2026, 3, 29, 13)


def test_hours_through_the_skipped_hour_count_real_time():
    # a night desk open 01:00-04:00 loses the skipped hour 02:00-03:00 in spring
    desk = BusinessCalendar.from_text("Europe/Berlin", {"sun": "01:00-04:00"})
    assert desk.business_seconds_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * HOUR
    assert desk.business_seconds_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 4 * HOUR


def test_christmas_holidays_in_berlin(berlin_desk):
    # Thursday 24 December 16:00 + 2 h: 1 h on Christmas Eve, 25 and 26 are holidays, 27 is a Sunday
    assert berlin_desk.add_business_seconds(berlin(2026, 12, 24, 16), 2 * HOUR) == berlin(2026, 12, 28, 9)


# ======================================================================================
# Many instants at once equal the scalar answers
# ======================================================================================
@pytest.mark.parametrize("fixture_name", ["shanghai_desk", "berlin_desk"])
def test_timeline_agrees_with_the_scalar_clock(fixture_name, request):
    desk: BusinessCalendar = request.getfixturevalue(fixture_name)
    rng = random.Random(4)
    window_start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    timeline = desk.timeline(window_start, dt.datetime(2027, 6, 1, tzinfo=UTC))
    starts = [window_start + dt.timedelta(seconds=rng.uniform(0, 300 * 86400)) for _ in range(200)]
    targets = [rng.choice([0, 900, 3600, 4 * 3600, 8 * 3600, 40 * 3600, 123456]) for _ in starts]
    ends = [start + dt.timedelta(seconds=rng.uniform(0, 20 * 86400)) for start in starts]
    start_array = np.array([epoch_seconds(start) for start in starts])

    due = timeline.add(start_array, np.array(targets, dtype=float))
    between = timeline.seconds_between(start_array, np.array([epoch_seconds(end) for end in ends]))

    for index, start in enumerate(starts):
        expected_due = desk.add_business_seconds(start, targets[index])
        assert abs((from_epoch_seconds(due[index]) - expected_due).total_seconds()) < 1e-3
        assert between[index] == pytest.approx(desk.business_seconds_between(start, ends[index]), abs=1e-3)


def test_timeline_answers_nan_beyond_its_window(shanghai_desk):
    timeline = shanghai_desk.timeline(shanghai(2026, 3, 2), shanghai(2026, 3, 3))
    answer = timeline.add(np.array([epoch_seconds(shanghai(2026, 3, 2, 9))]), np.array([100 * HOUR]))
    assert np.isnan(answer[0])
