"""``guanxi export contacts|accounts --format csv|xlsx --output FILE [--user USERNAME]``.

Exports what the user may export (record-level visibility holds), optionally filtered
like the list pages, as CSV (UTF-8 with BOM) or XLSX; the columns are the field names
``guanxi import`` reads. Audited with the count.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.core import exporting, selectors
from guanxi.core.errors import NotFound
from guanxi.core.management.command_options import command_actor, object_type_argument
from guanxi.core.models import LifecycleStage, Territory, User, ValueTier


class Command(BaseCommand):
    help = _("Export contacts or accounts to CSV or XLSX: guanxi export contacts --format csv --output FILE")

    def add_arguments(self, parser):
        object_type_argument(parser)
        parser.add_argument("--format", dest="file_format", choices=exporting.FORMATS, default="",
                            help=_("csv or xlsx (default: from the output file's extension, else csv)."))
        parser.add_argument("--output", required=True, help=_("File to write."))
        parser.add_argument("--user", default="", help=_("Export as this user (default: the first administrator)."))
        parser.add_argument("--query", default="", help=_("Only records matching this search."))
        parser.add_argument("--stage", default="", choices=[""] + list(LifecycleStage.values),
                            help=_("Only this lifecycle stage."))
        parser.add_argument("--tier", default="", choices=[""] + list(ValueTier.values),
                            help=_("Only this value tier."))
        parser.add_argument("--owner", default="", help=_("Only records owned by this username."))
        parser.add_argument("--territory", default="", help=_("Only records in this territory (code)."))
        parser.add_argument("--tag", default="", help=_("Only records with this tag."))
        parser.add_argument("--cf", action="append", default=[], metavar="KEY=VALUE",
                            help=_("Only records whose custom field KEY has VALUE (repeatable)."))

    def handle(self, *args, object_type, file_format, output, user, query, stage, tier, owner, territory, tag, cf,
               **options):
        actor = command_actor(user)
        path = Path(output)
        file_format = file_format or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
        if not path.parent.exists():
            raise CommandError(_("The folder %(folder)s does not exist.") % {"folder": path.parent})
        filters = self.filters(object_type, query, stage, tier, owner, territory, tag, cf)
        try:
            export = exporting.start_export(actor=actor, object_type=object_type, filters=filters,
                                            file_format=file_format)
            written = exporting.write_file(export, path, file_format)
        except PermissionDenied:
            raise CommandError(_("%(user)s may not export %(objects)s.") % {
                "user": actor.username, "objects": _("contacts") if object_type == "contact" else _("accounts")}
            ) from None
        except (ValidationError, NotFound) as error:
            raise CommandError(_("Bad filter: %(error)s") % {"error": error}) from None
        self.stdout.write(_("Exported %(count)d %(objects)s to %(path)s.") % {
            "count": written, "objects": _("contacts") if object_type == "contact" else _("accounts"),
            "path": path})

    def filters(self, object_type, query, stage, tier, owner, territory, tag, cf):
        owner_id = territory_id = None
        if owner:
            owner_id = User.objects.filter(username=owner).values_list("id", flat=True).first()
            if owner_id is None:
                raise CommandError(_("No user “%(username)s”.") % {"username": owner})
        if territory:
            territory_id = Territory.objects.filter(code=territory).values_list("id", flat=True).first()
            if territory_id is None:
                raise CommandError(_("No territory “%(code)s”.") % {"code": territory})
        custom = []
        for pair in cf:
            if "=" not in pair:
                raise CommandError(_("Write --cf as KEY=VALUE."))
            key, value = pair.split("=", 1)
            custom.append((key.strip(), value.strip()))
        common = {"query": query, "lifecycle_stage": stage, "value_tier": tier, "owner_id": owner_id,
                  "territory_id": territory_id, "tag": tag, "custom": tuple(sorted(custom))}
        if object_type == "contact":
            return selectors.ContactFilters(**common)
        return selectors.AccountFilters(**common)
