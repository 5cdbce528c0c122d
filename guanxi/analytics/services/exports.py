"""Exporting analyses and reports: the right to export, the file, and the audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.text import slugify

from guanxi.analytics.table_export import CONTENT_TYPES, FORMATS, export_table
from guanxi.core.audit import audit_record
from guanxi.core.errors import ValidationError
from guanxi.core.models import AuditAction, User


@dataclass
class ExportedFile:
    file_name: str
    content_type: str
    content: bytes
    rows: int


def check_format(export_format: str) -> None:
    if export_format not in FORMATS:
        raise ValidationError({"format": [f"Choose one of {', '.join(FORMATS)}."]})


def exported_file(*, actor: User | None, title: str, columns, rows, export_format: str, object_type: str,
                  object_id: str, subtitle: str = "", notes=()) -> ExportedFile:
    check_format(export_format)
    content = export_table(export_format, title, columns, rows, subtitle=subtitle, notes=notes)
    audit_record(actor=actor, action=AuditAction.EXPORT, object_type=object_type, object_id=object_id,
                 changes={"format": export_format, "rows": len(rows), "title": title})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = slugify(title) or object_type
    return ExportedFile(f"{name}-{stamp}.{export_format}", CONTENT_TYPES[export_format], content, len(rows))


def analysis_export(*, actor: User, key: str, data, export_format: str) -> ExportedFile:
    """The analysis as the reader may export it (record scopes of the export action)."""
    from guanxi.analytics.selectors.analyses import run_analysis_or_raise

    check_format(export_format)
    answer = run_analysis_or_raise(actor, key, data, action="export")
    return exported_file(actor=actor, title=str(answer.analysis.title), columns=answer.result.columns,
                         rows=answer.result.rows, export_format=export_format, object_type="analysis",
                         object_id=key, subtitle=str(answer.analysis.question), notes=answer.result.notes)
