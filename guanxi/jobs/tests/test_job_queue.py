"""The job system: idempotent enqueue, progress, retries, cancel, restart recovery and
a real worker consuming the SQLite-backed queue."""

import datetime
import time

import pytest
from django.utils import timezone

from guanxi.core.errors import Conflict
from guanxi.jobs import services
from guanxi.jobs.models import Job, JobState
from guanxi.jobs.registry import HANDLERS, job_handler

CALLS: list[int] = []


@job_handler("tests.count_to")
def count_to(job, progress):
    progress.set_total(job.params["n"])
    for _ in range(job.params["n"]):
        progress.advance()
    CALLS.append(job.pk)
    return {"counted": job.params["n"]}


@job_handler("tests.flaky")
def flaky(job, progress):
    if job.attempts < 2:
        raise RuntimeError("transient failure")
    return {"ok": True}


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


@pytest.mark.django_db
def test_enqueue_runs_job_and_records_progress_and_result(admin_user):
    job = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 5})
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert (job.progress, job.total, job.percent) == (5, 5, 100)
    assert job.result == {"counted": 5}
    assert CALLS == [job.pk]


@pytest.mark.django_db
def test_same_idempotency_key_gives_the_same_job_and_runs_once(admin_user):
    first = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 1}, idempotency_key="k1")
    second = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 1}, idempotency_key="k1")
    assert first.pk == second.pk
    assert Job.objects.count() == 1 and CALLS == [first.pk]
    assert services.job_run(first.pk) is None  # a duplicate delivery finds it done


@pytest.mark.django_db
def test_failure_is_retried_with_backoff_then_succeeds(admin_user):
    job = services.job_enqueue(actor=admin_user, kind="tests.flaky")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 1 and "transient failure" in job.error
    assert job.run_at > timezone.now()
    Job.objects.filter(pk=job.pk).update(run_at=timezone.now() - datetime.timedelta(seconds=1))
    assert services.jobs_run_due() == 1
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2


@pytest.mark.django_db
def test_unknown_kind_is_refused_and_nothing_stored(admin_user):
    with pytest.raises(ValueError):
        services.job_enqueue(actor=admin_user, kind="tests.nope")
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_cancel_only_while_queued_or_running(admin_user):
    later = timezone.now() + datetime.timedelta(hours=1)
    job = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 1}, run_at=later)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    services.job_cancel(actor=admin_user, job_id=job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED
    with pytest.raises(Conflict):
        services.job_cancel(actor=admin_user, job_id=job.pk)


@pytest.mark.django_db
def test_job_interrupted_by_a_crash_is_run_again_after_restart(admin_user):
    # given a job marked running by a worker that died (no heartbeat for a long time)
    job = Job.objects.create(kind="tests.count_to", params={"n": 3}, state=JobState.RUNNING, attempts=1,
                             heartbeat_at=timezone.now() - datetime.timedelta(minutes=10))
    # when the scheduler sweeps (as it does at start-up and every minute)
    services.jobs_run_due()
    # then the job ran to completion exactly once more
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and CALLS == [job.pk] and job.attempts == 2


@pytest.mark.django_db
def test_a_queued_job_is_sent_again_only_once_its_message_looks_lost(admin_user):
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # a real queue: the message goes out when the transaction commits
    HUEY.flush()
    try:
        job = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 1})
        # just queued: its message is presumably in the queue, the sweep leaves it alone
        assert services.jobs_run_due() == 0 and HUEY.pending_count() == 0
        # still queued long after its time: the message was lost, so it is sent again
        Job.objects.filter(pk=job.pk).update(run_at=timezone.now() - datetime.timedelta(minutes=3))
        assert services.jobs_run_due() == 1
        assert [task.args for task in HUEY.pending()] == [(job.pk,)]
        assert Job.objects.get(pk=job.pk).state == JobState.QUEUED and CALLS == []
    finally:
        HUEY.flush()


@pytest.mark.django_db(transaction=True)
def test_real_worker_consumes_the_sqlite_queue(admin_user):
    from huey.contrib.djhuey import HUEY

    from guanxi.jobs import runner

    HUEY.immediate = False  # the configured SQLite-backed queue, as `guanxi serve` uses it
    HUEY.flush()
    try:
        job = services.job_enqueue(actor=admin_user, kind="tests.count_to", params={"n": 2})
        assert Job.objects.get(pk=job.pk).state == JobState.QUEUED  # nothing ran it inline
        assert HUEY.pending_count() == 1
        runner.start_inprocess_worker(workers=1)
        # Wait in memory, not by polling the table: SQLite's shared-cache test database
        # refuses a writer while another connection reads (no busy timeout applies).
        deadline = time.monotonic() + 20
        while job.pk not in CALLS and time.monotonic() < deadline:
            time.sleep(0.1)
        runner.stop_inprocess_worker()  # graceful: lets the worker record the result first
        job.refresh_from_db()
        assert job.state == JobState.SUCCEEDED and job.result == {"counted": 2}
        # nothing left on the queue for this job (the scheduler may have queued its periodic sweeps)
        left = [t for t in HUEY.pending() if t.name.endswith("run_job") and t.args == (job.pk,)]
        assert left == []
    finally:
        runner.stop_inprocess_worker()
        HUEY.flush()


def test_handlers_registered_by_domains_are_listed():
    assert "tests.count_to" in HANDLERS
