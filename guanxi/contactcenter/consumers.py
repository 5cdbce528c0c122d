"""WebSockets of the contact center.

* ``AgentDesktopConsumer`` (``/ws/contact-center/desktop/``): a signed-in agent's desktop.
  It joins the agent's own group; the screen pop (``contactcenter.offer``) and nudges
  (``contactcenter.changed``) arrive there (``live``). On connect it sends the current
  calls, so a reload never loses a ringing call.
* ``WallboardConsumer`` (``/ws/contact-center/wallboard/``): for those who may view the
  wallboard; a fresh snapshot on connect and after changes.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from guanxi.contactcenter.live import WALLBOARD_GROUP, agent_group


class _SignedInConsumer(AsyncWebsocketConsumer):
    group = ""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        allowed, group, first = await self._admit(user)
        if not allowed:
            await self.close(code=4403)
            return
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if first is not None:
            await self.send(json.dumps(first, default=str))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # The page only listens; a ping keeps proxies from closing an idle socket.
        if text_data and text_data.strip() == '"ping"':
            await self.send('"pong"')

    async def notify(self, event):
        await self.send(json.dumps({"event": event["event"], "payload": event["payload"]}, default=str))

    async def _admit(self, user):
        raise NotImplementedError


class AgentDesktopConsumer(_SignedInConsumer):
    @database_sync_to_async
    def _admit(self, user):
        from guanxi.contactcenter import selectors
        from guanxi.core.errors import NotFound, PermissionDenied

        try:
            desktop = selectors.desktop(user)
        except (NotFound, PermissionDenied):
            return False, "", None
        return True, agent_group(user.pk), {"event": "contactcenter.calls", "payload": {"calls": desktop["calls"]}}


class WallboardConsumer(_SignedInConsumer):
    @database_sync_to_async
    def _admit(self, user):
        from guanxi.contactcenter import selectors
        from guanxi.core.errors import PermissionDenied

        try:
            snapshot = selectors.wallboard(user)
        except PermissionDenied:
            return False, "", None
        return True, WALLBOARD_GROUP, {"event": "contactcenter.wallboard", "payload": snapshot}
