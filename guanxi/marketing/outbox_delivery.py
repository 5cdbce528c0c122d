"""Campaign email in zero-service mode: with no mail server configured (Django's email
backend is the outbox), the composed messages are kept in the outbox instead of going
through SMTP connections, with the same recipient states as a real send.

``sending.SmtpPool`` speaks SMTP on its own connections, which the outbox backend does not
have; ``OutboxPool`` offers the same ``submit``/``drain``/``close`` calls and stores each
handed-over chunk in one INSERT, in the sending thread (no connection threads to start).
"""

from __future__ import annotations

from typing import Callable

from guanxi.marketing import conf, sending
from guanxi.outbox.services import outbox_messages_store


class OutboxPool:
    def __init__(self, sender_address: str):
        self.sender_address = sender_address
        self.results: list[sending.Outcome] = []

    def submit(self, chunk: list[tuple[int, str, bytes]], heartbeat: Callable[[], None] | None = None) -> None:
        if not chunk:
            return
        outbox_messages_store(messages=[(self.sender_address, [to], data) for _recipient_id, to, data in chunk])
        self.results.extend(sending.Outcome(recipient_id, sending.SENT) for recipient_id, _to, _data in chunk)

    def drain(self, heartbeat: Callable[[], None] | None = None) -> list[sending.Outcome]:
        results, self.results = self.results, []
        return results

    def close(self) -> None:
        return None


class OutboxEmailDeliverer(sending._EmailDeliverer):
    """The email deliverer with the outbox in place of the SMTP pool."""

    def __init__(self, campaign, connections: int | None = None):
        self.composer = sending.EmailComposer(campaign)
        self.pool = OutboxPool(conf.from_email())
