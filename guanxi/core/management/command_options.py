"""Options shared by ``guanxi import`` and ``guanxi export``."""

from __future__ import annotations

import argparse

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from guanxi.core.models import User

OBJECT_TYPES = {"contacts": "contact", "contact": "contact", "accounts": "account", "account": "account"}


def object_type_argument(parser) -> None:
    def object_type(text: str) -> str:
        if text not in OBJECT_TYPES:
            raise argparse.ArgumentTypeError(_("choose contacts or accounts"))
        return OBJECT_TYPES[text]

    parser.add_argument("object_type", type=object_type, metavar="contacts|accounts",
                        help=_("What the file holds."))


def command_actor(username: str) -> User:
    """The user a command acts as: ``--user``, else the first active superuser.

    Imports and exports are audited under this user and see what this user may see.
    """
    if username:
        user = User.objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise CommandError(_("No active user “%(username)s”.") % {"username": username})
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    if user is None:
        raise CommandError(_("No administrator exists yet; create one with `guanxi createuser NAME --role admin "
                             "--superuser`, or give --user."))
    return user
