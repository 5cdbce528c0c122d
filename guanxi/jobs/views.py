"""Web pages of the job system: every job the user may see, with state and progress,
refreshed by htmx every 2 s while one of them is queued or running; one job in detail;
cancelling; and the "my running jobs" panel of the home dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import is_htmx, staff_page
from guanxi.core.views.paging import page_window
from guanxi.jobs import selectors, services
from guanxi.jobs.models import JobState

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
HOME_RUNNING = 10


def _any_active(jobs) -> bool:
    return any(job.state in ACTIVE_STATES for job in jobs)


def home_running_panel(request, _record=None) -> dict | None:
    try:
        running = list(selectors.visible_jobs(request.user).filter(created_by_id=request.user.pk,
                                                                    state__in=ACTIVE_STATES)
                       .order_by("-created_at", "-id")[:HOME_RUNNING])
    except PermissionDenied:
        return None
    return {"jobs": running}


@staff_page
def job_list(request):
    state = request.GET.get("state", "")
    state = state if state in JobState.values else ""
    window = page_window(selectors.job_list(request.user, state=state), request.GET.get("page"))
    context = {"window": window, "polling": _any_active(window.items), "state": state,
               "states": JobState.choices, "may_cancel": can(request.user, "job", "change")}
    template = "jobs/includes/job_table.html" if is_htmx(request) else "jobs/list.html"
    return render(request, template, context)


@staff_page
def job_detail(request, job_id: int):
    job = selectors.access_job_by_id(request.user, job_id)
    context = {"job": job, "polling": job.state in ACTIVE_STATES, "may_cancel": can(request.user, "job", "change")}
    template = "jobs/includes/job_card.html" if is_htmx(request) else "jobs/detail.html"
    return render(request, template, context)


@staff_page
@require_POST
def job_cancel(request, job_id: int):
    try:
        job = services.job_cancel(actor=request.user, job_id=job_id)
    except Conflict as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Job “%(title)s” cancelled.") % {"title": job.title or job.kind})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "jobs:list"
    return redirect(target)

