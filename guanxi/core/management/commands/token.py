"""``guanxi token USERNAME [--name NAME]``: issue an API token (printed once, stored hashed)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from guanxi.core.models import User
from guanxi.core.services import api_token_create


class Command(BaseCommand):
    help = _("Issue a REST API token for a user; the token is shown once.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help=_("What the token is for."))

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(_("No active user “%(username)s”.") % {"username": username})
        _token, clear = api_token_create(actor=user, user=user, name=name)
        self.stdout.write(clear)
