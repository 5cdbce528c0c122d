"""Background jobs of the core domain: imports and exports started from the web pages.

Both are thin: they call ``importing.import_file`` / ``exporting.start_export`` and
report progress through the job. An import job re-run after a worker crash continues
its ImportRun from the last committed chunk (the checkpoint is in the run, written with
the rows), so it neither duplicates nor loses rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from guanxi.core import exporting, importing, selectors
from guanxi.core.models import ImportRun, ImportRunState
from guanxi.jobs.models import Job
from guanxi.jobs.registry import job_handler

IMPORT_JOB = "core.import"
EXPORT_JOB = "core.export"


def exports_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _give_up(job: Job) -> None:
    """A refused file stays refused: no retry (the job runner reads ``max_attempts``)."""
    Job.objects.filter(pk=job.pk).update(max_attempts=job.attempts)


@job_handler(IMPORT_JOB)
def import_job(job: Job, progress) -> dict:
    """params: ``run_id``, ``dry_run`` (bool), ``skip_invalid`` (bool), optional ``chunk_size``."""
    run = ImportRun.objects.select_related("actor").get(pk=job.params["run_id"])
    run.job_id = job.pk
    run.save(update_fields=["job_id"])
    labels = {"check": _("Checked %(done)d of %(total)d rows"), "import": _("Imported %(done)d of %(total)d rows")}

    def report(phase: str, done: int, total: int) -> None:
        progress.job.total = total
        progress.update(done, message=labels[phase] % {"done": done, "total": total},
                        checkpoint={"import_run": run.pk, "phase": phase} if phase == "import" else None)

    try:
        result = importing.import_file(
            actor=run.actor, path=run.stored_path, object_type=run.object_type, file_label=run.file_name,
            mapping=run.mapping, dry_run=bool(job.params.get("dry_run")),
            skip_invalid=bool(job.params.get("skip_invalid")), run=run, progress=report,
            chunk_size=int(job.params.get("chunk_size") or importing.DEFAULT_CHUNK_SIZE))
    except importing.ImportFileError:
        _give_up(job)
        raise
    run.refresh_from_db()
    if run.state == ImportRunState.INVALID and not job.params.get("dry_run"):
        _give_up(job)
        raise importing.ImportFileError([importing.Issue(run.file_name, 0, "", run.message)])
    if run.state == ImportRunState.SUCCEEDED and run.stored_path:
        Path(run.stored_path).unlink(missing_ok=True)  # the customer data is in the database now
        ImportRun.objects.filter(pk=run.pk).update(stored_path="")
    return {"import_run": run.pk, "state": run.state, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "refused_rows": result.error_rows, "rows": result.rows}


def filters_from_params(object_type: str, params: dict):
    """Rebuild list filters from a job's JSON parameters."""
    values = dict(params or {})
    values["custom"] = tuple(tuple(pair) for pair in values.get("custom") or ())
    known = selectors.ContactFilters.__dataclass_fields__ if object_type == "contact" \
        else selectors.AccountFilters.__dataclass_fields__
    values = {name: value for name, value in values.items() if name in known}
    return (selectors.ContactFilters if object_type == "contact" else selectors.AccountFilters)(**values)


@job_handler(EXPORT_JOB)
def export_job(job: Job, progress) -> dict:
    """params: ``object_type``, ``format`` (csv/xlsx), ``filters`` (list filter values)."""
    object_type, file_format = job.params["object_type"], job.params["format"]
    export = exporting.start_export(actor=job.created_by, object_type=object_type, file_format=file_format,
                                    filters=filters_from_params(object_type, job.params.get("filters")))
    progress.set_total(export.count, _("Exporting %(count)d records") % {"count": export.count})
    path = exports_dir() / f"job-{job.pk}.{file_format}"
    written = exporting.write_file(export, path, file_format,
                                   progress=lambda done, total: progress.update(done))
    return {"path": str(path), "count": written, "format": file_format,
            "file_name": exporting.export_filename(object_type, file_format)}


# ======================================================================================
# Starting the jobs (the web pages call these)
# ======================================================================================
def start_import_job(*, actor, run: ImportRun, dry_run: bool, skip_invalid: bool = False) -> Job:
    """Queue a check (dry run) or the import of ``run``; a double click gives the same job."""
    from guanxi.jobs.services import job_enqueue

    importing.check_import_permission(actor, run.object_type)
    mode = "check" if dry_run else ("skip-invalid" if skip_invalid else "all-or-nothing")
    mapping_key = hashlib.sha256(repr(sorted(run.mapping.items())).encode()).hexdigest()[:16]
    title = (_("Check %(file)s") if dry_run else _("Import %(file)s")) % {"file": run.file_name}
    return job_enqueue(actor=actor, kind=IMPORT_JOB, title=title[:200],
                       params={"run_id": run.pk, "dry_run": dry_run, "skip_invalid": skip_invalid},
                       idempotency_key=f"{IMPORT_JOB}:{run.pk}:{mode}:{mapping_key}")


def start_export_job(*, actor, object_type: str, file_format: str, filters) -> Job:
    from guanxi.jobs.services import job_enqueue

    filter_values = {name: value for name, value in vars(filters).items() if value not in ("", None, ())} \
        if filters is not None else {}
    title = _("Export %(objects)s as %(format)s") % {
        "objects": _("contacts") if object_type == "contact" else _("accounts"), "format": file_format.upper()}
    return job_enqueue(actor=actor, kind=EXPORT_JOB, title=title,
                       params={"object_type": object_type, "format": file_format, "filters": filter_values})
