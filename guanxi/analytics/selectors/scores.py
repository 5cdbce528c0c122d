"""Reads of customer scores: one customer's RFM, tier history, lifetime value and churn risk
(for the 360° page and the API), the tier moves of a period, and the latest scoring runs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from guanxi.analytics.models import CustomerScore, ScoringKind, ScoringRun, TierChange
from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import Contact, User, ValueTier

#: Best tier first; leaving the pyramid ranks below every tier.
TIER_RANK = {ValueTier.PLATINUM: 0, ValueTier.GOLD: 1, ValueTier.SILVER: 2, ValueTier.BRONZE: 3, "": 4}


def require_score_view(actor: User) -> None:
    if not can(actor, "customer_score", "view"):
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not view customer scores")


@dataclass
class CustomerScores:
    contact: Contact
    score: CustomerScore | None
    tier_changes: list[TierChange]
    lifetime_value_run: ScoringRun | None
    churn_run: ScoringRun | None

    @property
    def recency_days(self) -> int | None:
        if self.score is None or self.score.last_purchase_on is None:
            return None
        reference = self.score.rfm_scored_at.date() if self.score.rfm_scored_at else datetime.date.today()
        return (reference - self.score.last_purchase_on).days


def customer_scores(actor: User, contact_id: int, history: int = 10) -> CustomerScores:
    """Everything the analytics domain knows about one customer the actor may see."""
    require_score_view(actor)
    contact = core_selectors.access_contact_by_id(actor, contact_id)
    score = CustomerScore.objects.filter(contact=contact).first()
    changes = list(TierChange.objects.filter(contact=contact).order_by("-changed_at", "-id")[:history])
    return CustomerScores(contact, score, changes, latest_run(ScoringKind.LIFETIME_VALUE),
                          latest_run(ScoringKind.CHURN))


def latest_run(kind: str) -> ScoringRun | None:
    return ScoringRun.objects.filter(kind=kind).order_by("-started_at", "-id").first()


def scoring_runs(actor: User, kind: str = "", limit: int = 20) -> list[ScoringRun]:
    require_score_view(actor)
    queryset = ScoringRun.objects.all()
    if kind:
        queryset = queryset.filter(kind=kind)
    return list(queryset.order_by("-started_at", "-id")[:limit])


def _rank(field: str) -> Case:
    return Case(*[When(**{field: tier}, then=Value(rank)) for tier, rank in TIER_RANK.items()],
                default=Value(4), output_field=IntegerField())


def tier_moves(actor: User, *, since: datetime.datetime, until: datetime.datetime,
               direction: str = "up") -> QuerySet[TierChange]:
    """Moves between value tiers in [since, until) of customers the actor may see:
    ``up`` (to a better tier, a first tier included), ``down`` or ``all``."""
    require_score_view(actor)
    if direction not in ("up", "down", "all"):
        raise ValueError(f"direction must be up, down or all, not {direction!r}")
    visible = core_selectors.visible_contacts(actor)
    queryset = (TierChange.objects.filter(changed_at__gte=since, changed_at__lt=until, contact__in=visible)
                .annotate(from_rank=_rank("from_tier"), to_rank=_rank("to_tier"))
                .select_related("contact").order_by("-changed_at", "-id"))
    if direction == "up":
        queryset = queryset.filter(to_rank__lt=F("from_rank"))
    elif direction == "down":
        queryset = queryset.filter(to_rank__gt=F("from_rank"))
    return queryset


def quarter_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First day of ``day``'s quarter and first day of the next."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = datetime.date(day.year, first_month, 1)
    end = datetime.date(day.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, end


def _visible_scores(actor: User) -> QuerySet[CustomerScore]:
    require_score_view(actor)
    from guanxi.analytics.selectors.visibility import customer_scope

    scope = customer_scope(actor)
    queryset = CustomerScore.objects.all()
    return queryset if scope.everything else queryset.filter(contact__in=core_selectors.visible_contacts(actor))


def tier_distribution(actor: User) -> list[dict]:
    """Customers, spend and lifetime value per tier (best tier first), of the customers the
    actor may see."""
    from django.db.models import Avg, Count, Sum

    rows = {row["value_tier"]: row for row in _visible_scores(actor).exclude(value_tier="").values("value_tier")
            .annotate(customers=Count("id"), spend=Sum("monetary"), lifetime_value=Avg("lifetime_value"))}
    return [{"tier": tier, "label": ValueTier(tier).label, **{key: rows.get(tier, {}).get(key) or 0 for key in (
        "customers", "spend", "lifetime_value")}} for tier in ValueTier.values]


def rfm_grid(actor: User) -> list[list[int]]:
    """Customers by recency score (rows, 5 first) and frequency score (columns, 1 first)."""
    from django.db.models import Count

    counts = {(row["r"], row["f"]): row["customers"] for row in _visible_scores(actor).exclude(r=None)
              .values("r", "f").annotate(customers=Count("id"))}
    return [[counts.get((r, f), 0) for f in range(1, 6)] for r in range(5, 0, -1)]
