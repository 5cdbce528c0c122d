"""The sales home and the forecast pages: weighted pipeline, commit and best case by period
and by rep, team or territory; win rates; stage conversion; the deal report; quotas."""

from __future__ import annotations

import datetime

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.sales import forecasting, selectors

GROUPINGS = (("", _("Whole company")), ("owner", _("Per rep")), ("team", _("Per team")),
             ("territory", _("Per territory")))


@staff_page
def sales_home(request):
    """The sales hub: this quarter's numbers and the way to every sales page."""
    user = request.user
    today = timezone.localdate()
    quarter_start = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    quarter_key = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    quarter_end = forecasting.period_bounds(quarter_key)[1]
    numbers = None
    if can(user, "opportunity", "view"):
        rows = forecasting.forecast(user, forecasting.ForecastQuery(period="quarter", start=quarter_start,
                                                                    end=quarter_end))
        numbers = rows[0] if rows else None
    links = [(name, label) for name, label, object_name in (
        ("sales:lead_list", _("Leads"), "lead"), ("sales:pipeline_board", _("Pipeline board"), "opportunity"),
        ("sales:opportunity_list", _("Opportunities"), "opportunity"), ("sales:quote_list", _("Quotes"), "quote"),
        ("sales:order_list", _("Orders"), "order"), ("sales:contract_list", _("Contracts"), "contract"),
        ("sales:calendar", _("Calendar"), "activity"), ("sales:forecast", _("Forecast and reports"), "opportunity"),
        ("sales:product_list", _("Products and price lists"), "product"),
        ("sales:territory_list", _("Territories"), "territory"), ("sales:quota_list", _("Quotas"), "quota"),
        ("sales:expense_list", _("Expenses"), "expense"), ("sales:commission_list", _("Commissions"), "commission"),
        ("sales:knowledge_list", _("Knowledge board"), "knowledge_post"),
        ("sales:web_form_snippet", _("Web-to-lead form"), "lead"),
    ) if can(user, object_name, "view")]
    return render(request, "sales/home.html", {"numbers": numbers, "quarter": quarter_key, "links": links})


@staff_page
def forecast(request):
    user = request.user
    period = request.GET.get("period") if request.GET.get("period") in forecasting.PERIODS else "month"
    group_by = request.GET.get("group") if request.GET.get("group") in forecasting.GROUPS else None
    today = timezone.localdate()
    try:
        start = datetime.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = today.replace(day=1)
    try:
        end = datetime.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        end = (start + datetime.timedelta(days=190)).replace(day=1) - datetime.timedelta(days=1)
    rows = forecasting.forecast(user, forecasting.ForecastQuery(period=period, group_by=group_by, start=start,
                                                                end=end))
    totals = {key: sum((row[key] for row in rows), 0) for key in ("pipeline", "weighted", "commit", "best_case",
                                                                   "won")}
    pipeline = selectors.pipelines(user).filter(is_default=True).first() or selectors.pipelines(user).first()
    try:
        attainment = forecasting.quota_attainment(user)
    except PermissionDenied:
        attainment = None
    return render(request, "sales/forecast.html", {
        "rows": rows, "totals": totals, "period": period, "group_by": group_by or "", "groupings": GROUPINGS,
        "start": start, "end": end, "win_rates": forecasting.win_rates(user, group_by=group_by),
        "conversion": forecasting.stage_conversion(user, pipeline) if pipeline else [],
        "attainment": attainment,
    })


@staff_page
def deal_report(request):
    user = request.user
    within = request.GET.get("within")
    window = page_window(forecasting.deal_report(
        user, closing_within_days=int(within) if within and within.isdigit() else None,
        owner_id=user.pk if request.GET.get("mine") == "1" else None), request.GET.get("page"))
    return render(request, "sales/deal_report.html", {"window": window, "within": within or ""})
