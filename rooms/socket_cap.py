"""At most SPACES_MAX_SOCKETS_PER_ACCOUNT sockets per account per Space, across every server process.

Each socket of an account in a Space takes the next number from a counter in the cache and records
its channel name under that number. Once more than the cap are open, the oldest are told over the
channel layer (`socket.superseded`) and close with CLOSE_SUPERSEDED. Entries expire, so a process
that died without cleaning up leaves nothing for long, and a stale entry is the first to be dropped.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

CLOSE_SUPERSEDED = 4406
ENTRY_SECONDS = 12 * 3600
WINDOW = 64  # how many recent numbers are looked at; older live sockets were already counted when they were recent


def _prefix(space_id: int, user_id: int) -> str:
    return f"sockets:{settings.RATE_LIMIT_KEY_PREFIX}:{space_id}:{user_id}"


def _register(space_id: int, user_id: int, channel_name: str) -> tuple[int, list[str]]:
    prefix = _prefix(space_id, user_id)
    cache.add(f"{prefix}:seq", 0, timeout=ENTRY_SECONDS)
    try:
        number = cache.incr(f"{prefix}:seq")
    except ValueError:
        cache.set(f"{prefix}:seq", 1, timeout=ENTRY_SECONDS)
        number = 1
    cache.set(f"{prefix}:{number}", channel_name, timeout=ENTRY_SECONDS)
    keys = [f"{prefix}:{n}" for n in range(max(1, number - WINDOW), number + 1)]
    found = cache.get_many(keys)
    alive = [key for key in keys if key in found]  # oldest first
    excess = alive[: max(0, len(alive) - settings.SPACES_MAX_SOCKETS_PER_ACCOUNT)]
    if excess:
        cache.delete_many(excess)
    return number, [found[key] for key in excess]


async def register(space_id: int, user_id: int, channel_name: str) -> int:
    """Record a new socket; close the oldest of this account's sockets in the Space past the cap."""
    number, superseded = await sync_to_async(_register, thread_sensitive=False)(space_id, user_id, channel_name)
    layer = get_channel_layer()
    for channel in superseded:
        await layer.send(channel, {"type": "socket.superseded"})
    return number


async def unregister(space_id: int, user_id: int, number: int) -> None:
    await sync_to_async(cache.delete, thread_sensitive=False)(f"{_prefix(space_id, user_id)}:{number}")
