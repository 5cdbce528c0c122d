"""Service reports (reads, access-checked like selectors): the service dashboard, the SLA
report and satisfaction results per customer, agent, product, channel and period.

Every figure is one grouped query over the cases (or surveys) the actor may see, so a
report costs the same few queries however many cases there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.service.models import OPEN_STATUSES, Case, CaseOrigin, CasePriority, Survey
from guanxi.service.selectors import (
    SATISFACTION_AGGREGATES, _require, nps_and_csat, satisfaction_figures, visible_cases,
)

AGE_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, 30), (30, None))


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def last_days(cls, days: int, now: dt.datetime | None = None) -> Period:
        now = now or timezone.now()
        end = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        return cls(end - dt.timedelta(days=days), end)

    @classmethod
    def between(cls, start: dt.date, end: dt.date) -> Period:
        """From the start of ``start`` to the end of ``end``, in the server's time zone."""
        zone = timezone.get_current_timezone()
        return cls(dt.datetime.combine(start, dt.time(), zone), dt.datetime.combine(end + dt.timedelta(days=1),
                                                                                   dt.time(), zone))


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def report_cases(actor) -> QuerySet[Case]:
    _require(actor, "service_report", "view")
    return visible_cases(actor)


def sla_attainment(cases: QuerySet[Case], period: Period) -> dict:
    resolved = cases.filter(resolved_at__gte=period.start, resolved_at__lt=period.end, sla_policy__isnull=False)
    responded = cases.filter(first_responded_at__gte=period.start, first_responded_at__lt=period.end,
                             sla_policy__isnull=False)
    figures = resolved.aggregate(total=Count("id"), met=Count("id", filter=Q(resolution_breached=False)))
    first = responded.aggregate(total=Count("id"), met=Count("id", filter=Q(first_response_breached=False)))
    return {"resolved": figures["total"], "resolution_met": figures["met"],
            "resolution_percent": _percent(figures["met"], figures["total"]),
            "responded": first["total"], "first_response_met": first["met"],
            "first_response_percent": _percent(first["met"], first["total"])}


def service_dashboard(actor, *, days: int = 30, now: dt.datetime | None = None) -> dict:
    """Backlog, age of open cases, SLA attainment, first-contact resolution and the CSAT trend."""
    now = now or timezone.now()
    cases = report_cases(actor)
    period = Period.last_days(days, now)
    open_cases = cases.filter(status__in=OPEN_STATUSES)
    by_status = dict(open_cases.values_list("status").annotate(count=Count("id")).order_by())
    by_priority = dict(open_cases.values_list("priority").annotate(count=Count("id")).order_by())
    ages = []
    for low, high in AGE_BUCKETS:
        condition = Q(created_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=now - dt.timedelta(days=high))
        label = (_("%(low)d–%(high)d days") % {"low": low, "high": high} if high is not None
                 else _("over %(low)d days") % {"low": low})
        ages.append({"label": label, "low": low, "high": high, "count": open_cases.filter(condition).count()})
    backlog = open_cases.aggregate(
        total=Count("id"), unassigned=Count("id", filter=Q(assignee__isnull=True)),
        triage=Count("id", filter=Q(needs_triage=True)),
        breached=Count("id", filter=Q(first_response_breached=True) | Q(resolution_breached=True)),
        at_risk=Count("id", filter=Q(resolution_warned=True, resolution_breached=False)))
    resolved = cases.filter(resolved_at__gte=period.start, resolved_at__lt=period.end)
    fcr = resolved.aggregate(total=Count("id"), first=Count("id", filter=Q(first_contact_resolution=True)))
    daily = {row["day"]: row for row in cases.filter(created_at__gte=period.start, created_at__lt=period.end)
             .annotate(day=TruncDate("created_at")).values("day").annotate(opened=Count("id")).order_by()}
    for row in resolved.annotate(day=TruncDate("resolved_at")).values("day").annotate(resolved=Count("id")).order_by():
        daily.setdefault(row["day"], {"day": row["day"], "opened": 0})["resolved"] = row["resolved"]
    flow = []
    day = timezone.localtime(period.start).date()
    while day < timezone.localtime(period.end).date():
        row = daily.get(day, {})
        flow.append({"day": day.isoformat(), "opened": row.get("opened", 0), "resolved": row.get("resolved", 0)})
        day += dt.timedelta(days=1)
    surveys = Survey.objects.filter(case__in=cases, answered_at__gte=period.start, answered_at__lt=period.end)
    trend = [{"week": row["week"].date().isoformat() if isinstance(row["week"], dt.datetime) else str(row["week"]),
              "csat": round(row["csat"], 2) if row["csat"] is not None else None, "answers": row["answers"]}
             for row in surveys.annotate(week=TruncWeek("answered_at")).values("week")
             .annotate(csat=Avg("csat_score"), answers=Count("id")).order_by("week")]
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "days": days},
        "backlog": {**backlog, "by_status": {status: by_status.get(status, 0) for status in OPEN_STATUSES},
                    "by_priority": {priority: by_priority.get(priority, 0) for priority in CasePriority.values}},
        "age": ages,
        "sla": sla_attainment(cases, period),
        "first_contact_resolution": {"resolved": fcr["total"], "first_contact": fcr["first"],
                                     "percent": _percent(fcr["first"], fcr["total"])},
        "flow": flow,
        "satisfaction": nps_and_csat(surveys),
        "csat_trend": trend,
    }


