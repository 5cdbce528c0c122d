"""Exporting a table of results — an analysis or a report — as CSV, XLSX or PDF.

CSV is UTF-8 with a byte-order mark (spreadsheet programs then show Chinese correctly);
XLSX keeps numbers as numbers; the PDF uses ReportLab's built-in CID font STSong-Light,
so Chinese text prints without shipping a font file. Text cells that a spreadsheet would
run as a formula are neutralised as in the contact export.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.exporting import spreadsheet_safe

FORMATS = ("csv", "xlsx", "pdf")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "pdf": "application/pdf"}
PDF_FONT = "STSong-Light"


def plain_value(value, kind: str = "text"):
    """A cell as a spreadsheet value: numbers stay numbers, links become their text."""
    if value is None:
        return None
    if isinstance(value, dict):  # a link to a customer or account
        return value.get("name", "")
    if kind == "percent":
        return round(float(value), 4)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (datetime.date, int)):
        return value
    return str(value)


def shown_value(value, kind: str = "text") -> str:
    """A cell as text for people (the PDF): money with two decimals, shares as percentages."""
    value = plain_value(value, kind)
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "number":
        return f"{float(value):,.2f}"
    if kind == "integer" and isinstance(value, (int, float)):
        return f"{int(value):,}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def table_csv(columns: Sequence, rows: Sequence[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(column.label) for column in columns])
    for row in rows:
        cells = []
        for column in columns:
            value = plain_value(row.get(column.key), column.kind)
            cells.append(spreadsheet_safe(value) if isinstance(value, str) else ("" if value is None else value))
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def table_xlsx(title: str, columns: Sequence, rows: Sequence[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = (title or "report")[:31].translate(str.maketrans("[]:*?/\\", "       "))
    sheet.append([str(column.label) for column in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = {"money": "#,##0.00", "percent": "0.0%", "number": "#,##0.00", "integer": "#,##0",
               "date": "yyyy-mm-dd"}
    for row in rows:
        values = []
        for column in columns:
            value = plain_value(row.get(column.key), column.kind)
            values.append(spreadsheet_safe(value) if isinstance(value, str) else value)
        sheet.append(values)
        for cell, column in zip(sheet[sheet.max_row], columns, strict=True):
            if column.kind in formats:
                cell.number_format = formats[column.kind]
    for position, column in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=position).column_letter].width = max(
            10, min(40, len(str(column.label)) + 4))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def table_pdf(title: str, columns: Sequence, rows: Sequence[dict], *, subtitle: str = "",
              notes: Sequence[str] = ()) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    heading = ParagraphStyle("heading", fontName=PDF_FONT, fontSize=14, leading=18, spaceAfter=4)
    small = ParagraphStyle("small", fontName=PDF_FONT, fontSize=8, leading=10)
    cell_style = ParagraphStyle("cell", fontName=PDF_FONT, fontSize=7.5, leading=9)
    page = landscape(A4) if len(columns) > 6 else A4
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=12 * mm, bottomMargin=12 * mm, title=title)
    generated = _("Generated %(when)s") % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
    story = [Paragraph(_escape(title), heading), Paragraph(_escape(" · ".join(filter(None, [subtitle, generated]))),
                                                          small), Spacer(1, 4 * mm)]
    data = [[Paragraph(_escape(str(column.label)), cell_style) for column in columns]]
    for row in rows:
        data.append([Paragraph(_escape(shown_value(row.get(column.key), column.kind)), cell_style)
                     for column in columns])
    if len(data) == 1:
        data.append([Paragraph(_escape(_("No rows.")), cell_style)] + [""] * (len(columns) - 1))
    width = (page[0] - 24 * mm) / max(len(columns), 1)
    table = LongTable(data, colWidths=[width] * len(columns), repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)
    for note in notes:
        story += [Spacer(1, 3 * mm), Paragraph(_escape(str(note)), small)]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def export_table(export_format: str, title: str, columns: Sequence, rows: Sequence[dict], *, subtitle: str = "",
                 notes: Sequence[str] = ()) -> bytes:
    if export_format == "csv":
        return table_csv(columns, rows)
    if export_format == "xlsx":
        return table_xlsx(title, columns, rows)
    if export_format == "pdf":
        return table_pdf(title, columns, rows, subtitle=subtitle, notes=notes)
    raise ValueError(f"unknown export format {export_format!r}; use one of {FORMATS}")
