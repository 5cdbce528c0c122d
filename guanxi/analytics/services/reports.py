"""Writes of saved reports: create, change, share with a team, delete; exports; running a
large report in the background; schedules that e-mail a report."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.analytics import report_builder
from guanxi.analytics.models import ChartType, ExportFormat, Report, ReportSchedule, ScheduleFrequency
from guanxi.analytics.selectors import reports as selectors
from guanxi.analytics.services.exports import ExportedFile, check_format, exported_file
from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import AuditAction, Team, User, Visibility
from guanxi.jobs import services as job_services

REPORT_FIELDS = ("name", "description", "source", "definition", "chart_type", "shared_with_team_id", "on_dashboard")
RUN_JOB = "analytics.run_report"
EXPORT_JOB = "analytics.export_report"
SEND_JOB = "analytics.send_scheduled_report"
SEND_HOUR = 7


def _snapshot(report: Report) -> dict:
    return {field: getattr(report, field) for field in REPORT_FIELDS}


def _apply(report: Report, data: dict, actor: User) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in ("name", "description"):
        if field in data:
            setattr(report, field, str(data[field] or "").strip())
    if not report.name:
        errors["name"] = [_("Give the report a name.")]
    elif len(report.name) > 200:
        errors["name"] = [_("Keep the name within 200 characters.")]
    if "source" in data:
        report.source = str(data["source"] or "")
    if "definition" in data:
        report.definition = data["definition"] or {}
    try:
        report_builder.check_definition(report.source, report.definition)
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            errors.setdefault(key if key == "source" else f"definition.{key}", []).extend(messages)
    if "chart_type" in data:
        report.chart_type = data["chart_type"] or ChartType.BAR
    if report.chart_type not in ChartType.values:
        errors["chart_type"] = [_("Choose one of: %(types)s.") % {"types": ", ".join(ChartType.values)}]
    if "on_dashboard" in data:
        report.on_dashboard = bool(data["on_dashboard"])
    if "shared_with_team_id" in data:
        team_id = data["shared_with_team_id"] or None
        if team_id is not None:
            team = Team.objects.filter(pk=team_id).first()
            mine = actor.is_superuser or team is not None and (
                team.pk == actor.team_id or team.manager_id == actor.pk)
            if team is None or not mine:
                errors["shared_with_team_id"] = [_("Share with your own team only.")]
        report.shared_with_team_id = team_id
    return errors


def _raise_if(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def report_create(*, actor: User, data: dict) -> Report:
    if scope_for(actor, "report", "create") == Visibility.NONE:
        raise PermissionDenied(_("You may not create reports."))
    report = Report(owner=actor, chart_type=ChartType.BAR)
    _raise_if(_apply(report, data, actor))
    report.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=report, changes=diff({}, _snapshot(report)))
    return report


@transaction.atomic
def report_update(*, actor: User, report_id: int, data: dict, expected_version: int | None = None) -> Report:
    report = selectors.access_report_by_id(actor, report_id, "change")
    report = Report.objects.select_for_update().get(pk=report.pk)
    if expected_version is not None and report.version != expected_version:
        raise Conflict(_("This report was changed by someone else (version %(current)d, you edited %(yours)d). "
                         "Reload and try again.") % {"current": report.version, "yours": expected_version})
    before = _snapshot(report)
    _raise_if(_apply(report, data, actor))
    report.updated_at = timezone.now()
    report.version = F("version") + 1
    report.save()
    report.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=report, changes=diff(before, _snapshot(report)))
    return report


@transaction.atomic
def report_delete(*, actor: User, report_id: int) -> None:
    report = selectors.access_report_by_id(actor, report_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=report, changes={"name": [report.name, None]})
    report.delete()


# ======================================================================================
# Exports and background runs
# ======================================================================================
def report_export(*, actor: User, report_id: int, export_format: str, allow_large: bool = False) -> ExportedFile:
    """The report's rows as a file, counting what the reader may export."""
    check_format(export_format)
    report, _checked, result = selectors.run_saved_report(actor, report_id, action="export", allow_large=allow_large)
    notes = [_("Only the first %(count)d rows are included.") % {"count": len(result.rows)}] if result.truncated else []
    return exported_file(actor=actor, title=report.name, columns=result.columns, rows=result.rows,
                         export_format=export_format, object_type="report", object_id=str(report.pk),
                         subtitle=report.description, notes=notes)


def report_run_enqueue(*, actor: User, report_id: int):
    """Run a report too large for a page in the background; the job keeps the result."""
    report = selectors.access_report_by_id(actor, report_id)
    return job_services.job_enqueue(actor=actor, kind=RUN_JOB, params={"report_id": report.pk},
                                    title=_("Run report “%(name)s”") % {"name": report.name})


