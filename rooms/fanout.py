"""Delivers a Space's control events to this process's sockets in it.

Each process subscribes one channel to a Space's group (not one channel per socket), so a
`group_send` costs the channel layer one message per process, and the process writes the event,
serialised once, to each of its sockets. With Redis this turns 1,000 deliveries per event into 1.

The memberships go through `spaces_site.groups`, which adds them again within a second of Redis coming
back without them (a restart); each socket is then asked to catch up (`resync`) on what it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random

from channels.layers import get_channel_layer

from spaces_site import groups
from spaces_site.per_loop import PerLoop

from . import welcome_cache
from .events import space_group

log = logging.getLogger(__name__)


class _Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.sockets: dict[int, set] = {}
        self.background: set[asyncio.Task] = set()
        self.welcomes = welcome_cache.for_this_loop()

    async def start(self) -> None:
        if self.channel is None:
            # The default "specific" prefix: channels_redis reads all process-local channels from one key.
            self.channel = await self.layer.new_channel()
            self.task = asyncio.get_running_loop().create_task(self._pump())
            groups.on_reset(self._resync_all)

    async def _pump(self) -> None:
        while True:
            message = await groups.receive(self.layer, self.channel, retry_after=0.5, what="room fan-out")
            event = message.get("event")
            if not isinstance(event, dict):
                continue
            text = json.dumps(event, ensure_ascii=False)
            for space_id in [message["space"]] if "space" in message else list(self.sockets):
                self.welcomes.event(space_id, event)
                await self.deliver(space_id, event, text)

    async def deliver(self, space_id: int, event: dict, text: str) -> None:
        for consumer in list(self.sockets.get(space_id, ())):
            try:
                await consumer.space_event(event, text)
            except Exception:
                # One closing socket must not stop delivery to the others.
                log.debug("could not deliver a room event", exc_info=True)

    def _resync_all(self) -> None:
        self.welcomes.forget_all()
        consumers = [consumer for sockets in self.sockets.values() for consumer in sockets]
        spread = min(3.0, len(consumers) / 1000)  # so that thousands of catch-ups don't hit the database at once
        for consumer in consumers:
            task = asyncio.get_running_loop().create_task(consumer.resync(delay=random.random() * spread))
            self.background.add(task)
            task.add_done_callback(self.background.discard)


_hubs = PerLoop(_Hub)


async def _hub() -> _Hub:
    hub = _hubs()
    await hub.start()
    return hub


async def attach(space_id: int, consumer) -> None:
    """Deliver the Space's events to `consumer.space_event`; `consumer.resync` after Redis lost them."""
    hub = await _hub()
    sockets = hub.sockets.setdefault(space_id, set())
    first = not sockets
    sockets.add(consumer)
    if first:
        await groups.keep(space_group(space_id), hub.channel)


async def detach(space_id: int, consumer) -> None:
    """Stop delivering to `consumer`; safe to call twice or for a consumer never attached."""
    hub = await _hub()
    sockets = hub.sockets.get(space_id)
    if sockets is None or consumer not in sockets:
        return
    sockets.discard(consumer)
    if not sockets:
        del hub.sockets[space_id]
        await groups.drop(space_group(space_id), hub.channel)


def local_space_ids() -> list[int]:
    """The Spaces this process holds sockets of."""
    hub = _hubs.existing()
    return list(hub.sockets) if hub is not None else []


async def deliver_here(space_id: int, event: dict) -> None:
    """Give `event` to this process's sockets of the Space only (no channel layer)."""
    hub = await _hub()
    await hub.deliver(space_id, event, json.dumps(event, ensure_ascii=False))


def local_sockets(space_id: int) -> list:
    """This process's sockets in the Space."""
    hub = _hubs.existing()
    return list(hub.sockets.get(space_id, ())) if hub is not None else []


async def deliver_to(consumers: list, event: dict) -> None:
    """Give `event` to these sockets only (a few of this process's, e.g. the hosts')."""
    text = json.dumps(event, ensure_ascii=False)
    for consumer in consumers:
        try:
            await consumer.space_event(event, text)
        except Exception:
            log.debug("could not deliver a room event", exc_info=True)
