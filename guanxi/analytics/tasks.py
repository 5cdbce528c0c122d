"""Background work of the analytics domain: thin job handlers and the schedule.

- every hour (minute 7): an incremental warehouse refresh;
- every Sunday at 02:30: a full rebuild (it also picks up edits to append-only logs and
  exchange-rate changes, which the incremental refresh does not look for);
- every day at 03:30: a refresh, then RFM tiers, lifetime values and churn risk (the churn
  model is retrained when it is a week old);
- every 15 minutes: e-mail the scheduled reports that are due.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.analytics.warehouse.schema import TABLES
from guanxi.analytics.services import churn as churn_services
from guanxi.analytics.services import reports as report_services
from guanxi.analytics.services import scoring as scoring_services
from guanxi.analytics.services import warehouse as warehouse_services
from guanxi.jobs.registry import job_handler, job_summary


@job_handler(warehouse_services.REFRESH_JOB)
def refresh_warehouse(job, progress) -> dict:
    progress.set_total(len(TABLES))
    finished: set[str] = set()

    def report(table: str, done: int, total: int | None) -> None:
        if total is not None and done >= total and table not in finished:
            finished.add(table)
            progress.update(len(finished), message=table)

    result = warehouse_services.warehouse_refresh(actor=job.created_by, full=bool(job.params.get("full")),
                                                  progress=report)
    return result.as_dict()


@db_periodic_task(crontab(minute="7"))
def refresh_warehouse_hourly() -> None:
    stamp = timezone.now().strftime("%Y-%m-%dT%H")
    warehouse_services.warehouse_refresh_enqueue(actor=None, idempotency_key=f"{warehouse_services.REFRESH_JOB}:{stamp}")


@db_periodic_task(crontab(day_of_week="0", hour="2", minute="30"))
def rebuild_warehouse_weekly() -> None:
    day = timezone.localdate().isoformat()
    warehouse_services.warehouse_refresh_enqueue(actor=None, full=True,
                                                 idempotency_key=f"{warehouse_services.REFRESH_JOB}:full:{day}")


@job_handler(scoring_services.SCORING_JOB)
def score_customers(job, progress) -> dict:
    kinds = [kind for kind in scoring_services.SCORING_KINDS if kind in job.params.get("kinds", [])]
    steps = kinds + (["refresh"] if job.params.get("refresh") else [])
    progress.set_total(len(steps))
    outcome = {}
    actor = job.created_by
    if job.params.get("refresh"):
        progress.update(0, message="warehouse")
        warehouse_services.warehouse_refresh(actor=None)
        progress.advance()
    runners = {"rfm": scoring_services.rfm_scores_compute, "clv": scoring_services.lifetime_values_compute,
               "churn": churn_services.churn_scores_compute}
    for kind in kinds:
        progress.update(progress.job.progress, message=kind)
        run = runners[kind](actor=actor)
        outcome[kind] = {"status": run.status, "customers": run.customers, "changed": run.changed,
                         "message": run.message}
        progress.advance()
    return outcome


@db_periodic_task(crontab(hour="3", minute="30"))
def score_customers_daily() -> None:
    day = timezone.localdate().isoformat()
    scoring_services.scoring_enqueue(actor=None, idempotency_key=f"{scoring_services.SCORING_JOB}:{day}")


@job_handler(churn_services.TRAIN_JOB)
def train_churn_model(job, progress) -> dict:
    progress.set_total(2)
    warehouse_services.warehouse_refresh(actor=None)
    progress.advance(message="training")
    run = churn_services.churn_model_train(actor=job.created_by)
    return {"status": run.status, "message": run.message, "model_id": run.parameters.get("model_id")}


# ======================================================================================
# Reports
# ======================================================================================
@job_handler(report_services.RUN_JOB)
def run_report(job, progress) -> dict:
    from guanxi.analytics.charts import _plain
    from guanxi.analytics.selectors.reports import run_saved_report

    progress.set_total(2, message="reading")
    report, _checked, result = run_saved_report(job.created_by, job.params["report_id"], allow_large=True)
    progress.advance(message="done")
    return {"report": {"columns": [[column.key, column.label, column.kind] for column in result.columns],
                       "rows": [{key: _plain(value) for key, value in row.items()} for row in result.rows],
                       "truncated": result.truncated, "scanned": result.scanned, "report_id": report.pk}}


def _rows(count: int) -> str:
    return ngettext("%(count)s row", "%(count)s rows", count) % {"count": f"{count:,}"}


@job_summary(report_services.RUN_JOB)
def run_report_summary(result: dict) -> str:
    report = result["report"]
    columns = len(report["columns"])
    parts = [_rows(len(report["rows"])),
             ngettext("%(count)d column", "%(count)d columns", columns) % {"count": columns}]
    if report.get("truncated"):
        parts.append(_("cut at the row limit"))
    return " · ".join(parts)


@job_handler(report_services.EXPORT_JOB)
def export_report(job, progress) -> dict:
    progress.set_total(2, message="reading")
    exported = report_services.report_export(actor=job.created_by, report_id=job.params["report_id"],
                                             export_format=job.params["format"], allow_large=True)
    path = report_services.export_folder() / f"job-{job.pk}.{job.params['format']}"
    path.write_bytes(exported.content)
    progress.advance(message="written")
    return {"file_name": exported.file_name, "content_type": exported.content_type, "rows": exported.rows}


@job_summary(report_services.EXPORT_JOB)
def export_report_summary(result: dict) -> str:
    return f"{result['file_name']} · {_rows(result['rows'])}"


@job_handler(report_services.SEND_JOB)
def send_scheduled_report(job, progress) -> dict:
    return report_services.scheduled_report_send(schedule_id=job.params["schedule_id"])


@job_summary(report_services.SEND_JOB)
def send_scheduled_report_summary(result: dict) -> str:
    return _("%(file)s (%(rows)s) sent to %(recipients)s") % {
        "file": result["file"], "rows": _rows(result["rows"]), "recipients": ", ".join(result["sent_to"])}


@db_periodic_task(crontab(minute="*/15"))
def send_due_reports() -> None:
    report_services.scheduled_reports_send_due()
