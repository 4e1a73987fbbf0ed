"""A signed-in person's own event socket: bell counts, new messages, live bubbles."""

from __future__ import annotations

import asyncio
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from spaces_site import groups
from spaces_site.close_codes import CloseCode
from spaces_site.dispatch import DirectDispatch

from . import online
from .events import user_group

log = logging.getLogger(__name__)


class UserEventsConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    # The socket's channel is read by a loop of its own that waits out a Redis restart; Channels' own reader
    # would end the socket with the first failed read.
    channel_layer_alias = None
    group: str | None = None
    reader: asyncio.Task | None = None
    user_id: int | None = None

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await asyncio.shield(self.disconnect(1011))

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CloseCode.UNAUTHENTICATED)
            return
        self.channel_layer = get_channel_layer()
        self.channel_name = await self.channel_layer.new_channel()
        self.group = user_group(user.pk)
        await self.accept()
        self.reader = asyncio.get_running_loop().create_task(self._read())
        # Pushes to many people (go-live notices, live bubbles) come through this process's hub instead.
        self.user_id = user.pk
        online.arrived(user.pk, self._push)
        try:
            # Kept across Redis restarts: added again as soon as Redis answers, if it is down now.
            await groups.keep(self.group, self.channel_name)
        except Exception:
            log.warning("could not join %s yet; it is added once the channel layer answers", self.group)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.info("user event receive failed; retrying", exc_info=True)
                await asyncio.sleep(groups.CHECK_SECONDS / 2)
                continue
            if message.get("type") == "user.event":
                await self.user_event(message)
            elif message.get("type") == "user.sign_out":
                await self.close(code=CloseCode.UNAUTHENTICATED)
                return

    async def disconnect(self, code: int) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.cancel()
        user_id, self.user_id = self.user_id, None
        if user_id is not None:
            online.departed(user_id, self._push)
        group, self.group = self.group, None
        if group is not None:
            await groups.drop(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "error", "message": "This socket only sends; it takes no messages."})

    async def user_event(self, message: dict) -> None:
        await self.send_json(message["event"])

    async def _push(self, event: dict) -> None:
        try:
            await self.send_json(event)
        except Exception:
            log.info("a push to a closing /ws/me/ socket was dropped", exc_info=True)
