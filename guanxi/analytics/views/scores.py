"""Customer value: the 360° panel (RFM, tier history, lifetime value, churn risk with its
reasons) and the overview page of the value pyramid with this quarter's tier moves."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.analytics.charts import chart
from guanxi.analytics.models import RunStatus, ScoringKind
from guanxi.analytics.selectors import scores as selectors
from guanxi.analytics.services import scoring as scoring_services
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page


def contact_value_panel(request, contact) -> dict | None:
    """The 360° panel; hidden from roles that may not view customer scores."""
    if not can(request.user, "customer_score", "view"):
        return None
    found = selectors.customer_scores(request.user, contact.pk, history=6)
    score = found.score
    clv_run = found.lifetime_value_run
    clv_message = ""
    if (score is None or score.lifetime_value is None) and clv_run is not None and clv_run.status != RunStatus.SUCCEEDED:
        clv_message = clv_run.message
    from guanxi.analytics.views.churn import labelled_reasons

    return {"found": found, "score": score, "recency_days": found.recency_days, "clv_message": clv_message,
            "reasons": labelled_reasons(score.churn_reasons[:3]) if score else []}


def _quarter_window(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime, datetime.date]:
    start, end = selectors.quarter_bounds(day)
    as_time = lambda value: timezone.make_aware(datetime.datetime.combine(value, datetime.time()))  # noqa: E731
    return as_time(start), as_time(end), start


@staff_page
def customer_value(request):
    distribution = selectors.tier_distribution(request.user)
    since, until, quarter_start = _quarter_window(timezone.localdate())
    up = selectors.tier_moves(request.user, since=since, until=until, direction="up")
    down = selectors.tier_moves(request.user, since=since, until=until, direction="down")
    grid = selectors.rfm_grid(request.user)
    labels = [row["label"] for row in distribution]
    return render(request, "analytics/customer_value.html", {
        "distribution": distribution,
        "tier_chart": chart("tier-chart", "bar", _("Customers by value tier"), labels,
                            [(_("Customers"), [row["customers"] for row in distribution])]),
        "spend_chart": chart("spend-chart", "doughnut", _("Spend by value tier"), labels,
                             [(_("Spend"), [row["spend"] for row in distribution])]),
        "moved_up": list(up[:50]), "moved_up_count": up.count(), "moved_down": list(down[:50]),
        "moved_down_count": down.count(), "quarter_start": quarter_start,
        "grid": list(zip(range(5, 0, -1), grid, strict=True)),
        "rfm_run": selectors.latest_run(ScoringKind.RFM),
        "clv_run": selectors.latest_run(ScoringKind.LIFETIME_VALUE),
        "may_recompute": can(request.user, "customer_score", "change"),
    })


@staff_page
@require_POST
def recompute_scores(request):
    """Recompute RFM tiers and lifetime values in the background."""
    if not can(request.user, "customer_score", "change"):
        raise PermissionDenied(_("You may not recompute customer scores."))
    job = scoring_services.scoring_enqueue(actor=request.user, kinds=("rfm", "clv"))
    messages.success(request, _("Scoring started; it runs in the background."))
    return redirect("jobs:detail", job.pk)
