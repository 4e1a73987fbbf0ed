"""The Redis channel layer, with one-shot sends that survive a Redis restart.

channels-redis pools its connections without a retry, so after a Redis restart every idle connection in a
process's pool fails its next command once ("Connection closed by server"). Loops that receive retry by
themselves (spaces_site/groups.py), but a one-shot send on a stale connection (a mute, a removal, a presence
batch) would be lost. These sends are retried on a connection error: the failure happens before Redis ran
the command, and room events are idempotent anyway. The retry is here, around the layer's sends, and not in
redis-py's connection options: there it would also wrap the blocking receive, whose cancellation the layer
relies on to hand its receive lock from one event loop to the next.

The pool also raises (MaxConnectionsError) instead of waiting once redis-py's 100 connections are out, and a
burst of sockets connecting at once (each adding its group membership, e.g. a thousand pages coming back after
a server process died) took them all: memberships failed after their retries, and the process's receive found
no connection. At most COMMANDS_AT_ONCE of these commands run at once on each event loop; the others wait
their turn, leaving the pool's other connections to the receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError

from .per_loop import PerLoop

ATTEMPTS = 3
FIRST_PAUSE_S = 0.05
COMMANDS_AT_ONCE = 50

_turns = PerLoop(lambda: asyncio.Semaphore(COMMANDS_AT_ONCE))


async def _with_retry(send: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    async with _turns():
        for attempt in range(ATTEMPTS):
            try:
                return await send(*args)
            except RedisConnectionError:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(FIRST_PAUSE_S * 2**attempt)


class RetryingRedisChannelLayer(RedisChannelLayer):
    async def send(self, channel, message):
        return await _with_retry(super().send, channel, message)

    async def group_send(self, group, message):
        return await _with_retry(super().group_send, group, message)

    async def group_add(self, group, channel):
        return await _with_retry(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        return await _with_retry(super().group_discard, group, channel)
