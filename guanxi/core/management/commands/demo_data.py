"""``guanxi demo-data``: load the demo company (users for every role, 300 accounts, 2,400 contacts…)."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from guanxi.core.demo import ADMIN_PASSWORD, ADMIN_USERNAME, STAFF_PASSWORD, load_demo_data
from guanxi.core.models import Contact, User


class Command(BaseCommand):
    help = _("Load realistic bilingual demo data into an empty database.")

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=2400)
        parser.add_argument("--accounts", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--if-empty", action="store_true",
                            help=_("Do nothing (successfully) when the database already has users."))

    def handle(self, *args, contacts, accounts, seed, if_empty, **options):
        if User.objects.exists():
            if if_empty:
                self._print_logins(already=True)
                return
            raise CommandError(_("The database already holds data; demo data goes into an empty database."))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn()) as bar:
            tasks: dict[str, int] = {}

            def report(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done, total=total)

            summary = load_demo_data(contacts=contacts, accounts=accounts, seed=seed, progress=report)
        self.stdout.write(self.style.SUCCESS(
            _("Demo data loaded: %(users)d users, %(accounts)d accounts, %(contacts)d contacts, "
              "%(interactions)d interactions.") % summary.__dict__))
        self._print_logins(already=False)

    def _print_logins(self, already: bool) -> None:
        if already:
            self.stdout.write(_("Demo data already present (%(count)d contacts).")
                              % {"count": Contact.objects.count()})
        url = "http://{}:{}/".format(os.environ.get("GUANXI_HOST", "127.0.0.1"), os.environ.get("GUANXI_PORT", "8000"))
        self.stdout.write(_("Sign in at %(url)s as %(user)s / %(password)s "
                            "(other roles: sales.manager, rep.wang, marketer, service.agent, cc.agent, supervisor, "
                            "analyst — password %(staff)s)")
                          % {"url": url, "user": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "staff": STAFF_PASSWORD})
