"""Reads of saved reports and running report definitions for a reader.

A report belongs to its owner; "own" also covers reports shared with the reader's team.
Team and territory scopes follow the owner's team and territory. Whatever report is run,
it counts only the records its reader may see (``AnalysisContext``).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from guanxi.analytics import report_builder
from guanxi.analytics.analyses import AnalysisContext
from guanxi.analytics.models import Report, ReportSchedule
from guanxi.analytics.selectors.visibility import account_scope, customer_scope
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import User, Visibility
from guanxi.core.selectors import scope_q


def visible_reports(actor: User, action: str = "view") -> QuerySet[Report]:
    scope = scope_for(actor, "report", action)
    if scope == Visibility.NONE:
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} reports")
    shared = Q(shared_with_team_id=actor.team_id) if action == "view" and actor.team_id else None
    condition = scope_q(actor, scope, owner="owner", team="owner__team", territory="owner__territory",
                        extra_own=shared)
    queryset = Report.objects.select_related("owner", "shared_with_team")
    return queryset if condition is None else queryset.filter(condition)


def access_report_by_id(actor: User, report_id: int, action: str = "view") -> Report:
    try:
        return visible_reports(actor, action).get(pk=report_id)
    except (Report.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_reports(actor, "view").filter(pk=report_id).exists():
            raise PermissionDenied(f"may not {action} report {report_id}") from None
        raise NotFound(f"report {report_id}") from None


def report_list(actor: User, *, query: str = "") -> QuerySet[Report]:
    queryset = visible_reports(actor)
    if query:
        queryset = queryset.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return queryset.order_by("name", "id")


def reader_context(actor: User, action: str = "view") -> AnalysisContext:
    return AnalysisContext(actor=actor, customers=customer_scope(actor, action), accounts=account_scope(actor, action),
                           today=timezone.localdate())


def run_definition(actor: User, source: str, definition: dict, *, action: str = "view",
                   allow_large: bool = False) -> tuple[report_builder.CheckedDefinition, report_builder.ReportResult]:
    """Check and run a definition for ``actor``. ValidationError for a bad definition,
    ``ReportTooLarge`` when it would read too much for a page."""
    checked = report_builder.check_definition(source, definition)
    return checked, report_builder.run_report(checked, reader_context(actor, action), allow_large=allow_large)


def run_saved_report(actor: User, report_id: int, *, action: str = "view", allow_large: bool = False):
    report = access_report_by_id(actor, report_id, action)
    checked, result = run_definition(actor, report.source, report.definition, action=action, allow_large=allow_large)
    return report, checked, result


def dashboard_reports(actor: User, limit: int = 6) -> list[Report]:
    """Reports pinned to the dashboard by the reader, or by a colleague who shared them with
    the reader's team (a role that sees every report does not get every pinned one)."""
    if scope_for(actor, "report", "view") == Visibility.NONE:
        return []
    mine_or_team = Q(owner_id=actor.pk) | (Q(shared_with_team_id=actor.team_id) if actor.team_id else Q(pk__in=[]))
    return list(visible_reports(actor).filter(mine_or_team, on_dashboard=True).order_by("name", "id")[:limit])


def report_schedules(actor: User, report_id: int) -> list[ReportSchedule]:
    report = access_report_by_id(actor, report_id)
    return list(report.schedules.order_by("next_run_at", "id"))
