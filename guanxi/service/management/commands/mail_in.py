"""``guanxi mail-in --port N``: receive email for the service desk over SMTP."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Receive email over SMTP: new messages open cases, replies thread into their cases."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=2525, help="Port to listen on (default 2525).")

    def handle(self, *args, host: str, port: int, **options):
        from guanxi.service.mail_server import start_mail_server

        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        try:
            controller = start_mail_server(host, port)
        except (OSError, RuntimeError) as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error}") from error
        stop = threading.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_args: stop.set())
        self.stdout.write(f"Email-in listening on {host}:{port} (Ctrl+C to stop)")
        try:
            stop.wait()
        finally:
            controller.stop()
        self.stdout.write("Email-in stopped")
