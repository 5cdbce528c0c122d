"""The report builder and saved reports: build with a preview, save, share with a team,
open, export (CSV, XLSX, PDF), schedule by e-mail, and run in the background when a
report would read too much for a page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.analytics import report_builder, warehouse
from guanxi.analytics.forms import ReportBuilderForm, ScheduleForm, SourceForm, initial_from_definition
from guanxi.analytics.models import Report
from guanxi.analytics.selectors import reports as selectors
from guanxi.analytics.services import reports as services
from guanxi.analytics.table_export import FORMATS
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.jobs.models import JobState
from guanxi.jobs.selectors import access_job_by_id


def _source(key: str | None) -> report_builder.Source | None:
    source = report_builder.SOURCES.get(key or "")
    return source if source is not None and source.available() else None


def _run_for_page(actor, checked, chart_type: str, title: str) -> dict:
    """Preview or report result for a page: the result, the too-large notice, or the
    not-built notice."""
    try:
        result = report_builder.run_report(checked, selectors.reader_context(actor))
    except report_builder.ReportTooLarge as error:
        return {"too_large": error}
    except warehouse.WarehouseNotBuilt:
        return {"not_built": True}
    return {"result": result, "chart": report_builder.chart_for(result, chart_type, title)}


@staff_page
def report_list(request):
    reports = selectors.report_list(request.user, query=request.GET.get("q", "").strip())
    return render(request, "analytics/report_list.html", {
        "window": page_window(reports, request.GET.get("page")), "query": request.GET.get("q", ""),
        "may_create": can(request.user, "report", "create")})


def _builder(request, report: Report | None):
    if report is None and not can(request.user, "report", "create"):
        raise PermissionDenied(_("You may not create reports."))
    source = _source(request.POST.get("source") or request.GET.get("source") or (report.source if report else None))
    source_form = SourceForm(initial={"source": source.key if source else None})
    context = {"report": report, "source_form": source_form, "source": source}
    if source is None:
        return render(request, "analytics/report_builder.html", context)
    if request.method == "POST":
        form = ReportBuilderForm(source, request.user, request.POST, saving=True)
        if form.is_valid() and form.checked() is not None:
            data = {"name": form.cleaned_data["name"], "description": form.cleaned_data["description"],
                    "source": source.key, "definition": form.definition(),
                    "chart_type": form.cleaned_data["chart_type"], "on_dashboard": form.cleaned_data["on_dashboard"],
                    "shared_with_team_id": form.cleaned_data["shared_with_team"].pk
                    if form.cleaned_data["shared_with_team"] else None}
            try:
                if report is None:
                    saved = services.report_create(actor=request.user, data=data)
                else:
                    saved = services.report_update(actor=request.user, report_id=report.pk, data=data)
            except ValidationError as error:
                for key, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(key if key in form.fields else None, problem)
            else:
                messages.success(request, _("Report “%(name)s” saved.") % {"name": saved.name})
                return redirect("analytics:report_detail", saved.pk)
    elif report is not None and "preview" not in request.GET:
        form = ReportBuilderForm(source, request.user, initial={**initial_from_definition(report)}, saving=True)
    elif request.GET.get("preview"):
        form = ReportBuilderForm(source, request.user, request.GET, saving=True)
        form.fields["name"].required = False  # a preview needs no name yet
        if form.is_valid():
            checked = form.checked()
            if checked is not None:
                context.update(_run_for_page(request.user, checked, form.cleaned_data["chart_type"], _("Preview")))
    else:
        form = ReportBuilderForm(source, request.user, saving=True)
    context["form"] = form
    return render(request, "analytics/report_builder.html", context)


@staff_page
def report_create(request):
    return _builder(request, None)


@staff_page
def report_edit(request, report_id: int):
    return _builder(request, selectors.access_report_by_id(request.user, report_id, "change"))


@staff_page
def report_detail(request, report_id: int):
    report = selectors.access_report_by_id(request.user, report_id)
    context = {"report": report, "formats": FORMATS, "schedule_form": ScheduleForm(),
               "may_change": _may(request.user, report, "change"),
               "may_delete": _may(request.user, report, "delete"),
               "may_export": _may(request.user, report, "export"),
               "schedules": list(report.schedules.order_by("next_run_at", "id")),
               "background_jobs": _background_jobs(request.user, report)}
    job_id = request.GET.get("job")
    if job_id:
        job = access_job_by_id(request.user, job_id)
        stored = (job.result or {}).get("report")
        if job.kind == services.RUN_JOB and job.state == JobState.SUCCEEDED and stored:
            result = report_builder.ReportResult(
                [report_builder.ResultColumn(key, label, kind) for key, label, kind in stored["columns"]],
                stored["rows"], stored["truncated"], stored["scanned"])
            context.update(result=result, chart=report_builder.chart_for(result, report.chart_type, report.name),
                           from_job=job)
            return render(request, "analytics/report_detail.html", context)
    try:
        checked = report_builder.check_definition(report.source, report.definition)
    except ValidationError as error:
        context["broken"] = error.messages
        return render(request, "analytics/report_detail.html", context)
    context.update(_run_for_page(request.user, checked, report.chart_type, report.name))
    return render(request, "analytics/report_detail.html", context)


def _background_jobs(actor, report: Report) -> list:
    """The reader's recent background runs and exports of this report."""
    from guanxi.jobs.models import Job

    return list(Job.objects.filter(created_by=actor, kind__in=[services.RUN_JOB, services.EXPORT_JOB],
                                   params__report_id=report.pk).order_by("-created_at", "-id")[:5])


