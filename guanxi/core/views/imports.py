"""Web pages: importing and exporting contacts and accounts.

Import: upload → map columns (the default guesses preselected) → a dry run as a
background job → the report of bad rows (file, row, column, message) → the import
itself as a background job, all-or-nothing or skipping bad rows. Export: the list
filters plus a format; CSV streams at once, XLSX is written by a background job.
Only roles with the import / export right on the object (access matrix) get in;
everything goes through ``importing`` / ``exporting`` / ``tasks``.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guanxi.core import exporting, importing, tasks
from guanxi.core.access import can
from guanxi.core.forms import AccountFilterForm, ContactFilterForm
from guanxi.core.import_forms import MODE_SKIP_INVALID, ExportForm, MappingForm, StartImportForm, UploadForm
from guanxi.core.models import ImportRunState
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.jobs.models import JobState
from guanxi.jobs.selectors import access_job_by_id

ACTIVE_RUN_STATES = (ImportRunState.PENDING, ImportRunState.RUNNING)
STARTABLE_STATES = (ImportRunState.CHECKED, ImportRunState.INVALID)


def _allowed(user, action: str) -> list[str]:
    allowed = [name for name in importing.OBJECT_TYPES if can(user, name, action)]
    if not allowed:
        raise PermissionDenied(_("You may not %(action)s contacts or accounts.") % {"action": action})
    return allowed


def _chosen(request, allowed: list[str], key: str) -> str:
    chosen = request.POST.get(key) or request.GET.get("object") or allowed[0]
    if chosen in importing.OBJECT_TYPES and chosen not in allowed:
        raise PermissionDenied(_("You may not do this with these records."))
    return chosen if chosen in allowed else allowed[0]


# ======================================================================================
# Import
# ======================================================================================
@staff_page
@require_http_methods(["GET", "POST"])
def import_start(request):
    importable = _allowed(request.user, "import")
    object_type = _chosen(request, importable, "object_type")
    form = UploadForm(request.POST or None, request.FILES or None, importable=importable,
                      initial={"object_type": object_type})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = importing.import_run_create(
                    actor=request.user, object_type=form.cleaned_data["object_type"], file_name=upload.name,
                    chunks=upload.chunks(), encoding=form.cleaned_data["encoding"], sheet=form.cleaned_data["sheet"])
            except importing.ImportFileError as error:
                for issue in error.issues:
                    form.add_error("file", issue.message)
            else:
                return redirect("core:import_mapping", run_id=run.pk)
        status = 400
    return render(request, "core/import_start.html", {
        "form": form, "runs": importing.import_run_list(request.user)}, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def import_mapping(request, run_id: int):
    run = importing.access_import_run_by_id(request.user, run_id)
    importing.check_import_permission(request.user, run.object_type)
    if run.state in (ImportRunState.RUNNING, ImportRunState.SUCCEEDED) or not run.stored_path:
        return redirect("core:import_detail", run_id=run.pk)
    preview = importing.import_run_preview(run)
    form = MappingForm(request.POST or None, preview=preview)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                importing.import_run_set_mapping(actor=request.user, run=run, mapping=form.mapping())
            except importing.ImportFileError as error:
                form.add_issue_errors(error.issues)
            else:
                tasks.start_import_job(actor=request.user, run=run, dry_run=True)
                return redirect("core:import_detail", run_id=run.pk)
        status = 400
    columns = [(form[MappingForm.field_name(position)], preview.samples[position])
               for position in range(len(preview.headers))]
    return render(request, "core/import_mapping.html", {"run": run, "form": form, "columns": columns},
                  status=status)


def _detail(request, run, start_form: StartImportForm | None = None, status: int = 200):
    issues = run.issues or []
    return render(request, "core/import_detail.html", {
        "run": run,
        "errors": [issue for issue in issues if issue.get("level") == importing.Level.ERROR],
        "warnings": [issue for issue in issues if issue.get("level") == importing.Level.WARNING],
        "notes": [issue for issue in issues if issue.get("level") == importing.Level.NOTE],
        "polling": run.state in ACTIVE_RUN_STATES,
        "may_start": run.state in STARTABLE_STATES and bool(run.stored_path),
        "start_form": start_form or StartImportForm(),
        "would_create": run.options.get("would_create"), "would_update": run.options.get("would_update"),
    }, status=status)


@staff_page
@require_GET
def import_detail(request, run_id: int):
    return _detail(request, importing.access_import_run_by_id(request.user, run_id))


@staff_page
@require_POST
def import_run(request, run_id: int):
    run = importing.access_import_run_by_id(request.user, run_id)
    form = StartImportForm(request.POST)
    if not form.is_valid():
        return _detail(request, run, form, status=400)
    if run.state not in STARTABLE_STATES or not run.stored_path:
        form.add_error(None, _("This import cannot be started now: it is %(state)s.")
                       % {"state": run.get_state_display().lower()})
        return _detail(request, run, form, status=409)
    job = tasks.start_import_job(actor=request.user, run=run, dry_run=False,
                                 skip_invalid=form.cleaned_data["mode"] == MODE_SKIP_INVALID)
    messages.success(request, _("The import of %(file)s runs in the background (job #%(job)d).")
                     % {"file": run.file_name, "job": job.pk})
    return redirect("core:import_detail", run_id=run.pk)


# ======================================================================================
# Export
# ======================================================================================
@staff_page
@require_GET
def export(request):
    exportable = _allowed(request.user, "export")
    object_type = _chosen(request, exportable, "object")
    filter_form_class = ContactFilterForm if object_type == "contact" else AccountFilterForm
    export_form = ExportForm(request.GET if "download" in request.GET else None, exportable=exportable,
                             initial={"object": object_type, "format": "csv"})
    filter_form = filter_form_class(request.GET, actor=request.user)
    status = 200
    if "download" in request.GET:
        if export_form.is_valid() and filter_form.is_valid():
            file_format = export_form.cleaned_data["format"]
            try:
                filters = filter_form.to_filters(request.GET)
                if file_format == "xlsx":
                    job = tasks.start_export_job(actor=request.user, object_type=object_type,
                                                 file_format=file_format, filters=filters)
                    return redirect("core:export_detail", job_id=job.pk)
                prepared = exporting.start_export(actor=request.user, object_type=object_type, filters=filters,
                                                  file_format=file_format, ip_address=client_ip(request))
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    for problem in problems:
                        filter_form.add_error(name if name in filter_form.fields else None, problem)
            else:
                response = StreamingHttpResponse(exporting.csv_chunks(prepared), content_type="text/csv; charset=utf-8")
                response["Content-Disposition"] = \
                    f'attachment; filename="{exporting.export_filename(object_type, file_format)}"'
                response["X-Export-Count"] = str(prepared.count)
                return response
        status = 400
    return render(request, "core/export.html", {
        "export_form": export_form, "form": filter_form, "object_type": object_type,
        "active_filters": any(value for key, value in request.GET.items() if key not in ("object", "format",
                                                                                         "download"))},
        status=status)


def _export_job(request, job_id: int):
    job = access_job_by_id(request.user, job_id)
    if job.kind != tasks.EXPORT_JOB or (job.created_by_id != request.user.pk and not request.user.is_superuser):
        raise Http404("export job")
    return job


@staff_page
@require_GET
def export_detail(request, job_id: int):
    job = _export_job(request, job_id)
    return render(request, "core/export_detail.html", {
        "job": job, "polling": job.state in (JobState.QUEUED, JobState.RUNNING),
        "ready": job.state == JobState.SUCCEEDED and Path(job.result.get("path", "")).is_file()})


@staff_page
@require_GET
def export_download(request, job_id: int):
    job = _export_job(request, job_id)
    file_path = Path(job.result.get("path", "")) if job.state == JobState.SUCCEEDED else None
    if file_path is None or not file_path.is_file() or file_path.parent != tasks.exports_dir():
        raise Http404("export file")
    return FileResponse(open(file_path, "rb"), as_attachment=True,
                        filename=job.result.get("file_name") or file_path.name)


urlpatterns = [
    path("import/", import_start, name="import_start"),
    path("import/<int:run_id>/", import_detail, name="import_detail"),
    path("import/<int:run_id>/mapping/", import_mapping, name="import_mapping"),
    path("import/<int:run_id>/run/", import_run, name="import_run"),
    path("export/", export, name="export"),
    path("export/<int:job_id>/", export_detail, name="export_detail"),
    path("export/<int:job_id>/download/", export_download, name="export_download"),
]
