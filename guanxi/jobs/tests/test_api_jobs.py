"""Background jobs through the REST API: follow state and progress, cancel, and see only
the jobs one may see."""

import datetime

import pytest
from django.utils import timezone

from guanxi.core.models import Role
from guanxi.jobs import services
from guanxi.jobs.models import Job, JobState
from guanxi.jobs.registry import job_handler

pytestmark = pytest.mark.django_db


@job_handler("tests.api_count")
def api_count(job, progress):
    progress.set_total(job.params["n"], message="counting")
    for _ in range(job.params["n"]):
        progress.advance()
    return {"counted": job.params["n"]}


@job_handler("tests.api_broken")
def api_broken(job, progress):
    raise RuntimeError("the source file is unreadable")


def later() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=1)


def test_finished_job_shows_state_progress_percent_and_result(api_client, admin_user):
    job = services.job_enqueue(actor=admin_user, kind="tests.api_count", params={"n": 4}, title="Count to four")
    body = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["state"], body["progress"], body["total"], body["percent"]) == ("succeeded", 4, 4, 100)
    assert body["result"] == {"counted": 4} and body["title"] == "Count to four" and body["error"] == ""
    assert body["created_by"]["id"] == admin_user.pk
    assert body["finished_at"] is not None


def test_failed_job_shows_its_error(api_client, admin_user):
    job = services.job_enqueue(actor=admin_user, kind="tests.api_broken", max_attempts=1)
    body = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert body["state"] == "failed"
    assert "the source file is unreadable" in body["error"]


def test_queued_job_is_cancelled_once(api_client, admin_user):
    # given a job scheduled for later
    job = services.job_enqueue(actor=admin_user, kind="tests.api_count", params={"n": 1}, run_at=later())
    # when it is cancelled
    response = api_client.post(f"/api/v1/jobs/{job.pk}/cancel")
    # then it is cancelled in the answer and in the table, and a second cancel is a conflict
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED
    again = api_client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert again.status_code == 409
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_finished_job_cannot_be_cancelled(api_client, admin_user):
    job = services.job_enqueue(actor=admin_user, kind="tests.api_count", params={"n": 1})
    assert api_client.post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 409
    assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED


def test_list_is_newest_first_filtered_and_limited_to_own_jobs(admin_user, make_user, client_for):
    analyst, marketer = make_user("analyst", Role.ANALYST), make_user("marketer", Role.MARKETER)
    first = services.job_enqueue(actor=analyst, kind="tests.api_count", params={"n": 1})
    second = services.job_enqueue(actor=analyst, kind="tests.api_count", params={"n": 1}, run_at=later())
    theirs = services.job_enqueue(actor=marketer, kind="tests.api_count", params={"n": 1})
    client = client_for(analyst)
    assert [item["id"] for item in client.get("/api/v1/jobs").json()["items"]] == [second.pk, first.pk]
    assert [item["id"] for item in client.get("/api/v1/jobs?state=queued").json()["items"]] == [second.pk]
    assert client.get("/api/v1/jobs?state=sleeping").status_code == 422
    assert client.get(f"/api/v1/jobs/{theirs.pk}").status_code == 404
    assert client.post(f"/api/v1/jobs/{theirs.pk}/cancel").status_code == 404
    admin_view = client_for(admin_user).get("/api/v1/jobs?count=true").json()
    assert admin_view["count"] == 3


def test_starter_may_cancel_own_job_but_a_role_without_change_may_not(make_user, client_for):
    # given a sales rep's job (reps may view their jobs but not change them) and an analyst's
    rep, analyst = make_user("rep", Role.SALES_REP), make_user("analyst", Role.ANALYST)
    rep_job = Job.objects.create(kind="tests.api_count", params={"n": 1}, created_by=rep, run_at=later())
    analyst_job = services.job_enqueue(actor=analyst, kind="tests.api_count", params={"n": 1}, run_at=later())
    # then the rep is refused and the job stays queued
    assert client_for(rep).post(f"/api/v1/jobs/{rep_job.pk}/cancel").status_code == 403
    assert Job.objects.get(pk=rep_job.pk).state == JobState.QUEUED
    # and the analyst cancels their own
    assert client_for(analyst).post(f"/api/v1/jobs/{analyst_job.pk}/cancel").status_code == 200
    assert Job.objects.get(pk=analyst_job.pk).state == JobState.CANCELLED


def test_roles_without_jobs_are_refused(make_user, client_for):
    client = client_for(make_user("agent", Role.SERVICE_AGENT))
    assert client.get("/api/v1/jobs").status_code == 403
    assert client.get("/api/v1/jobs/1").status_code == 403
