"""Forecasts and sales reports, computed by the database in grouped aggregates.

Every figure is in the base currency (``Opportunity.amount_base``) and over the
opportunities the actor may see (``selectors.visible_opportunities``). No report loops
over deals in Python: one grouped scan of a covering index answers a forecast, whatever the
number of deals (``benchmarks/pipeline_forecast.py`` times it at a million).

- pipeline: open deals not omitted from the forecast
- weighted: Σ amount × probability of open deals not omitted
- commit: open deals in the commit category; best case: commit + best case
- won / lost: deals closed in the period (by close date)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from guanxi.core.models import Team, Territory, User
from guanxi.sales import selectors
from guanxi.sales.models import (
    ForecastCategory, Opportunity, Pipeline, StageKind,
)

PERIODS = ("month", "quarter")
GROUPS = {"owner": "owner_id", "team": "team_id", "territory": "territory_id"}
ZERO = Decimal("0")


def period_key(close_month: int, period: str) -> str:
    """``2026-03`` (month) or ``2026-Q1`` (quarter) of a YYYYMM close month."""
    year, month = divmod(close_month, 100)
    return f"{year}-{month:02d}" if period == "month" else f"{year}-Q{(month - 1) // 3 + 1}"


def period_bounds(key: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of ``2026-03`` or ``2026-Q1``."""
    year = int(key[:4])
    if "Q" in key:
        first_month = (int(key[-1]) - 1) * 3 + 1
        months = 3
    else:
        first_month, months = int(key[5:7]), 1
    start = datetime.date(year, first_month, 1)
    end_month = first_month + months
    end = datetime.date(year + (end_month > 12), (end_month - 1) % 12 + 1, 1) - datetime.timedelta(days=1)
    return start, end


def _names(group_by: str | None, ids) -> dict:
    ids = [pk for pk in ids if pk is not None]
    if not group_by or not ids:
        return {}
    if group_by == "owner":
        return {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    model = Team if group_by == "team" else Territory
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))


@dataclass(frozen=True)
class ForecastQuery:
    period: str = "month"
    group_by: str | None = None     # owner, team, territory or None (company)
    start: datetime.date | None = None
    end: datetime.date | None = None
    pipeline_id: int | None = None
    owner_id: int | None = None


