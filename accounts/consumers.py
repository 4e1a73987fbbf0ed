"""A signed-in person's own event socket: bell counts, new messages, live bubbles."""

from __future__ import annotations

import asyncio

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from spaces_site import groups

from .events import user_group

CLOSE_UNAUTHENTICATED = 4401


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A channel-layer outage ends the receive with an error: leave the group all the same.
            await asyncio.shield(self.disconnect(1011))

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        # Kept across Redis restarts (the membership is added again as soon as Redis is back).
        await groups.keep(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        group = self.__dict__.pop("group", None)
        if group is not None:
            await groups.drop(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "error", "message": "This socket only sends; it takes no messages."})

    async def user_event(self, message: dict) -> None:
        await self.send_json(message["event"])
