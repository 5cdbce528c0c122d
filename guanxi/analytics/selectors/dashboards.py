"""The dashboard of each role: key figures, the charts of the analyses that role works
with, and the reports pinned to it — all counting only what the reader may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.analytics import report_builder, warehouse
from guanxi.analytics.analyses import ANALYSES, AnalysisResult, number
from guanxi.analytics.models import Report
from guanxi.analytics.selectors.analyses import parameters_form
from guanxi.analytics.selectors.reports import dashboard_reports, reader_context
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import Role, User

ROLE_WIDGETS = {
    Role.ADMIN: ("sales", "value-by-segment", "service", "campaign-roi"),
    Role.SALES_MANAGER: ("sales", "product-ranking", "key-accounts"),
    Role.SALES_REP: ("sales", "key-accounts"),
    Role.MARKETER: ("campaign-roi", "value-by-segment", "channel-preference"),
    Role.SERVICE_AGENT: ("service",),
    Role.CONTACT_CENTER_AGENT: ("contact-center",),
    Role.SUPERVISOR: ("contact-center", "service"),
    Role.ANALYST: ("sales", "value-by-segment", "new-vs-existing", "service"),
}


@dataclass
class Widget:
    key: str
    title: str
    result: AnalysisResult


@dataclass
class PinnedReport:
    report: Report
    result: report_builder.ReportResult | None
    chart: dict | None
    message: str = ""


@dataclass
class Dashboard:
    role: str
    kpis: list[tuple[str, str]] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    reports: list[PinnedReport] = field(default_factory=list)
    warehouse_missing: bool = False


def require_dashboard(actor: User) -> None:
    if not can(actor, "dashboard", "view"):
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not view dashboards")


KPI_SQL = """
    SELECT (SELECT COUNT(*) FROM dim_customer c WHERE TRUE{customer_scope}) AS customers,
           (SELECT COALESCE(SUM(f.amount_base), 0) FROM fact_order_line f
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{order_scope}) AS revenue_recent,
           (SELECT COALESCE(SUM(f.amount_base), 0) FROM fact_order_line f
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?
               AND CAST(f.ordered_at AS DATE) <= ?{order_scope}) AS revenue_before,
           (SELECT COUNT(*) FROM fact_case k
             WHERE k.status NOT IN ('resolved', 'closed'){case_scope}) AS open_cases,
           (SELECT COUNT(*) FROM customer_score s JOIN dim_customer c ON c.customer_id = s.customer_id
             WHERE s.churn_risk >= 0.5{customer_scope}) AS at_risk"""


def _kpis(context) -> list[tuple[str, str]]:
    today = context.today
    recent, before = today - datetime.timedelta(days=30), today - datetime.timedelta(days=60)
    customer_sql, customer_params = context.scope("c.customer_id")
    order_sql, order_params = context.scope("f.customer_id", "f.account_id")
    case_sql, case_params = context.scope("k.customer_id", "k.account_id")
    sql = KPI_SQL.format(customer_scope=customer_sql, order_scope=order_sql, case_scope=case_sql)
    params = [*customer_params, recent, *order_params, before, recent, *order_params, *case_params, *customer_params]
    row = context.rows(sql, params)[0]
    change = ((number(row["revenue_recent"]) - number(row["revenue_before"])) / number(row["revenue_before"])
              if number(row["revenue_before"]) else None)
    return [(_("Customers"), f"{row['customers']:,}"),
            (_("Revenue, last 30 days"), f"{number(row['revenue_recent']):,.2f}"),
            (_("Against the 30 days before"), f"{change:+.0%}" if change is not None else "—"),
            (_("Open cases"), f"{row['open_cases']:,}"),
            (_("Customers at risk of churning"), f"{row['at_risk']:,}")]


def dashboard_for(actor: User) -> Dashboard:
    require_dashboard(actor)
    role = Role.ADMIN if actor.is_superuser else actor.role
    board = Dashboard(role=role)
    try:
        context = reader_context(actor)
    except PermissionDenied:  # a role that sees no customers sees no figures
        return board
    try:
        board.kpis = _kpis(context)
    except warehouse.WarehouseNotBuilt:
        board.warehouse_missing = True
        return board
    for key in ROLE_WIDGETS.get(role, ()):
        analysis = ANALYSES.get(key)
        if analysis is None or not analysis.available():
            continue
        form = parameters_form(analysis, None)
        if not form.is_valid():
            continue
        try:
            result = analysis.run(context, form.cleaned_data)
        except PermissionDenied:
            continue
        if result.chart is not None:
            result.chart = {**result.chart, "id": f"widget-{key}"}
        board.widgets.append(Widget(key, str(analysis.title), result))
    for report in dashboard_reports(actor):
        try:
            checked = report_builder.check_definition(report.source, report.definition)
            result = report_builder.run_report(checked, context)
        except report_builder.ReportTooLarge:
            board.reports.append(PinnedReport(report, None, None, _("Too large for the dashboard; open the report.")))
            continue
        except Exception as error:  # a report that no longer fits the warehouse must not break the page
            board.reports.append(PinnedReport(report, None, None, str(error)))
            continue
        chart = report_builder.chart_for(result, report.chart_type, report.name)
        if chart is not None:
            chart = {**chart, "id": f"report-{report.pk}"}
        board.reports.append(PinnedReport(report, result, chart))
    return board
