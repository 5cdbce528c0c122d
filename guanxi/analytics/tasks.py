"""Background work of the analytics domain: thin job handlers and the schedule.

- every hour (minute 7): an incremental warehouse refresh;
- every Sunday at 02:30: a full rebuild (it also picks up edits to append-only logs and
  exchange-rate changes, which the incremental refresh does not look for).
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from django.utils import timezone

from guanxi.analytics.warehouse.schema import TABLES
from guanxi.analytics.services import warehouse as warehouse_services
from guanxi.jobs.registry import job_handler


@job_handler(warehouse_services.REFRESH_JOB)
def refresh_warehouse(job, progress) -> dict:
    progress.set_total(len(TABLES))
    finished: set[str] = set()

    def report(table: str, done: int, total: int | None) -> None:
        if total is not None and done >= total and table not in finished:
            finished.add(table)
            progress.update(len(finished), message=table)

    result = warehouse_services.warehouse_refresh(actor=job.created_by, full=bool(job.params.get("full")),
                                                  progress=report)
    return result.as_dict()


@db_periodic_task(crontab(minute="7"))
def refresh_warehouse_hourly() -> None:
    stamp = timezone.now().strftime("%Y-%m-%dT%H")
    warehouse_services.warehouse_refresh_enqueue(actor=None, idempotency_key=f"{warehouse_services.REFRESH_JOB}:{stamp}")


@db_periodic_task(crontab(day_of_week="0", hour="2", minute="30"))
def rebuild_warehouse_weekly() -> None:
    day = timezone.localdate().isoformat()
    warehouse_services.warehouse_refresh_enqueue(actor=None, full=True,
                                                 idempotency_key=f"{warehouse_services.REFRESH_JOB}:full:{day}")
