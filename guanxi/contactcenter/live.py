"""What the contact center pushes to browsers, and to which Channels group.

* ``agent_group(user_id)``: the agent desktop of one user (``consumers.AgentDesktopConsumer``):
  the screen pop when a call reaches them, and a nudge when their calls or state change.
* ``WALLBOARD_GROUP``: every open wallboard (``consumers.WallboardConsumer``), which
  receives a fresh snapshot after changes, at most ``WALLBOARD_MIN_INTERVAL`` apart.

Pushes happen after the transaction commits and never fail the caller
(``guanxi.core.realtime.push``).
"""

from __future__ import annotations

import threading
import time

from django.db import transaction

from guanxi.core.realtime import push

WALLBOARD_GROUP = "cc.wallboard"
WALLBOARD_MIN_INTERVAL = 0.5


def agent_group(user_id: int) -> str:
    return f"cc.agent.{user_id}"


def offer_to_agent(user_id: int, call_id: int) -> None:
    """The screen pop: built after commit (so it reads what was just stored) and pushed."""

    def send() -> None:
        from guanxi.contactcenter.models import Call
        from guanxi.contactcenter.selectors import screen_pop
        from guanxi.core.models import User

        user = User.objects.filter(pk=user_id).first()
        call = Call.objects.select_related("queue", "contact", "account").filter(pk=call_id).first()
        if user is None or call is None:
            return
        push(agent_group(user_id), "contactcenter.offer", screen_pop(user, call))

    transaction.on_commit(send)


def desktop_changed(user_id: int, reason: str, **detail) -> None:
    transaction.on_commit(lambda: push(agent_group(user_id), "contactcenter.changed", {"reason": reason, **detail}))


class _WallboardPusher:
    """Coalesces wallboard pushes: one snapshot per interval however many changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer: threading.Timer | None = None

    def changed(self) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:  # tests and one-off commands: push now, no timer thread
            self.send()
            return
        with self._lock:
            if self._timer is not None:
                return
            wait = max(0.0, self._last + WALLBOARD_MIN_INTERVAL - time.monotonic())
            self._timer = threading.Timer(wait, self._send_from_timer)
            self._timer.daemon = True
            self._timer.start()

    def _send_from_timer(self) -> None:
        from django.db import close_old_connections

        with self._lock:
            self._timer = None
            self._last = time.monotonic()
        close_old_connections()
        try:
            self.send()
        finally:
            close_old_connections()

    def send(self) -> None:
        from guanxi.contactcenter.selectors import wallboard_snapshot

        push(WALLBOARD_GROUP, "contactcenter.wallboard", wallboard_snapshot())


_wallboard = _WallboardPusher()


def wallboard_changed() -> None:
    transaction.on_commit(_wallboard.changed)
