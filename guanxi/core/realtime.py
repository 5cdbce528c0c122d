"""Pushes to browsers over Channels (in-memory layer by default, Redis when configured)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def contact_group(contact_id: int) -> str:
    return f"contact.{contact_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def push(group: str, event: str, payload: dict) -> None:
    """Send ``payload`` to every browser subscribed to ``group``; never fails the caller."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "notify", "event": event, "payload": payload})
    except Exception:  # a push is best effort: the data is already committed
        logger.exception("push to %s failed", group)