def report_export_enqueue(*, actor: User, report_id: int, export_format: str):
    check_format(export_format)
    report = selectors.access_report_by_id(actor, report_id, "export")
    return job_services.job_enqueue(actor=actor, kind=EXPORT_JOB,
                                    params={"report_id": report.pk, "format": export_format},
                                    title=_("Export report “%(name)s”") % {"name": report.name})


def export_folder() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "report-exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ======================================================================================
# Schedules
# ======================================================================================
def next_run(frequency: str, after: datetime.datetime) -> datetime.datetime:
    """07:00 local on the next day, the next Monday, or the first of the next month."""
    local = timezone.localtime(after)
    day = local.date()
    if frequency == ScheduleFrequency.DAILY:
        day += datetime.timedelta(days=1)
    elif frequency == ScheduleFrequency.WEEKLY:
        day += datetime.timedelta(days=7 - day.weekday())
    else:
        day = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(SEND_HOUR)))


@transaction.atomic
def report_schedule_create(*, actor: User, report_id: int, data: dict) -> ReportSchedule:
    report = selectors.access_report_by_id(actor, report_id, "change")
    if scope_for(actor, "report", "export") == Visibility.NONE:
        raise PermissionDenied(_("Scheduling e-mails a copy of the report; you may not export reports."))
    errors: dict[str, list[str]] = {}
    frequency = data.get("frequency") or ScheduleFrequency.WEEKLY
    if frequency not in ScheduleFrequency.values:
        errors["frequency"] = [_("Choose daily, weekly or monthly.")]
    export_format = data.get("export_format") or ExportFormat.PDF
    if export_format not in ExportFormat.values:
        errors["export_format"] = [_("Choose CSV, Excel or PDF.")]
    raw = data.get("recipients") or []
    recipients = [item.strip() for item in (raw.split(",") if isinstance(raw, str) else raw) if str(item).strip()]
    if not recipients:
        errors["recipients"] = [_("Give at least one e-mail address.")]
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            errors.setdefault("recipients", []).append(_("“%(address)s” is not an e-mail address.")
                                                       % {"address": address})
    if len(recipients) > 50:
        errors.setdefault("recipients", []).append(_("Send to at most 50 addresses."))
    _raise_if(errors)
    schedule = ReportSchedule.objects.create(report=report, frequency=frequency, export_format=export_format,
                                             recipients=[address.lower() for address in recipients],
                                             next_run_at=next_run(frequency, timezone.now()), created_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=schedule,
                 changes={"report": [None, report.pk], "frequency": [None, frequency],
                          "recipients": [None, ", ".join(schedule.recipients)]})
    return schedule


@transaction.atomic
def report_schedule_delete(*, actor: User, schedule_id: int) -> None:
    schedule = ReportSchedule.objects.select_related("report").filter(pk=schedule_id).first()
    if schedule is None:
        raise selectors.NotFound(f"schedule {schedule_id}")
    selectors.access_report_by_id(actor, schedule.report_id, "change")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=schedule, changes={"report": [schedule.report_id, None]})
    schedule.delete()


def scheduled_reports_send_due(now: datetime.datetime | None = None) -> int:
    """Start a sending job for every schedule that is due (once per due time)."""
    now = now or timezone.now()
    started = 0
    for schedule in ReportSchedule.objects.filter(is_active=True, next_run_at__lte=now).order_by("next_run_at")[:200]:
        job_services.job_enqueue(actor=None, kind=SEND_JOB, params={"schedule_id": schedule.pk},
                                 title=_("E-mail report “%(name)s”") % {"name": schedule.report.name},
                                 idempotency_key=f"{SEND_JOB}:{schedule.pk}:{schedule.next_run_at.isoformat()}",
                                 max_attempts=3)
        started += 1
    return started


def scheduled_report_send(*, schedule_id: int) -> dict:
    """Run the report as the person who scheduled it (their visibility), attach the file and
    e-mail it; the next run is set whatever happens, the error is kept for the page."""
    schedule = ReportSchedule.objects.select_related("report", "created_by").get(pk=schedule_id)
    now = timezone.now()
    try:
        if schedule.created_by is None or not schedule.created_by.is_active:
            raise PermissionDenied(_("The person who scheduled this report no longer has an account."))
        exported = report_export(actor=schedule.created_by, report_id=schedule.report_id,
                                 export_format=schedule.export_format, allow_large=True)
        message = EmailMessage(
            subject=_("Report: %(name)s") % {"name": schedule.report.name},
            body=_("Attached is the report “%(name)s” as of %(when)s (%(rows)d rows).") % {
                "name": schedule.report.name, "when": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
                "rows": exported.rows},
            to=schedule.recipients)
        message.attach(exported.file_name, exported.content, exported.content_type)
        message.send()
    except Exception as error:
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            last_error=str(error)[:2000], last_run_at=now, next_run_at=next_run(schedule.frequency, now))
        raise
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_error="", last_run_at=now,
                                                         next_run_at=next_run(schedule.frequency, now))
    return {"sent_to": schedule.recipients, "rows": exported.rows, "file": exported.file_name}
