"""Reads of background jobs, with the access check inside: a job belongs to whoever
started it ("own"), wider scopes follow that user's team and territory."""

from __future__ import annotations

from django.db.models import QuerySet

from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.selectors import scope_q
from guanxi.jobs.models import Job


def visible_jobs(actor, action: str = "view") -> QuerySet[Job]:
    scope = scope_for(actor, "job", action)
    if scope == "none":
        raise PermissionDenied(f"may not {action} jobs")
    queryset = Job.objects.select_related("created_by")
    condition = scope_q(actor, scope, owner="created_by", team="created_by__team",
                        territory="created_by__territory")
    return queryset if condition is None else queryset.filter(condition)


def access_job_by_id(actor, job_id: int, action: str = "view") -> Job:
    """The job if ``actor`` may ``action`` it. PermissionDenied when the role may not
    ``action`` jobs at all, or may see this one but not ``action`` it; NotFound when the
    actor may not know it exists."""
    allowed = visible_jobs(actor, action)
    try:
        return allowed.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_jobs(actor, "view").filter(pk=job_id).exists():
            raise PermissionDenied(f"may not {action} job {job_id}") from None
        raise NotFound(f"job {job_id}") from None


def job_list(actor, *, state: str = "", kind: str = "") -> QuerySet[Job]:
    queryset = visible_jobs(actor)
    if state:
        queryset = queryset.filter(state=state)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("-created_at", "-id")
