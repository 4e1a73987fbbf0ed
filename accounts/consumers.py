"""A signed-in person's own event socket: bell counts, new messages, live bubbles."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import user_group

CLOSE_UNAUTHENTICATED = 4401


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "error", "message": "This socket only sends; it takes no messages."})

    async def user_event(self, message: dict) -> None:
        await self.send_json(message["event"])
