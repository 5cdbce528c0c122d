"""Huey tasks of the job system: run one job, and sweep due and stale jobs every minute."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from guanxi.jobs import services
from guanxi.jobs.registry import job_handler


@db_task()
def run_job(job_id: int) -> None:
    services.job_run(job_id)


@db_periodic_task(crontab(minute="*"))
def sweep_jobs() -> None:
    services.jobs_run_due()


@job_handler("jobs.purge_finished")
def purge_finished(job, progress) -> dict:
    """Delete finished jobs older than ``params["days"]`` (default 30); failed ones are kept."""
    return {"deleted": services.jobs_purge_finished(days=int(job.params.get("days", 30)))}


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_finished_daily() -> None:
    services.job_enqueue(actor=None, kind="jobs.purge_finished", title="Purge finished jobs",
                         idempotency_key=f"jobs.purge_finished:{services.today_key()}")
