"""How many people are in each live Space, kept without counting rows on a join.

A person's first socket adds one and their last close takes one away, as atomic increments in the shared
cache (Redis with REDIS_URL), after the join or leave commits. A server process that dies takes no one
away, and an increment can be lost to a Redis restart: the presence sweep (`rooms.leases`) writes the
exact figure from the socket leases each time it runs, so a drift lasts at most one sweep.

The figure decides a room's broadcast mode: above SPACES_BROADCAST_FROM_LISTENERS the room stops telling
every socket about every listener who comes or goes (rooms/PROTOCOL.md "Broadcast mode"); each server
process then sends its own sockets the count every SPACES_BROADCAST_COUNT_SECONDS instead.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from spaces_site.per_loop import PerLoop
from spaces_site.process_cache import process_cache

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600  # a live Space's figure is rewritten every sweep; an ended one's fades away


def _key(space_id: int) -> str:
    return f"rooms:headcount:{space_id}"


def _add(space_id: int, delta: int) -> None:
    key = _key(space_id)
    try:
        process_cache().add(key, 0, KEEP_SECONDS)
        process_cache().incr(key, delta)
    except Exception:
        # The next sweep writes the exact figure; a join or leave never fails over a count.
        log.warning("could not update a Space's headcount", exc_info=True)


def arrived(space_id: int, people: int = 1) -> None:
    _add(space_id, people)


def departed(space_id: int) -> None:
    _add(space_id, -1)


def record(counts: dict[int, int]) -> None:
    """The sweep's exact figures, per live Space."""
    try:
        process_cache().set_many({_key(space_id): n for space_id, n in counts.items()}, KEEP_SECONDS)
    except Exception:
        log.warning("could not record the Spaces' headcounts", exc_info=True)


def forget(space_id: int) -> None:
    process_cache().delete(_key(space_id))


def of_many(space_ids: list[int]) -> dict[int, int]:
    """The figures of these Spaces (0 for a Space not counted yet)."""
    found = process_cache().get_many([_key(space_id) for space_id in space_ids])
    return {space_id: max(0, int(found.get(_key(space_id), 0))) for space_id in space_ids}


def of(space_id: int) -> int:
    return of_many([space_id])[space_id]


def is_broadcast(count: int) -> bool:
    return count > settings.SPACES_BROADCAST_FROM_LISTENERS


class _Watcher:
    """This event loop's view of which of its Spaces are in broadcast mode, refreshed every few seconds;
    while one is, its sockets here get the count each time."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        from . import fanout

        while True:
            await asyncio.sleep(settings.SPACES_BROADCAST_COUNT_SECONDS)
            space_ids = fanout.local_space_ids()
            if not space_ids:
                self.counts = {}
                continue
            try:
                # A thread of its own: the sockets' database thread may be busy with a storm of joins.
                self.counts = await asyncio.to_thread(of_many, space_ids)
            except Exception:
                log.warning("could not read the Spaces' headcounts", exc_info=True)
                continue
            for space_id, count in self.counts.items():
                if is_broadcast(count):
                    await fanout.deliver_here(space_id, {"type": "listener_count", "count": count})


_watcher = PerLoop(_Watcher)


def watch() -> None:
    """Start this event loop's watcher (once)."""
    _watcher().start()


def in_broadcast_mode(space_id: int) -> bool:
    """As this process last read it (never a network call: the presence batches ask on every flush)."""
    return is_broadcast(_watcher().counts.get(space_id, 0))


def seen(space_id: int, count: int) -> None:
    """A figure this process just read (a welcome's), so broadcast mode starts without waiting for the watcher."""
    _watcher().counts[space_id] = count
