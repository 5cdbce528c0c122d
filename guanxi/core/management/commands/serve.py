"""``guanxi serve``: web, API, WebSockets, and (with zero services) the job worker, in one process."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = _("Start Guanxi: web pages, REST API, real-time pushes and background jobs.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help=_("Address to listen on."))
        parser.add_argument("--port", type=int, default=8000, help=_("Port to listen on."))
        parser.add_argument("--no-worker", action="store_true",
                            help=_("Do not run background jobs in this process (run `guanxi worker` instead)."))
        parser.add_argument("--migrate", action="store_true", help=_("Apply database migrations first."))

    def handle(self, *args, host, port, no_worker, migrate, **options):
        import uvicorn

        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if settings.GUANXI_INPROCESS_WORKER and not no_worker:
            from guanxi.jobs.runner import start_inprocess_worker

            start_inprocess_worker()
            self.stdout.write(_("Background jobs run in this process (queue: %(queue)s).")
                              % {"queue": settings.HUEY["huey_class"]})
        database = "PostgreSQL" if settings.IS_POSTGRES else "SQLite " + str(settings.DATABASES["default"]["NAME"])
        self.stdout.write(self.style.SUCCESS(_("Guanxi is running at http://%(host)s:%(port)d/ (database: %(db)s)")
                                             % {"host": host, "port": port, "db": database}))
        uvicorn.run("guanxi.asgi:application", host=host, port=port, log_level="warning", lifespan="off",
                    ws="websockets")
