"""``guanxi import-leads FILE --as USER``: import leads from CSV or XLSX, all or nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.core.errors import PermissionDenied
from guanxi.core.importing import ImportFileError
from guanxi.core.models import User
from guanxi.sales.lead_import import import_leads


class Command(BaseCommand):
    help = _("Import leads from a CSV or XLSX file. A file with any bad row imports nothing; each problem is "
             "reported with its row and column.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--as", dest="username", required=True, help=_("User the import acts as."))
        parser.add_argument("--dry-run", action="store_true", help=_("Check the file, keep nothing."))
        parser.add_argument("--assign", action="store_true",
                            help=_("Assign the leads by the territory and round-robin rules."))
        parser.add_argument("--campaign", default="", help=_("Source campaign for rows that name none."))

    def handle(self, *args, file, username, dry_run, assign, campaign, **options):
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(_("No active user “%(username)s”.") % {"username": username})
        try:
            result = import_leads(actor=actor, path=file, dry_run=dry_run, auto_assign=assign,
                                  campaign_name=campaign)
        except ImportFileError as error:
            raise CommandError("\n".join(str(issue) for issue in error.issues)) from None
        except (PermissionDenied, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        if result.issues:
            for issue in result.issues:
                self.stderr.write(str(issue))
            raise CommandError(_("%(count)d problems; nothing was imported.") % {"count": len(result.issues)})
        verb = _("would be imported") if dry_run else _("imported")
        self.stdout.write(self.style.SUCCESS(_("%(rows)d rows %(verb)s: %(created)d new leads, %(updated)d "
                                               "updated.") % {"rows": result.rows, "verb": verb,
                                                              "created": result.created,
                                                              "updated": result.updated}))