SLA_GROUPS = {"policy": "sla_policy__name", "priority": "priority", "queue": "queue__name",
              "agent": "assignee__username", "category": "category", "channel": "origin"}


def sla_report(actor, period: Period, group_by: str = "policy") -> dict:
    """Per group: cases resolved in the period, targets met, average working hours to
    resolve, and the open cases breached now."""
    if group_by not in SLA_GROUPS:
        raise ValidationError({"group_by": [_("Group by one of: %(choices)s.") % {"choices": ", ".join(SLA_GROUPS)}]})
    cases = report_cases(actor).filter(sla_policy__isnull=False)
    key = SLA_GROUPS[group_by]
    resolved = cases.filter(resolved_at__gte=period.start, resolved_at__lt=period.end).values(key)
    rows = {}
    for row in resolved.annotate(
            total=Count("id"), met=Count("id", filter=Q(resolution_breached=False)),
            first_met=Count("id", filter=Q(first_response_breached=False)),
            hours=Avg("resolution_used_seconds")).order_by(key):
        rows[row[key]] = {"group": row[key] or "", "resolved": row["total"], "resolution_met": row["met"],
                          "resolution_percent": _percent(row["met"], row["total"]),
                          "first_response_met": row["first_met"],
                          "first_response_percent": _percent(row["first_met"], row["total"]),
                          "average_working_hours": round((row["hours"] or 0) / 3600, 2), "breached_open": 0}
    for row in (cases.filter(status__in=OPEN_STATUSES).filter(Q(first_response_breached=True) |
                                                             Q(resolution_breached=True))
                .values(key).annotate(count=Count("id")).order_by()):
        rows.setdefault(row[key], {"group": row[key] or "", "resolved": 0, "resolution_met": 0,
                                   "resolution_percent": None, "first_response_met": 0,
                                   "first_response_percent": None, "average_working_hours": None,
                                   "breached_open": 0})["breached_open"] = row["count"]
    return {"period": {"start": period.start.isoformat(), "end": period.end.isoformat()}, "group_by": group_by,
            "total": sla_attainment(cases, period), "rows": sorted(rows.values(), key=lambda row: str(row["group"]))}


SATISFACTION_GROUPS = {
    "customer": ("account__name", "contact__full_name"), "agent": ("agent__username",), "product": ("product",),
    "channel": ("channel",),
}


def satisfaction_report(actor, period: Period, group_by: str = "agent", granularity: str = "month") -> dict:
    """CSAT and NPS of surveys answered in the period, per customer, agent, product,
    channel, or per day/week/month (``group_by="period"``)."""
    _require(actor, "service_report", "view")
    surveys = Survey.objects.filter(case__in=visible_cases(actor), answered_at__gte=period.start,
                                    answered_at__lt=period.end)
    if group_by == "period":
        truncate = {"day": TruncDate, "week": TruncWeek, "month": TruncMonth}.get(granularity)
        if truncate is None:
            raise ValidationError({"granularity": [_("Choose day, week or month.")]})
        fields: tuple[str, ...] = ("bucket",)
        grouped = surveys.annotate(bucket=truncate("answered_at")).values("bucket")
    elif group_by in SATISFACTION_GROUPS:
        fields = SATISFACTION_GROUPS[group_by]
        grouped = surveys.values(*fields)
    else:
        raise ValidationError({"group_by": [_("Group by customer, agent, product, channel or period.")]})
    rows = []
    for row in grouped.annotate(**SATISFACTION_AGGREGATES).order_by(*fields):
        values = [row[field] for field in fields]
        label = next((value for value in values if value), None)
        if isinstance(label, (dt.datetime, dt.date)):
            label = (label.date() if isinstance(label, dt.datetime) else label).isoformat()
        elif group_by == "channel" and label in CaseOrigin.values:
            label = str(CaseOrigin(label).label)
        rows.append({"group": label or _("(none)"), **satisfaction_figures(row)})
    return {"period": {"start": period.start.isoformat(), "end": period.end.isoformat()}, "group_by": group_by,
            "total": nps_and_csat(surveys), "rows": rows}
