"""REST routes of the job system: follow and cancel background jobs. Jobs are started by
the features that need them (imports, exports, reports), not through a generic route."""


from typing import Any

from ninja import Field, ModelSchema, Query, Router, Schema
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination
from guanxi.jobs import selectors, services
from guanxi.jobs.models import Job, JobState

router = Router(tags=["jobs"])


class StarterRef(Schema):
    id: int
    username: str = Field(description="Login name.")


class JobOut(ModelSchema):
    percent: int = Field(description="Progress in percent (0 when the total is unknown, 100 when done).")
    result: dict[str, Any] = Field(description="What the job produced, or its checkpoint while running.")
    created_by: StarterRef | None = Field(description="Who started the job; null for the system.")

    class Meta:
        model = Job
        fields = ["id", "kind", "title", "state", "progress", "total", "message", "error", "attempts",
                  "max_attempts", "run_at", "created_at", "started_at", "finished_at"]


@router.get("", response={200: list[JobOut], **READ_ERRORS}, summary="List jobs",
            description="Jobs you may see (your own unless your role sees more), newest first.")
@paginate(ApiListPagination)
def job_list(request, state: JobState | None = Query(None, description="Only jobs in this state."),
             kind: str = Query("", description="Only jobs of this kind, e.g. core.import_contacts.")):
    return selectors.job_list(request.auth, state=state or "", kind=kind)


@router.get("/{job_id}", response={200: JobOut, **READ_ERRORS}, summary="Read a job",
            description="State, progress, percent, latest message, result and error.")
def job_detail(request, job_id: int):
    return selectors.access_job_by_id(request.auth, job_id)


@router.post("/{job_id}/cancel", response={200: JobOut, **WRITE_ERRORS}, summary="Cancel a job",
             description="Only queued or running jobs can be cancelled; others answer 409.")
def job_cancel(request, job_id: int):
    return services.job_cancel(actor=request.auth, job_id=job_id)
