"""The shared part of a room's `welcome`, built once and reused by the joins of a storm.

Every socket of a Space gets the same stage, first listeners and pins (`selectors.room_shared_snapshot`);
only `me`, the block lists, `invited` and the count are the joiner's own. In a big Space (more listeners than
the welcome lists) building the shared part is most of a join's database work, so each process keeps it per
Space for at most MAX_AGE_S and drops it as soon as a room event that may change it reaches the process
(`rooms.fanout`), or after Redis lost the room's events for a while. A join served from here can miss only what
a join without it misses too: an event sent between its snapshot and its socket joining the fan-out. A small
Space's shared part is built afresh for every join: it is cheap, and its list is its exact count.

The room page is drawn from the same shared part (rooms/room_page.py), in a request's thread where the room's
events do not reach: `for_page` keeps a big Space's part per process for MAX_AGE_S whatever happens meanwhile.
A page drawn from a part a second old is brought up to date by its socket's `welcome` a moment later; when a
famous account goes live, thousands of its followers open the page within seconds and draw it from one build.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from spaces_site.per_loop import PerLoop

MAX_AGE_S = 1.0

# Events that leave the shared part as it was.
UNCHANGING_EVENTS = frozenset(
    {
        "reactions",
        "listener_count",
        "caption",
        "caption_notice",
        "caption_alert",
        "question",
        "question_hidden",
        "questions",
        "socket_superseded",
        "waiting_count",
    }
)


@dataclass(frozen=True)
class _Entry:
    started_at: datetime | None  # a Space id of a deleted Space may come back (SQLite reuses ids)
    generation: tuple[int, int]
    built: float
    shared: dict


class WelcomeCache:
    """One per event loop: written from the database thread, forgotten from the loop (plain dict operations)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._generations: Counter[int] = Counter()
        self._epoch = 0  # moved on by forget_all, so that builds under way for any Space are not kept

    def shared(self, space_id: int, started_at: datetime | None, build: Callable[[], dict]) -> dict:
        generation = self._epoch, self._generations[space_id]
        entry = self._entries.get(space_id)
        now = time.monotonic()
        if (
            entry is not None
            and entry.started_at == started_at
            and entry.generation == generation
            and now - entry.built < MAX_AGE_S
        ):
            return entry.shared
        shared = build()
        if not shared["complete"] and (self._epoch, self._generations[space_id]) == generation:
            self._entries[space_id] = _Entry(started_at, generation, now, shared)
        return shared

    def event(self, space_id: int, event: dict) -> None:
        if event.get("type") not in UNCHANGING_EVENTS:
            self.forget(space_id)

    def forget(self, space_id: int) -> None:
        self._generations[space_id] += 1
        self._entries.pop(space_id, None)

    def forget_all(self) -> None:
        self._epoch += 1
        self._entries.clear()


for_this_loop = PerLoop(WelcomeCache)


@dataclass(frozen=True)
class _PageEntry:
    started_at: datetime | None
    built: float
    shared: dict


_pages: dict[int, _PageEntry] = {}
_pages_lock = threading.Lock()


def for_page(space_id: int, started_at: datetime | None, build: Callable[[], dict]) -> dict:
    """The shared part for a room page: a big Space's kept for MAX_AGE_S, a small Space's built afresh."""
    now = time.monotonic()
    entry = _pages.get(space_id)
    if entry is not None and entry.started_at == started_at and now - entry.built < MAX_AGE_S:
        return entry.shared
    shared = build()
    if not shared["complete"]:
        with _pages_lock:  # the requests' threads write here together
            for old in [key for key, kept in _pages.items() if now - kept.built >= MAX_AGE_S]:
                del _pages[old]
            _pages[space_id] = _PageEntry(started_at, now, shared)
    return shared


def forget_pages() -> None:
    """Drop every Space's part kept for pages (tests start from none)."""
    with _pages_lock:
        _pages.clear()
