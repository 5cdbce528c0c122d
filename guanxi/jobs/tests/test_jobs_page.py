"""The jobs page: state, progress and messages of background jobs, the 2-second htmx
refresh while one runs, cancelling, and who may see which job."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.core.models import Role
from guanxi.jobs import services
from guanxi.jobs.models import Job, JobState
from guanxi.jobs.registry import job_handler, job_summary

pytestmark = pytest.mark.django_db


@job_handler("tests.page_count")
def page_count(job, progress):
    progress.set_total(4)
    for _step in range(4):
        progress.advance(message="counting")
    return {"counted": 4}


@job_handler("tests.page_fail")
def page_fail(job, progress):
    raise LookupError("the input file is gone")


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def running_job(user, **fields) -> Job:
    """A job caught mid-run, as a worker in another process would leave it."""
    defaults = {"kind": "tests.page_count", "title": "Import contacts.csv", "state": JobState.RUNNING,
                "progress": 40, "total": 100, "message": "Row 40 of 100", "created_by": user,
                "started_at": timezone.now()}
    return Job.objects.create(**{**defaults, **fields})


def test_jobs_page_shows_state_progress_and_times_and_polls_while_running(admin_user):
    done = services.job_enqueue(actor=admin_user, kind="tests.page_count", title="Count to four")
    failed = services.job_enqueue(actor=admin_user, kind="tests.page_fail", title="Broken import")
    running = running_job(admin_user)
    client = client_of(admin_user)
    response = client.get(reverse("jobs:list"))
    html = response.content.decode()
    assert response.status_code == 200
    # each job with its state, progress bar (labelled by the job's title), message and times
    assert f'<progress value="40" max="100" aria-labelledby="job-{running.pk}-title"' in html
    assert "40 of 100 (40 %)" in html and "Row 40 of 100" in html
    assert f'<progress value="100" max="100" aria-labelledby="job-{done.pk}-title"' in html
    assert "Succeeded" in html and "Failed" in html and "the input file is gone" in html
    assert html.index("Import contacts.csv") < html.index("Broken import") < html.index("Count to four")
    # while a job runs, the table refreshes itself every 2 s
    assert 'hx-trigger="every 2s"' in html
    # an htmx refresh gets only the table
    partial = client.get(reverse("jobs:list"), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="job-table"') and "<html" not in partial
    # once nothing runs, the refresh stops
    Job.objects.filter(pk=running.pk).update(state=JobState.SUCCEEDED, progress=100, finished_at=timezone.now())
    partial = client.get(reverse("jobs:list"), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial
    assert Job.objects.get(pk=failed.pk).state == JobState.FAILED


def test_job_detail_shows_result_error_and_polls_while_queued(admin_user):
    done = services.job_enqueue(actor=admin_user, kind="tests.page_count", title="Count to four")
    client = client_of(admin_user)
    html = client.get(reverse("jobs:detail", args=[done.pk])).content.decode()
    assert "counted" in html and "Succeeded" in html and "hx-trigger" not in html
    queued = running_job(admin_user, state=JobState.QUEUED, progress=0, total=0, message="")
    html = client.get(reverse("jobs:detail", args=[queued.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Queued" in html
    assert f'action="{reverse("jobs:cancel", args=[queued.pk])}"' in html


@job_handler("tests.page_big_result")
def page_big_result(job, progress):
    return {"sent": 3, "note": "x" * 500, "rows": [{"secret": f"row-{index}"} for index in range(40)],
            "totals": {"a": 1, "b": 2}}


@job_summary("tests.page_summarized")
def page_summarized_summary(result):
    return f"{len(result['people'])} people greeted"


@job_handler("tests.page_summarized")
def page_summarized(job, progress):
    return {"people": ["Wang", "Li"]}


def test_a_large_result_reads_as_one_line_with_the_whole_result_folded(admin_user):
    big = services.job_enqueue(actor=admin_user, kind="tests.page_big_result", title="Big result")
    summarized = services.job_enqueue(actor=admin_user, kind="tests.page_summarized", title="Greet")
    client = client_of(admin_user)
    html = client.get(reverse("jobs:detail", args=[big.pk])).content.decode()
    # generic: short values as they are, long ones cut, lists and mappings counted
    summary = html.split('<p id="job-result-summary">')[1].split("</p>")[0]
    # (in the stored order of the keys: PostgreSQL's jsonb keeps them its own way)
    assert set(summary.split(" · ")) == {"sent: 3", f"note: {'x' * 59}…", "rows: 40 items", "totals: 2 entries"}
    # the whole result is still there, folded
    full = html.split('<details id="job-result-full">')[1].split("</details>")[0]
    assert "row-39" in full and "x" * 500 in full and "row-39" not in html.replace(full, "")
    # a domain's own summary, on the detail and in the list
    assert '<p id="job-result-summary">2 people greeted</p>' in client.get(
        reverse("jobs:detail", args=[summarized.pk])).content.decode()
    listing = client.get(reverse("jobs:list")).content.decode()
    assert "<small>2 people greeted</small>" in listing and "row-39" not in listing


def test_cancel_stops_a_running_job_and_refuses_a_finished_one(admin_user):
    running = running_job(admin_user)
    client = client_of(admin_user)
    assert client.get(reverse("jobs:cancel", args=[running.pk])).status_code == 405
    response = client.post(reverse("jobs:cancel", args=[running.pk]), {"next": reverse("jobs:list")})
    assert response.status_code == 302 and response["Location"] == reverse("jobs:list")
    running.refresh_from_db()
    assert running.state == JobState.CANCELLED and running.finished_at is not None
    # cancelling again is refused with the reason, and the job stays as it is
    response = client.post(reverse("jobs:cancel", args=[running.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("jobs:list")  # never redirected off the site
    html = client.get(response["Location"]).content.decode()
    assert "Only queued or running jobs can be cancelled." in html
    running.refresh_from_db()
    assert running.state == JobState.CANCELLED


def test_people_see_their_own_jobs_only_and_roles_without_jobs_get_403(admin_user, make_user):
    analyst = make_user("analyst", Role.ANALYST)
    theirs = running_job(admin_user, title="Admin's export")
    mine = running_job(analyst, title="My segment refresh")
    client = client_of(analyst)
    html = client.get(reverse("jobs:list")).content.decode()
    assert "My segment refresh" in html and "Admin's export" not in html
    assert client.get(reverse("jobs:detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("jobs:cancel", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == JobState.RUNNING
    # the home page lists the analyst's own running job
    home = client.get(reverse("core:home")).content.decode()
    assert "My running jobs" in home and f'href="{reverse("jobs:detail", args=[mine.pk])}"' in home
    # a contact-center agent has no jobs page
    agent_client = client_of(make_user("agent", Role.CONTACT_CENTER_AGENT))
    response = agent_client.get(reverse("jobs:list"))
    assert response.status_code == 403 and "You do not have access to this" in response.content.decode()
    assert "My running jobs" not in agent_client.get(reverse("core:home")).content.decode()
