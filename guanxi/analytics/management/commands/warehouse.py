"""``guanxi warehouse refresh [--full]`` and ``guanxi warehouse status``.

``refresh`` loads what changed in the operational data since the last refresh into the
warehouse (the first refresh, or ``--full``, rebuilds it) and shows a progress bar per
table on a terminal. ``status`` lists the tables with their rows and watermarks.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.analytics import warehouse
from guanxi.analytics.services.warehouse import warehouse_refresh


def rich_table_progress(enabled: bool):
    """A rich progress bar per warehouse table, and the callback that feeds it."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not enabled or not console.is_terminal)
    tasks: dict[str, int] = {}

    def update(table: str, done: int, total: int | None) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=total)
        bar.update(tasks[table], completed=done, total=total if total is not None else done or None)

    return bar, update


class Command(BaseCommand):
    help = _("Refresh the analytic warehouse, or show its state.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["refresh", "status"], help=_("What to do."))
        parser.add_argument("--full", action="store_true", help=_("Rebuild every table from scratch."))
        parser.add_argument("--json", action="store_true", help=_("Print the outcome as JSON."))
        parser.add_argument("--no-progress", action="store_true", help=_("Do not draw progress bars."))

    def handle(self, *args, **options):
        try:
            if options["action"] == "status":
                return self._status(options)
            bar, update = rich_table_progress(not options["no_progress"] and not options["json"])
            with bar:
                result = warehouse_refresh(actor=None, full=options["full"], progress=update)
        except warehouse.WarehouseError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        kind = _("Full rebuild") if result.full else _("Incremental refresh")
        self.stdout.write(_("%(kind)s of the %(engine)s warehouse in %(seconds).2f s.")
                          % {"kind": kind, "engine": result.engine, "seconds": result.seconds})
        for table in result.tables:
            self.stdout.write(_("  %(table)-24s %(mode)-12s read %(read)8d  removed %(removed)6d  rows %(rows)9d")
                              % {"table": table.name, "mode": table.mode, "read": table.rows_read,
                                 "removed": table.units_removed, "rows": table.rows_total})

    def _status(self, options):
        store = warehouse.store()
        info = store.info()
        if not info:
            self.stdout.write(_("The warehouse has not been built yet: run `guanxi warehouse refresh`."))
            return
        states = store.table_states()
        if options["json"]:
            self.stdout.write(json.dumps({"info": info, "tables": [
                {"table": name, "watermark": mark, "loaded_at": str(loaded), "rows": rows, "mode": mode}
                for name, mark, loaded, rows, mode in states]}, ensure_ascii=False))
            return
        self.stdout.write(_("Warehouse (%(engine)s), refreshed %(at)s.") % {"engine": store.vendor,
                                                                             "at": info.get("refreshed_at")})
        for name, mark, loaded, rows, mode in states:
            self.stdout.write(f"  {name:<24} {rows:>9}  {mode:<12} {mark or ''}")
