"""``guanxi marketing-bounces FILE…``: process delivery status notifications (bounces) saved
as files (one message per file, e.g. from a bounce mailbox); ``-`` reads one from stdin.
A file that is not a DSN is reported with its name and skipped; the exit code is then 1."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from guanxi.marketing.services import bounce_process


class Command(BaseCommand):
    help = "Process bounce messages (RFC 3464 delivery status notifications)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="message files; - for stdin")

    def handle(self, *args, files: list[str], **options):
        failed = 0
        for name in files:
            raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()
            try:
                bounces = bounce_process(raw_message=raw)
            except ValidationError as error:
                failed += 1
                self.stderr.write(f"{name}: {' '.join(error.messages)}")
                continue
            for bounce in bounces:
                kind = "permanent" if bounce.is_permanent else "temporary"
                self.stdout.write(f"{name}: {bounce.email} {bounce.status} ({kind})")
        if failed:
            sys.exit(1)
