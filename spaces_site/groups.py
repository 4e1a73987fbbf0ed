"""Channel-layer group memberships that survive a Redis restart.

Redis keeps group memberships in memory only, so a restart (or a failover to a server without them) drops
them silently: receives work again and nothing arrives. Every membership a process needs goes through
`keep` and `drop`; a watcher per event loop checks once a second that a marker key of this process is still
in Redis. When Redis answers without it, the watcher adds every membership again and calls the `on_reset`
callbacks so that sockets can catch up on what they missed. It also adds them again every
SPACES_GROUP_REFRESH_SECONDS, since the layer lets memberships expire after a day.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable

from channels.layers import get_channel_layer
from django.conf import settings

from .per_loop import PerLoop

log = logging.getLogger(__name__)
CHECK_SECONDS = 1.0
MARKER_TTL_SECONDS = 24 * 3600


class _Memberships:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.callbacks: list[Callable[[], None]] = []
        self.marker = f"{getattr(self.layer, 'prefix', 'channels')}:alive:{uuid.uuid4().hex}"
        self.watcher: asyncio.Task | None = None
        self.resets = 0

    def _watch_soon(self) -> None:
        # Only a Redis layer forgets memberships; the in-memory layer lives and dies with the process.
        if not hasattr(self.layer, "connection") or (self.watcher is not None and not self.watcher.done()):
            return
        self.watcher = asyncio.get_running_loop().create_task(self._watch())

    async def keep(self, group: str, channel: str) -> None:
        key = (group, channel)
        self.counts[key] += 1
        self._watch_soon()
        if self.counts[key] == 1:
            await self.layer.group_add(group, channel)

    async def drop(self, group: str, channel: str) -> None:
        key = (group, channel)
        if self.counts[key] <= 0:
            return
        self.counts[key] -= 1
        if self.counts[key]:
            return
        del self.counts[key]
        try:
            await self.layer.group_discard(group, channel)
        except Exception:
            # It lapses with the layer's group expiry; meanwhile this process ignores what it receives for it.
            log.warning("could not leave channel group %s", group, exc_info=True)

    async def add_all(self) -> None:
        for group, channel in list(self.counts):
            await self.layer.group_add(group, channel)

    async def _marked(self) -> bool:
        """Put this process's marker in every Redis of the layer; True if one of them had lost it."""
        lost = False
        for index in range(self.layer.ring_size):
            created = await self.layer.connection(index).set(self.marker, "1", nx=True, ex=MARKER_TTL_SECONDS)
            lost = lost or bool(created)
        return lost

    async def _watch(self) -> None:
        marked = False  # the marker was in Redis at least once
        reset = add = False  # memberships to add again (after a loss, to tell the callbacks too)
        refreshed = time.monotonic()
        while True:
            lost = False
            try:
                if await self._marked():
                    reset, add = reset or marked, True
                marked = True
                if add or time.monotonic() - refreshed >= settings.SPACES_GROUP_REFRESH_SECONDS:
                    await self.add_all()
                    for index in range(self.layer.ring_size):
                        await self.layer.connection(index).expire(self.marker, MARKER_TTL_SECONDS)
                    refreshed, lost, reset, add = time.monotonic(), reset, False, False
            except asyncio.CancelledError:
                raise
            except Exception:
                log.info("channel layer unreachable; checking again in %s s", CHECK_SECONDS, exc_info=True)
            if lost:
                self.resets += 1
                log.warning("Redis came back without this process's groups; %d joined again", len(self.counts))
                for callback in list(self.callbacks):
                    try:
                        callback()
                    except Exception:
                        log.exception("a channel-layer reset callback failed")
            await asyncio.sleep(CHECK_SECONDS)


_current = PerLoop(_Memberships)


async def keep(group: str, channel: str) -> None:
    """Add `channel` to `group` and keep it there across Redis restarts until as many `drop`s."""
    await _current().keep(group, channel)


async def drop(group: str, channel: str) -> None:
    """Undo one `keep`; safe to call more often than `keep`."""
    await _current().drop(group, channel)


def on_reset(callback: Callable[[], None]) -> None:
    """Call `callback` (in this event loop) each time the memberships are restored after Redis lost them."""
    _current().callbacks.append(callback)


async def receive(layer, channel: str, *, retry_after: float, what: str) -> dict:
    """The next message of a process's own `channel`. A channel-layer hiccup (a Redis timeout or restart) is
    logged and retried after `retry_after` seconds: it must never end a hub's delivery for good."""
    while True:
        try:
            return await layer.receive(channel)
        except Exception:
            log.warning("%s: channel receive failed; retrying", what, exc_info=True)
            await asyncio.sleep(retry_after)
