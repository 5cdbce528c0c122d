from __future__ import annotations

from django.db.models import QuerySet

from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.jobs.models import Job


def visible_jobs(actor) -> QuerySet[Job]:
    scope = scope_for(actor, "job", "view")
    if scope == "none":
        raise PermissionDenied("may not view jobs")
    queryset = Job.objects.select_related("created_by")
    return queryset if scope == "all" else queryset.filter(created_by_id=actor.pk)


def access_job_by_id(actor, job_id: int) -> Job:
    try:
        return visible_jobs(actor).get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"job {job_id}") from None
