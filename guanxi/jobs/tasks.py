"""Huey tasks of the job system: run one job, and sweep due and stale jobs every minute."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from guanxi.jobs import services


@db_task()
def run_job(job_id: int) -> None:
    services.job_run(job_id)


@db_periodic_task(crontab(minute="*"))
def sweep_jobs() -> None:
    services.jobs_run_due()
