"""``guanxi createuser USERNAME --role ROLE``: add a staff user from the command line."""

from __future__ import annotations

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.core.models import Role, Team, Territory
from guanxi.core.services import user_create


class Command(BaseCommand):
    help = _("Create a user with a role (admin, sales_manager, sales_rep, marketer, service_agent, cc_agent, "
             "supervisor, analyst).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", default=Role.SALES_REP, choices=Role.values)
        parser.add_argument("--password", help=_("Password; asked for when omitted."))
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="", help=_("Display name."))
        parser.add_argument("--team", default="", help=_("Team name (created when missing)."))
        parser.add_argument("--territory", default="", help=_("Territory code."))
        parser.add_argument("--superuser", action="store_true")
        parser.add_argument("--language", default="en", choices=["en", "zh-hans"])

    def handle(self, *args, username, role, password, email, name, team, territory, superuser, language, **opts):
        if not password:
            password = getpass.getpass(_("Password: "))
        territory_obj = None
        if territory:
            territory_obj = Territory.objects.filter(code=territory).first()
            if territory_obj is None:
                raise CommandError(_("Unknown territory “%(code)s”.") % {"code": territory})
        team_obj = Team.objects.get_or_create(name=team)[0] if team else None
        try:
            user = user_create(actor=None, username=username, password=password, role=role, email=email,
                               display_name=name, team=team_obj, territory=territory_obj,
                               is_superuser=superuser or role == Role.ADMIN, language=language)
        except ValidationError as error:
            raise CommandError("; ".join(f"{field}: {' '.join(messages)}"
                                         for field, messages in error.message_dict.items())) from error
        self.stdout.write(self.style.SUCCESS(_("Created user %(username)s (%(role)s).")
                                             % {"username": user.username, "role": user.get_role_display()}))
