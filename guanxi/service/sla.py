"""SLA arithmetic on cases: which policy applies, and when each target is due.

Pure computations on model instances (nothing is saved here; ``services`` saves). The
working-time arithmetic itself is ``business_time``; this module turns stored calendars
into ``BusinessCalendar`` objects and keeps a case's deadlines in step with its clock.

A case stores its deadlines as instants (``first_response_due_at``, ``resolution_due_at``
and the warning instants before them), so finding the cases that need a warning or an
escalation is one indexed query, and a million open cases are evaluated as arrays.
The resolution clock pauses while the case is pending the customer and stops at
resolution: ``resolution_used_seconds`` holds the working time counted before the last
pause, ``resolution_clock_since`` when the running stretch began (empty while stopped).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from guanxi.service.business_time import BusinessCalendar, CalendarError
from guanxi.service.models import CalendarDayKind, Case, ServiceCalendar, SlaPolicy


def business_calendar(calendar: ServiceCalendar) -> BusinessCalendar:
    """The stored calendar as a ``BusinessCalendar`` (weekly hours, holidays, special days)."""
    holidays, special = set(), {}
    for day in calendar.days.all():
        if day.kind == CalendarDayKind.HOLIDAY:
            holidays.add(day.date)
        else:
            special[day.date] = day.hours
    try:
        return BusinessCalendar.from_text(calendar.time_zone, calendar.weekly_hours or {}, holidays, special)
    except CalendarError:
        # A stored calendar was validated when saved; should a time zone disappear from
        # the system's database, count round the clock rather than stop every SLA.
        return BusinessCalendar.always_open("UTC")


def customer_tier(case: Case) -> str:
    """The value tier that selects the SLA: the account's, else the contact's."""
    if case.account_id and case.account and case.account.value_tier:
        return case.account.value_tier
    if case.contact_id and case.contact and case.contact.value_tier:
        return case.contact.value_tier
    return ""


def policy_for(case: Case) -> SlaPolicy | None:
    """The contract's policy, else the most specific active policy for priority and tier."""
    if case.service_contract_id and case.service_contract and case.service_contract.sla_policy_id:
        policy = case.service_contract.sla_policy
        if policy.is_active:
            return policy
    tier = customer_tier(case)
    candidates = (SlaPolicy.objects.filter(is_active=True)
                  .filter(Q(priority=case.priority) | Q(priority=""))
                  .filter(Q(customer_tier=tier) | Q(customer_tier="") if tier else Q(customer_tier=""))
                  .select_related("calendar"))

    def specificity(policy: SlaPolicy) -> tuple:
        return (-(bool(policy.priority) + bool(policy.customer_tier)), -bool(policy.customer_tier),
                policy.position, policy.pk)

    ranked = sorted(candidates, key=specificity)
    return ranked[0] if ranked else None


def _seconds(minutes: int) -> int:
    return int(minutes) * 60


def apply_policy(case: Case, policy: SlaPolicy | None, now: dt.datetime, *, opening: bool) -> None:
    """Set the case's targets from ``policy`` and recompute its deadlines.

    On opening, the first-response clock starts at ``case.created_at`` and the resolution
    clock starts running. Later (priority, tier or contract changed) the targets change
    but the time already counted stays counted.
    """
    case.sla_policy = policy
    if policy is None:
        case.first_response_target_seconds = case.resolution_target_seconds = None
        case.first_response_due_at = case.first_response_warning_at = None
        case.resolution_due_at = case.resolution_warning_at = None
        if opening:
            case.resolution_clock_since = now
        return
    case.first_response_target_seconds = _seconds(policy.first_response_minutes)
    case.resolution_target_seconds = _seconds(policy.resolution_minutes)
    if opening:
        case.resolution_used_seconds = 0.0
        case.resolution_clock_since = now
    refresh_deadlines(case, business_calendar(policy.calendar), policy.warning_percent)


def refresh_deadlines(case: Case, calendar: BusinessCalendar, warning_percent: int) -> None:
    """Recompute the four deadline instants from the targets and the clock's state."""
    share = max(0, min(100, warning_percent)) / 100
    if case.first_response_target_seconds is None:
        case.first_response_due_at = case.first_response_warning_at = None
    else:
        target = case.first_response_target_seconds
        case.first_response_due_at = calendar.add_business_seconds(case.created_at, target)
        case.first_response_warning_at = calendar.add_business_seconds(case.created_at, target * share)
    if case.resolution_target_seconds is None or case.resolution_clock_since is None:
        case.resolution_due_at = case.resolution_warning_at = None
        return
    used = case.resolution_used_seconds
    target = case.resolution_target_seconds
    since = case.resolution_clock_since
    case.resolution_due_at = calendar.add_business_seconds(since, max(0.0, target - used))
    case.resolution_warning_at = calendar.add_business_seconds(since, max(0.0, target * share - used))


def _calendar_of(case: Case) -> tuple[BusinessCalendar, int] | None:
    policy = case.sla_policy
    if policy is None:
        return None
    return business_calendar(policy.calendar), policy.warning_percent


def stop_clock(case: Case, now: dt.datetime) -> None:
    """Pause (pending customer) or stop (resolved) the resolution clock, counting the stretch."""
    if case.resolution_clock_since is None:
        return
    found = _calendar_of(case)
    if found is not None and now > case.resolution_clock_since:
        case.resolution_used_seconds += found[0].business_seconds_between(case.resolution_clock_since, now)
    case.resolution_clock_since = None
    case.resolution_due_at = case.resolution_warning_at = None


def start_clock(case: Case, now: dt.datetime) -> None:
    """Resume the resolution clock (customer answered, case reopened)."""
    if case.resolution_clock_since is not None:
        return
    case.resolution_clock_since = now
    found = _calendar_of(case)
    if found is not None:
        refresh_deadlines(case, *found)


def resolution_seconds_used(case: Case, now: dt.datetime) -> float:
    """Working time counted against the resolution target up to ``now``."""
    used = case.resolution_used_seconds
    found = _calendar_of(case)
    if case.resolution_clock_since is not None and found is not None and now > case.resolution_clock_since:
        used += found[0].business_seconds_between(case.resolution_clock_since, now)
    return used
