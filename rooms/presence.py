"""Batches the noisy parts of a room (reactions, listeners coming and going) into periodic events.

A burst of thousands of reactions or joins becomes one `reactions` and one `presence` event per
Space per flush interval per process, instead of one message per reaction per socket. A Space in
broadcast mode (`rooms.headcount`) gets only the stage's comings and goings: its counts come from the
headcount every few seconds, and its listener list a page at a time on request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from spaces_site.per_loop import PerLoop

from . import headcount
from .events import space_group, space_message
from .models import SPEAKING_ROLES
from .signals import room_events_batched

log = logging.getLogger(__name__)


class TokenBucket:
    """`capacity` messages per `period` seconds, refilled continuously; no timers, no queries."""

    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class _Pending:
    reactions: Counter = field(default_factory=Counter)
    joined: dict[int, dict] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)
    left_stage: set[int] = field(default_factory=set)  # of `left`, those who held a seat on the stage

    def presence(self, broadcast_mode: bool) -> dict | None:
        """The `presence` event of this batch; in broadcast mode only the stage's comings and goings."""
        joined, left = list(self.joined.values()), self.left
        if broadcast_mode:
            joined = [p for p in joined if p["role"] in SPEAKING_ROLES]
            left = self.left_stage
        if not joined and not left:
            return None
        return {"type": "presence", "joined": joined, "left": sorted(left)}


class Batcher:
    def __init__(self) -> None:
        self.pending: dict[int, _Pending] = {}
        self.task: asyncio.Task | None = None
        self.interval = settings.SPACES_REACTION_FLUSH_MS / 1000

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def react(self, space_id: int, emoji: str) -> None:
        self.pending.setdefault(space_id, _Pending()).reactions[emoji] += 1
        self._ensure_running()

    def joined(self, space_id: int, participant: dict) -> None:
        pending = self.pending.setdefault(space_id, _Pending())
        pending.left.discard(participant["user_id"])
        pending.joined[participant["user_id"]] = participant
        self._ensure_running()

    def left(self, space_id: int, user_id: int, *, on_stage: bool = False) -> None:
        pending = self.pending.setdefault(space_id, _Pending())
        pending.joined.pop(user_id, None)
        pending.left.add(user_id)
        if on_stage:
            pending.left_stage.add(user_id)
        self._ensure_running()

    async def flush(self) -> None:
        pending, self.pending = self.pending, {}
        layer = get_channel_layer()
        for space_id, batch in pending.items():
            event = batch.presence(headcount.in_broadcast_mode(space_id))
            if event is not None:
                await layer.group_send(space_group(space_id), space_message(space_id, event))
            if batch.reactions:
                event = {"type": "reactions", "counts": dict(batch.reactions)}
                await layer.group_send(space_group(space_id), space_message(space_id, event))
        await _count_for_curves(pending)

    async def _run(self) -> None:
        while self.pending:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                # A lost batch is a few reactions; the room itself must keep going.
                log.exception("could not send a batch of room events")


async def _count_for_curves(pending: dict[int, _Pending]) -> None:
    """Tell who counts batches (the replays' listener curves, rooms/replays/curve.py); never holds up the room."""
    batches = [
        (space_id, {"joins": len(b.joined), "leaves": len(b.left), "reactions": sum(b.reactions.values())})
        for space_id, b in pending.items()
    ]
    try:
        await sync_to_async(room_events_batched.send, thread_sensitive=False)(sender=Batcher, batches=batches)
    except Exception:
        log.warning("could not count a batch for the listener curves", exc_info=True)


batcher = PerLoop(Batcher)
