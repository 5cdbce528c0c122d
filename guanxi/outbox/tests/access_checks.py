"""Access-matrix checker for the outbox (see ``guanxi/core/tests/access_checks.py``).

Kept mail is read-only and not owned by anyone: a role sees all of it or none, through the
Outbox pages (there is no API route).
"""

from __future__ import annotations

from django.test import Client

from guanxi.core.tests.access_checks import NONE, ObjectChecker, register
from guanxi.outbox.services import outbox_messages_store


@register("outbox_message")
class OutboxMessageChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "kept mail has no owner")
        [message] = outbox_messages_store(messages=[(
            "guanxi@example.com", ["matrix@example.com"],
            b"Subject: Matrix outbox\r\nTo: matrix@example.com\r\n\r\nHello\r\n")])
        browser = Client()
        browser.force_login(self.world.actor)
        listing, detail = browser.get("/outbox/"), browser.get(f"/outbox/{message.pk}/")
        if scope == NONE:
            assert (listing.status_code, detail.status_code) == (403, 403), self.describe("view")
            assert "Matrix outbox" not in listing.content.decode() + detail.content.decode()
            return
        assert (listing.status_code, detail.status_code) == (200, 200), self.describe("view")
        assert "Matrix outbox" in listing.content.decode(), self.describe("view", "list")