def _may(actor, report: Report, action: str) -> bool:
    try:
        selectors.access_report_by_id(actor, report.pk, action)
    except (PermissionDenied, selectors.NotFound):
        return False
    return True


@staff_page
def report_download(request, report_id: int, export_format: str):
    if export_format not in FORMATS:
        raise Http404(export_format)
    try:
        exported = services.report_export(actor=request.user, report_id=report_id, export_format=export_format)
    except report_builder.ReportTooLarge:
        job = services.report_export_enqueue(actor=request.user, report_id=report_id, export_format=export_format)
        messages.info(request, _("The report is large, so it is exported in the background."))
        return redirect("jobs:detail", job.pk)
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
    return response


@staff_page
@require_POST
def report_run_background(request, report_id: int):
    job = services.report_run_enqueue(actor=request.user, report_id=report_id)
    messages.info(request, _("The report runs in the background; its result opens from the job page."))
    return redirect("jobs:detail", job.pk)


@staff_page
def report_job_file(request, job_id: int):
    """The file a background export wrote, for whoever may see the job."""
    job = access_job_by_id(request.user, job_id)
    if job.kind != services.EXPORT_JOB or job.state != JobState.SUCCEEDED:
        raise Http404(f"job {job_id} has no file")
    path = services.export_folder() / f"job-{job.pk}.{job.params['format']}"
    if not path.exists():
        raise Http404(f"job {job_id} file is gone")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.result.get("file_name", path.name),
                        content_type=job.result.get("content_type"))


@staff_page
@require_POST
def report_delete(request, report_id: int):
    report = selectors.access_report_by_id(request.user, report_id, "delete")
    services.report_delete(actor=request.user, report_id=report.pk)
    messages.success(request, _("Report “%(name)s” deleted.") % {"name": report.name})
    return redirect("analytics:report_list")


@staff_page
@require_POST
def report_schedule_create(request, report_id: int):
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            services.report_schedule_create(actor=request.user, report_id=report_id, data=form.cleaned_data)
        except ValidationError as error:
            for problems in error.message_dict.values():
                for problem in problems:
                    messages.error(request, problem)
        else:
            messages.success(request, _("The report will be e-mailed on schedule."))
    else:
        for problems in form.errors.values():
            for problem in problems:
                messages.error(request, problem)
    return redirect("analytics:report_detail", report_id)


@staff_page
@require_POST
def report_schedule_delete(request, report_id: int, schedule_id: int):
    services.report_schedule_delete(actor=request.user, schedule_id=schedule_id)
    messages.success(request, _("Schedule removed."))
    return redirect("analytics:report_detail", report_id)

