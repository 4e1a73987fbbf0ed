"""Who is online on which server process, so that a push to many people costs one message per process.

Every event loop that serves /ws/me/ sockets runs a hub: it knows which people have a socket open here,
reads one channel-layer channel of its own, and publishes the set of its people to a registry (the channel
layer's Redis; this process's memory in the embedded default, where tasks run in the serving process). A hub
publishes at once when its first person arrives, then at most once a second while people come and go, and
every REFRESH_SECONDS in any case with an expiry of EXPIRE_SECONDS: a killed process's entry lapses by
itself, and after a Redis restart the hub publishes again as soon as spaces_site.groups sees Redis back.
`push_to_users` (accounts.events) asks the registry which hubs hold which of its recipients and sends each
of those hubs one message listing its own, so 100,000 followers of whom 3,000 are online on two processes
cost two messages, not 100,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable
from functools import cache
from typing import Any

from channels.layers import get_channel_layer

from spaces_site import groups
from spaces_site.per_loop import PerLoop

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
EXPIRE_SECONDS = 30
PUBLISH_EVERY_SECONDS = 1.0
MESSAGE_TYPE = "users.event"

Deliver = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


# --- the registry: hub channel -> the people with a socket on that hub ---


class _MemoryRegistry:
    """The embedded default: one process serves the sockets and runs the tasks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hubs: dict[str, tuple[frozenset[int], float]] = {}

    def publish(self, channel: str, user_ids: Iterable[int]) -> None:
        people = frozenset(user_ids)
        with self.lock:
            if people:
                self.hubs[channel] = (people, time.monotonic() + EXPIRE_SECONDS)
            else:
                self.hubs.pop(channel, None)

    def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        now = time.monotonic()
        with self.lock:
            hubs = [(channel, people) for channel, (people, expires) in self.hubs.items() if expires > now]
        found = {channel: [uid for uid in user_ids if uid in people] for channel, people in hubs}
        return {channel: ids for channel, ids in found.items() if ids}


class _RedisRegistry:
    """A sorted set of hubs (scored by expiry) and one set of user ids per hub, each with an expiry."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.hubs_key = f"{prefix}:online:hubs"
        self.prefix = prefix

    def _people_key(self, channel: str) -> str:
        return f"{self.prefix}:online:hub:{channel}"

    def publish(self, channel: str, user_ids: Iterable[int]) -> None:
        people = list(user_ids)
        key, now = self._people_key(channel), time.time()
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        if people:
            pipe.sadd(key, *people)
            pipe.expire(key, EXPIRE_SECONDS)
            pipe.zadd(self.hubs_key, {channel: now + EXPIRE_SECONDS})
        else:
            pipe.zrem(self.hubs_key, channel)
        pipe.zremrangebyscore(self.hubs_key, "-inf", now)
        pipe.execute()

    def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found_hubs: list[bytes] = self.client.zrangebyscore(self.hubs_key, time.time(), "+inf")  # type: ignore[assignment]
        hubs = [h.decode() for h in found_hubs]
        if not hubs or not user_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for channel in hubs:
            pipe.smismember(self._people_key(channel), user_ids)
        found = {}
        for channel, flags in zip(hubs, pipe.execute(), strict=True):
            ids = [uid for uid, here in zip(user_ids, flags, strict=True) if here]
            if ids:
                found[channel] = ids
        return found


@cache
def _registry_for(redis_url: str, prefix: str) -> _MemoryRegistry | _RedisRegistry:
    return _RedisRegistry(redis_url, prefix) if redis_url else _MemoryRegistry()


def registry() -> _MemoryRegistry | _RedisRegistry:
    """Beside the channel layer: in its (first) Redis, or in memory with the in-memory layer."""
    layer = get_channel_layer()
    hosts = getattr(layer, "hosts", None)
    return _registry_for(hosts[0]["address"] if hosts else "", getattr(layer, "prefix", "spaces"))


def hubs_holding(user_ids: Iterable[int]) -> dict[str, list[int]]:
    """Hub channel -> those of `user_ids` with a /ws/me/ socket on that hub (each hub at most once)."""
    return registry().locate(sorted(set(user_ids)))


# --- the hub of one event loop ---


class _Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.sockets: defaultdict[int, set[Deliver]] = defaultdict(set)
        self.changed = asyncio.Event()
        self.ready = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.sending: set[asyncio.Task] = set()
        # Redis came back without this process's keys: publish again at once, not at the next refresh.
        groups.on_reset(self.changed.set)

    def start(self) -> None:
        if self.tasks and not any(task.done() for task in self.tasks):
            return
        for task in self.tasks:
            task.cancel()
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._read()), loop.create_task(self._publish())]

    def add(self, user_id: int, deliver: Deliver) -> None:
        self.sockets[user_id].add(deliver)
        self.changed.set()
        self.start()

    def remove(self, user_id: int, deliver: Deliver) -> None:
        held = self.sockets.get(user_id)
        if held is None:
            return
        held.discard(deliver)
        if not held:
            del self.sockets[user_id]
            self.changed.set()

    async def _read(self) -> None:
        # The layer's default prefix: the Redis layer reads all of a process's own channels through one
        # receive loop per prefix, and a second prefix would wait behind the sockets' loop for its turn.
        self.channel = await self.layer.new_channel()
        self.ready.set()
        while True:
            message = await groups.receive(
                self.layer, self.channel, retry_after=PUBLISH_EVERY_SECONDS, what="online hub"
            )
            if message.get("type") == MESSAGE_TYPE:
                self._deliver(message["user_ids"], message["event"])

    def _deliver(self, user_ids: list[int], event: dict[str, Any]) -> None:
        # One task per socket: a socket slow to take its message does not hold up the others.
        loop = asyncio.get_running_loop()
        for user_id in user_ids:
            for deliver in list(self.sockets.get(user_id, ())):
                task = loop.create_task(deliver(event))
                self.sending.add(task)
                task.add_done_callback(self.sending.discard)

    async def _publish(self) -> None:
        await self.ready.wait()
        assert self.channel is not None
        try:
            while True:
                with contextlib.suppress(TimeoutError):  # no change: the periodic refresh, renewing the expiry
                    await asyncio.wait_for(self.changed.wait(), REFRESH_SECONDS)
                self.changed.clear()
                try:
                    await asyncio.to_thread(registry().publish, self.channel, list(self.sockets))
                except Exception:
                    log.warning("could not publish who is online here; trying again", exc_info=True)
                    self.changed.set()
                await asyncio.sleep(PUBLISH_EVERY_SECONDS)
        finally:
            # The loop is ending: take this hub out of the registry at once rather than at its expiry.
            try:
                registry().publish(self.channel, [])
            except Exception:
                log.info("could not withdraw an ending hub; its entry expires", exc_info=True)


_hub = PerLoop(_Hub)


def arrived(user_id: int, deliver: Deliver) -> None:
    """A /ws/me/ socket of `user_id` opened in this event loop; `deliver` sends it one event."""
    _hub().add(user_id, deliver)


def departed(user_id: int, deliver: Deliver) -> None:
    _hub().remove(user_id, deliver)
