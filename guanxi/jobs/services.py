"""Enqueue, run, retry, cancel and recover jobs. The ``Job`` table is the durable truth;
the Huey queue only carries job IDs (see ``models``)."""

from __future__ import annotations

import datetime
import logging
import time
import traceback

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.realtime import push, user_group
from guanxi.jobs.models import Job, JobState
from guanxi.jobs.registry import HANDLERS, running_job

logger = logging.getLogger(__name__)
STALE_AFTER = datetime.timedelta(minutes=2)   # a running job without heartbeat this long is re-run
RETRY_BACKOFF_SECONDS = (10, 60, 300)


class Progress:
    """Progress reporter handed to job handlers; writes at most twice a second."""

    def __init__(self, job: Job, min_interval: float = 0.5):
        self.job = job
        self.min_interval = min_interval
        self._last_write = 0.0

    def set_total(self, total: int, message: str = "") -> None:
        self.job.total = max(0, int(total))
        self._write(force=True, message=message)

    def advance(self, amount: int = 1, message: str = "") -> None:
        self.job.progress += amount
        self._write(message=message)

    def update(self, progress: int, message: str = "", checkpoint: dict | None = None) -> None:
        """Set absolute progress; ``checkpoint`` is merged into ``job.result`` so a re-run can resume."""
        self.job.progress = progress
        if checkpoint:
            self.job.result = {**(self.job.result or {}), **checkpoint}
        self._write(message=message, force=bool(checkpoint))

    def _write(self, force: bool = False, message: str = "") -> None:
        if message:
            self.job.message = message[:500]
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        Job.objects.filter(pk=self.job.pk).update(
            progress=self.job.progress, total=self.job.total, message=self.job.message,
            result=self.job.result, heartbeat_at=timezone.now())
        _announce(self.job)


def _announce(job: Job) -> None:
    if job.created_by_id:
        push(user_group(job.created_by_id), "job.progress",
             {"id": job.pk, "state": job.state, "progress": job.progress, "total": job.total,
              "percent": job.percent, "message": job.message})


def _dispatch(job: Job) -> None:
    from huey.contrib.djhuey import HUEY

    from guanxi.jobs.tasks import run_job

    if HUEY.immediate:  # run now, or at the sweep that finds it due
        if job.run_at <= timezone.now():
            job_run(job.pk)
        return
    if job.run_at > timezone.now():
        run_job.schedule((job.pk,), eta=job.run_at)
    else:
        run_job(job.pk)


def job_enqueue(*, actor, kind: str, params: dict | None = None, title: str = "",
                idempotency_key: str | None = None, run_at: datetime.datetime | None = None,
                max_attempts: int = 3) -> Job:
    """Create the job row and hand its ID to the queue once the transaction commits.

    The same ``idempotency_key`` returns the existing job: a double click or a retried
    request never starts the work twice.
    """
    if kind not in HANDLERS:
        raise ValueError(f"no handler registered for job kind {kind!r}")
    if actor is not None and not can(actor, "job", "create"):
        raise PermissionDenied(_("You may not start background jobs."))
    with transaction.atomic():
        if idempotency_key:
            existing = Job.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        job = Job.objects.create(kind=kind, title=title or kind, params=params or {},
                                 idempotency_key=idempotency_key, run_at=run_at or timezone.now(),
                                 max_attempts=max_attempts, created_by=actor if getattr(actor, "pk", None) else None)
        if not _immediate():
            transaction.on_commit(lambda: _dispatch(job))
    if _immediate():  # tests and one-off commands: run inline, inside the caller's transaction
        _dispatch(job)
    return job


def _immediate() -> bool:
    from huey.contrib.djhuey import HUEY

    return HUEY.immediate


def _claim(job_id: int) -> Job | None:
    """Move a queued (or stale running) job to running; None if someone else has it."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED, run_at__lte=now).update(
            state=JobState.RUNNING, started_at=now, heartbeat_at=now)
        if not claimed:
            claimed = Job.objects.filter(pk=job_id, state=JobState.RUNNING,
                                         heartbeat_at__lt=now - STALE_AFTER).update(heartbeat_at=now)
        if not claimed:
            return None
        Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)
    return Job.objects.get(pk=job_id)


def job_run(job_id: int) -> Job | None:
    """Run one job to completion in this thread. Safe to call twice for the same job."""
    job = _claim(job_id)
    if job is None:
        return None
    handler = HANDLERS.get(job.kind)
    progress = Progress(job)
    running = running_job.set(job)
    try:
        if handler is None:
            raise LookupError(f"no handler registered for job kind {job.kind!r}")
        result = handler(job, progress) or {}
    except Exception as error:  # the job records the failure; the worker keeps running
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        job.refresh_from_db()
        retry = job.attempts < job.max_attempts and not isinstance(error, (LookupError, PermissionDenied))
        job.error = "".join(traceback.format_exception_only(type(error), error)).strip()[:5000]
        job.finished_at = None if retry else timezone.now()
        job.state = JobState.QUEUED if retry else JobState.FAILED
        if retry:
            delay = RETRY_BACKOFF_SECONDS[min(job.attempts - 1, len(RETRY_BACKOFF_SECONDS) - 1)]
            job.run_at = timezone.now() + datetime.timedelta(seconds=delay)
        job.save(update_fields=["error", "finished_at", "state", "run_at"])
        _announce(job)
        return job
    finally:
        running_job.reset(running)
    job.refresh_from_db()
    if job.state == JobState.CANCELLED:
        return job
    job.state = JobState.SUCCEEDED
    job.result = {**(job.result or {}), **result}
    job.progress = max(job.progress, job.total)
    job.finished_at = timezone.now()
    job.error = ""
    job.save(update_fields=["state", "result", "progress", "finished_at", "error"])
    _announce(job)
    return job


def job_cancel(*, actor, job_id: int) -> Job:
    from guanxi.jobs.selectors import access_job_by_id

    job = access_job_by_id(actor, job_id, "change")
    updated = Job.objects.filter(pk=job.pk, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
        state=JobState.CANCELLED, finished_at=timezone.now())
    if not updated:
        raise Conflict(_("Only queued or running jobs can be cancelled."))
    job.refresh_from_db()
    _announce(job)
    return job


def jobs_run_due(limit: int = 100) -> int:
    """Dispatch queued jobs whose time has come and re-run stale ones.

    Called at worker start-up and every minute by the scheduler: this is what makes jobs
    survive a restart or a lost queue message. A queued job normally has its message in the
    queue already, so with a real queue it is sent again only once it has waited
    ``STALE_AFTER`` past its time (its message was lost, or the queue was emptied); running
    the jobs inline (``HUEY.immediate``), the sweep is what runs due jobs, at once.
    """
    from huey.contrib.djhuey import HUEY

    now = timezone.now()
    lost_after = datetime.timedelta(0) if HUEY.immediate else STALE_AFTER
    due = list(Job.objects.filter(state=JobState.QUEUED, run_at__lte=now - lost_after)
               .values_list("pk", flat=True)[:limit])
    stale = list(Job.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
                 .values_list("pk", flat=True)[:limit])
    for job in Job.objects.filter(pk__in=due + stale):
        _dispatch(job)
    return len(due) + len(stale)


def jobs_purge_finished(*, days: int) -> int:
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _by_model = Job.objects.filter(state__in=[JobState.SUCCEEDED, JobState.CANCELLED],
                                            finished_at__lt=cutoff).delete()
    return deleted


def today_key() -> str:
    return timezone.localdate().isoformat()
