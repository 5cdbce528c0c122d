"""The browser's notification socket.

On connect a signed-in user joins their own group. The page then subscribes to the
records it shows (``{"subscribe": "contact", "id": 42}``); the subscription is checked
with the same access selector as the page, so a socket never leaks a record.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.realtime import contact_group, user_group


class NotificationConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = [user_group(user.pk)]
        await self.channel_layer.group_add(self.groups_joined[0], self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "{}")
        except json.JSONDecodeError:
            await self.send(json.dumps({"error": "invalid JSON"}))
            return
        if message.get("subscribe") == "contact":
            allowed = await self._may_view_contact(message.get("id"))
            if not allowed:
                await self.send(json.dumps({"error": "forbidden", "subscribe": "contact", "id": message.get("id")}))
                return
            group = contact_group(int(message["id"]))
            self.groups_joined.append(group)
            await self.channel_layer.group_add(group, self.channel_name)
            await self.send(json.dumps({"subscribed": "contact", "id": int(message["id"])}))

    @database_sync_to_async
    def _may_view_contact(self, contact_id) -> bool:
        from guanxi.core.selectors import access_contact_by_id

        try:
            access_contact_by_id(self.scope["user"], int(contact_id))
        except (NotFound, PermissionDenied, TypeError, ValueError):
            return False
        return True

    async def notify(self, event):
        await self.send(json.dumps({"event": event["event"], "payload": event["payload"]}))
