"""Refreshing the warehouse: from the command line, a page, the API or the scheduler."""

from __future__ import annotations

from django.utils.translation import gettext as _

from guanxi.analytics import warehouse
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import User
from guanxi.jobs import services as job_services
from guanxi.jobs.models import Job

REFRESH_JOB = "analytics.refresh_warehouse"


def require_refresh_right(actor: User | None) -> None:
    """``None`` is the system (scheduler, command line run by the operator)."""
    if actor is not None and not can(actor, "warehouse", "change"):
        raise PermissionDenied(_("You may not refresh the warehouse."))


def warehouse_refresh(*, actor: User | None, full: bool = False,
                      progress: warehouse.ProgressCallback | None = None) -> warehouse.RefreshResult:
    """Bring the warehouse up to date: only what changed since the last refresh, or
    everything with ``full`` (also done automatically when the schema changed)."""
    require_refresh_right(actor)
    return warehouse.refresh(full=full, progress=progress)


def warehouse_refresh_enqueue(*, actor: User | None, full: bool = False, idempotency_key: str | None = None) -> Job:
    """Refresh in the background; the job page shows progress table by table."""
    require_refresh_right(actor)
    title = _("Rebuild the warehouse") if full else _("Refresh the warehouse")
    return job_services.job_enqueue(actor=actor, kind=REFRESH_JOB, params={"full": full}, title=title,
                                    idempotency_key=idempotency_key)