def forecast(actor: User, query: ForecastQuery | None = None) -> list[dict]:
    """Weighted pipeline, commit, best case and closed business per period (and per rep,
    team or territory), from close dates — one grouped query."""
    query = query or ForecastQuery()
    if query.group_by and query.group_by not in GROUPS:
        raise ValueError(f"unknown grouping {query.group_by!r}")
    deals = selectors.visible_opportunities(actor)
    if query.start:
        deals = deals.filter(close_month__gte=query.start.year * 100 + query.start.month)
        if query.start.day != 1:
            deals = deals.filter(close_date__gte=query.start)
    if query.end:
        deals = deals.filter(close_month__lte=query.end.year * 100 + query.end.month)
        if (query.end + datetime.timedelta(days=1)).day != 1:
            deals = deals.filter(close_date__lte=query.end)
    if query.pipeline_id:
        deals = deals.filter(pipeline_id=query.pipeline_id)
    if query.owner_id:
        deals = deals.filter(owner_id=query.owner_id)
    # One grouped scan of a covering index, in the index's order: totals per rep, close
    # month and deal state (closed? won? category?) — and team and territory, so that those
    # groupings read the same index instead of sorting every deal. The few aggregated rows
    # of each group are then folded into the figures below (months into quarters, reps into
    # teams, states into figures); no deal is ever looped over in Python.
    group_field = GROUPS.get(query.group_by or "")
    if group_field:
        keys = ["owner_id", "close_month", "is_closed", "is_won", "forecast_category", "team_id", "territory_id"]
    else:
        keys = ["close_month", "is_closed", "is_won", "forecast_category"]
    money = DecimalField(max_digits=24, decimal_places=2)
    rows = (deals.values(*keys)
            .annotate(deals=Count("*"), total=Sum("amount_base"),  # COUNT(*): no column outside the covering index
                      weighted_x100=Sum(F("amount_base") * F("probability"), output_field=money))
            .order_by(*keys).values_list(*keys, "deals", "total", "weighted_x100"))
    group_index = keys.index(group_field) if group_field else None
    month_index, closed_index, won_index, category_index = (keys.index(name) for name in (
        "close_month", "is_closed", "is_won", "forecast_category"))
    folded: dict[tuple, dict] = {}
    for row in rows:
        key = (period_key(row[month_index], query.period), row[group_index] if group_field else None)
        figures = folded.get(key)
        if figures is None:
            figures = folded[key] = {"open_count": 0, "pipeline": ZERO, "weighted": ZERO, "commit": ZERO,
                                     "best_case": ZERO, "won": ZERO, "won_count": 0, "lost_count": 0}
        count, total, weighted_x100 = row[-3], row[-2] or ZERO, row[-1] or ZERO
        category = row[category_index]
        if row[won_index]:
            figures["won"] += total
            figures["won_count"] += count
        elif row[closed_index]:
            figures["lost_count"] += count
        elif category != ForecastCategory.OMITTED:
            figures["open_count"] += count
            figures["pipeline"] += total
            figures["weighted"] += weighted_x100 / 100
            if category in (ForecastCategory.COMMIT, ForecastCategory.BEST_CASE):
                figures["best_case"] += total
            if category == ForecastCategory.COMMIT:
                figures["commit"] += total
    names = _names(query.group_by, {group_id for _period, group_id in folded} if group_field else ())
    cent = Decimal("0.01")
    result = []
    for (period, group_id), figures in sorted(folded.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
        result.append({
            "period": period, "group_id": group_id, "group": names.get(group_id, "") if group_field else "",
            **{name: value.quantize(cent) if isinstance(value, Decimal) else value
               for name, value in figures.items()}})
    return result


def win_rates(actor: User, *, group_by: str | None = None, start: datetime.date | None = None,
              end: datetime.date | None = None) -> list[dict]:
    """Historical win rate of closed deals (by count and by value), per group."""
    if group_by and group_by not in GROUPS:
        raise ValueError(f"unknown grouping {group_by!r}")
    deals = selectors.visible_opportunities(actor).filter(is_closed=True)
    if start:
        deals = deals.filter(close_date__gte=start)
    if end:
        deals = deals.filter(close_date__lte=end)
    money = DecimalField(max_digits=20, decimal_places=2)
    aggregates = {"closed": Count("id"), "won": Count("id", filter=Q(is_won=True)),
                  "closed_value": Coalesce(Sum("amount_base"), Value(ZERO), output_field=money),
                  "won_value": Coalesce(Sum("amount_base", filter=Q(is_won=True)), Value(ZERO), output_field=money)}
    field = GROUPS.get(group_by or "")
    rows = list(deals.values(field).annotate(**aggregates).order_by(field)) if field else [
        deals.aggregate(**aggregates)]
    names = _names(group_by, {row[field] for row in rows} if field else ())
    return [{"group_id": row.get(field) if field else None, "group": names.get(row.get(field), "") if field else "",
             "closed": row["closed"], "won": row["won"],
             "win_rate": round(row["won"] / row["closed"], 4) if row["closed"] else None,
             "won_value": Decimal(row["won_value"]).quantize(Decimal("0.01")),
             "value_win_rate": round(float(row["won_value"]) / float(row["closed_value"]), 4)
             if row["closed_value"] else None} for row in rows]


def stage_conversion(actor: User, pipeline: Pipeline) -> list[dict]:
    """For each open stage: how many deals reached it (or a later stage), how many went
    further, and how many of those were won in the end. Each deal's furthest stage comes
    from its stage history; the counts are one aggregate over that."""
    open_stages = list(pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id"))
    furthest = (selectors.visible_opportunities(actor).filter(pipeline=pipeline)
                .annotate(furthest=Max("stage_changes__to_stage__position",
                                       filter=~Q(stage_changes__to_stage__kind=StageKind.LOST))))
    aggregates = {}
    for stage in open_stages:
        aggregates[f"reached_{stage.pk}"] = Count("id", filter=Q(furthest__gte=stage.position))
        aggregates[f"advanced_{stage.pk}"] = Count("id", filter=Q(furthest__gt=stage.position))
        aggregates[f"won_{stage.pk}"] = Count("id", filter=Q(furthest__gte=stage.position, is_won=True))
    counted = furthest.aggregate(**aggregates) if aggregates else {}
    rows = []
    for stage in open_stages:
        reached = counted[f"reached_{stage.pk}"]
        advanced, won = counted[f"advanced_{stage.pk}"], counted[f"won_{stage.pk}"]
        rows.append({"stage_id": stage.pk, "stage": stage.name, "position": stage.position, "reached": reached,
                     "advanced": advanced, "won": won,
                     "conversion": round(advanced / reached, 4) if reached else None,
                     "win_rate_from_here": round(won / reached, 4) if reached else None})
    return rows


def deal_report(actor: User, *, owner_id: int | None = None, pipeline_id: int | None = None,
                closing_within_days: int | None = None):
    """Open deals with stage, probability, days left, days in stage and how often they
    moved; callers paginate."""
    deals = selectors.visible_opportunities(actor).filter(is_closed=False)
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    if pipeline_id:
        deals = deals.filter(pipeline_id=pipeline_id)
    if closing_within_days is not None:
        deals = deals.filter(close_date__lte=timezone.localdate() + datetime.timedelta(days=closing_within_days))
    return (deals.select_related("stage", "owner", "account")
            .annotate(moves=Count("stage_changes"), last_move=Max("stage_changes__changed_at"))
            .order_by("close_date", "id"))


def quota_attainment(actor: User, *, on: datetime.date | None = None, user_id: int | None = None) -> list[dict]:
    """Quotas whose period covers ``on`` (today) against business won in the period — the
    actual of all quotas in one grouped query."""
    on = on or timezone.localdate()
    quotas = list(selectors.visible_quotas(actor).filter(period_start__lte=on, period_end__gte=on)
                  .select_related("user").order_by("user__username"))
    if user_id:
        quotas = [quota for quota in quotas if quota.user_id == user_id]
    if not quotas:
        return []
    start, end = min(quota.period_start for quota in quotas), max(quota.period_end for quota in quotas)
    won = Opportunity.objects.filter(is_won=True, owner_id__in=[quota.user_id for quota in quotas],
                                     close_date__gte=start, close_date__lte=end)
    conditions = {f"quota_{quota.pk}": Coalesce(Sum("amount_base", filter=Q(
        owner_id=quota.user_id, close_date__gte=quota.period_start, close_date__lte=quota.period_end)), Value(ZERO))
        for quota in quotas}
    actuals = won.aggregate(**conditions)
    from guanxi.sales.services.common import to_base

    rows = []
    for quota in quotas:
        actual = Decimal(actuals[f"quota_{quota.pk}"] or 0).quantize(Decimal("0.01"))
        target = to_base(quota.amount, quota.currency)
        rows.append({"quota_id": quota.pk, "user_id": quota.user_id, "user": str(quota.user),
                     "period": quota.period, "period_start": quota.period_start, "period_end": quota.period_end,
                     "target": target, "actual": actual,
                     "attainment": round(float(actual / target), 4) if target else None})
    return rows


def competitor_win_loss(actor: User) -> list[dict]:
    """Per competitor: closed deals they were in, won by us, lost (and lost to them)."""
    from guanxi.sales.models import Competitor

    selectors.competitors(actor)
    deals = selectors.visible_opportunities(actor).filter(is_closed=True)
    ids = deals.values("pk")
    rows = (Competitor.objects.annotate(
        deals=Count("opportunities", filter=Q(opportunities__in=ids), distinct=True),
        won=Count("opportunities", filter=Q(opportunities__in=ids, opportunities__is_won=True), distinct=True),
        lost=Count("opportunities", filter=Q(opportunities__in=ids, opportunities__is_won=False), distinct=True),
        lost_to_them=Count("deals_won_against_us", filter=Q(deals_won_against_us__in=ids), distinct=True))
        .order_by("name"))
    return [{"competitor_id": row.pk, "competitor": row.name, "deals": row.deals, "won": row.won, "lost": row.lost,
             "lost_to_them": row.lost_to_them,
             "win_rate": round(row.won / row.deals, 4) if row.deals else None} for row in rows]
