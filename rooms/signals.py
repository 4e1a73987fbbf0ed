"""Lifecycle signals other apps hook into (ticketing refunds, captions), so rooms never imports them.

Each is sent inside the service's transaction with `space` as the sender's keyword; a receiver that
starts background work schedules it with `transaction.on_commit`.
"""

from __future__ import annotations

from django.dispatch import Signal

space_started = Signal()  # space
space_ended = Signal()  # space
space_cancelled = Signal()  # space
space_rescheduled = Signal()  # space, previous_time
# Not inside a transaction: each batch of room events a server process sends (rooms/presence.py), as
# [(space_id, {"joins": n, "leaves": n, "reactions": n})]; the replays' listener curves count them.
room_events_batched = Signal()  # batches
