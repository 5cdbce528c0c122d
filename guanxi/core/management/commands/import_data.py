"""``guanxi import contacts|accounts FILE``: import a CSV or XLSX file.

Exit status: 0 when every row was imported (or, with ``--dry-run``, every row is valid);
1 when the file or a row was refused and nothing was written; 2 when ``--skip-invalid``
imported the good rows and refused some. The report names file, row, column and problem
for each bad row (``--report FILE`` writes it as CSV).
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.core import importing
from guanxi.core.management.command_options import command_actor, object_type_argument

SHOWN_ISSUES = 50


def write_report(path: str, issues: list[importing.Issue]) -> None:
    """Issues as CSV (UTF-8 with BOM so spreadsheet programs show Chinese text correctly)."""
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "message", "value", "level"])
        for issue in issues:
            writer.writerow([issue.file, issue.row, issue.column, issue.message, issue.value, issue.level])


def rich_progress(enabled: bool):
    """A rich progress bar (rows, rows/s, ETA) on stderr, and the callback that feeds it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task):
            return Text(_("%(speed)s rows/s") % {"speed": f"{task.speed or 0:,.0f}"})

    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RowsPerSecond(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                   disable=not enabled or not console.is_terminal)
    tasks: dict[str, int] = {}
    labels = {"check": _("Checking"), "import": _("Importing")}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return bar, update


class Command(BaseCommand):
    help = _("Import contacts or accounts from a CSV or XLSX file: guanxi import contacts FILE")

    def add_arguments(self, parser):
        object_type_argument(parser)
        parser.add_argument("file", help=_("CSV (UTF-8 or GB18030) or XLSX file."))
        parser.add_argument("--map", default="", dest="mapping",
                            help=_('Column mapping "Header=field,Other header=field" (field "-" skips a column), '
                                   "or a JSON file of header: field pairs."))
        parser.add_argument("--dry-run", action="store_true", help=_("Check everything, write nothing."))
        parser.add_argument("--skip-invalid", action="store_true",
                            help=_("Import the good rows and report the bad ones (default: any bad row stops "
                                   "the whole import)."))
        parser.add_argument("--resume", action="store_true",
                            help=_("Continue an interrupted import of the same file after its last committed "
                                   "chunk."))
        parser.add_argument("--user", default="", help=_("Import as this user (default: the first administrator)."))
        parser.add_argument("--report", default="", help=_("Write every problem found to this CSV file."))
        parser.add_argument("--encoding", default="", help=_("Text encoding of a CSV file, e.g. gb18030 "
                                                             "(detected when omitted)."))
        parser.add_argument("--sheet", default="", help=_("Worksheet of an XLSX file (default: the first)."))
        parser.add_argument("--chunk-size", type=int, default=importing.DEFAULT_CHUNK_SIZE,
                            help=_("Rows per committed chunk."))
        parser.add_argument("--no-progress", action="store_true", help=_("Do not draw a progress bar."))

    def handle(self, *args, object_type, file, mapping, dry_run, skip_invalid, resume, user, report, encoding,
               sheet, chunk_size, no_progress, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": file})
        if chunk_size < 1:
            raise CommandError(_("--chunk-size must be at least 1."))
        actor = command_actor(user)
        bar, update = rich_progress(not no_progress)
        try:
            overrides = importing.parse_mapping_option(mapping)
            with bar:
                result = importing.import_file(
                    actor=actor, path=path, object_type=object_type, file_label=path.name, mapping=overrides,
                    encoding=encoding or None, sheet=sheet or None, dry_run=dry_run, skip_invalid=skip_invalid,
                    resume=resume, chunk_size=chunk_size, progress=update)
        except importing.ImportFileError as error:
            self.show_issues(error.issues)
            if report:
                write_report(report, error.issues)
            raise CommandError(_("The file was refused; nothing was imported."), returncode=1) from None
        except PermissionDenied as error:
            raise CommandError(str(error), returncode=1) from None
        if report:
            write_report(report, result.issues)
        self.show_issues(result.issues)
        run = result.run
        if not result.written:
            if result.error_rows:
                raise CommandError(_("%(errors)d of %(rows)d rows have errors; nothing was imported (import #%(run)d).")
                                   % {"errors": result.error_rows, "rows": result.rows, "run": run.pk},
                                   returncode=1)
            self.stdout.write(_("Dry run: all %(rows)d rows are valid; %(create)d would be created, %(update)d "
                                "updated. Nothing was written.")
                              % {"rows": result.rows, "create": result.would_create, "update": result.would_update})
            return
        summary = _("Import #%(run)d: %(rows)d rows in %(seconds).1f s — %(created)d created, %(updated)d updated, "
                    "%(unchanged)d unchanged, %(errors)d refused.") % {
            "run": run.pk, "rows": result.rows, "seconds": result.seconds, "created": result.created,
            "updated": result.updated, "unchanged": result.unchanged, "errors": result.error_rows}
        self.stdout.write(summary)
        if result.error_rows:
            raise CommandError(_("%(errors)d rows were refused; the other rows were imported.")
                               % {"errors": result.error_rows}, returncode=2)

    def show_issues(self, issues: list[importing.Issue]) -> None:
        errors = [issue for issue in issues if issue.level == importing.Level.ERROR]
        warnings = [issue for issue in issues if issue.level == importing.Level.WARNING]
        for issue in errors[:SHOWN_ISSUES]:
            self.stderr.write(_("error: %(issue)s") % {"issue": issue})
        if len(errors) > SHOWN_ISSUES:
            self.stderr.write(_("… and %(more)d more errors (write them all with --report FILE).")
                              % {"more": len(errors) - SHOWN_ISSUES})
        for issue in warnings[:SHOWN_ISSUES]:
            self.stderr.write(_("warning: %(issue)s") % {"issue": issue})
        if len(warnings) > SHOWN_ISSUES:
            self.stderr.write(_("… and %(more)d more warnings.") % {"more": len(warnings) - SHOWN_ISSUES})
