"""The host's listener curve: per Space and wall-clock minute, people present, joins, leaves and reactions.

Rooms add their batched joins, leaves and reactions to counters in the cache (one increment per kind per
Space per batch, rooms/presence.py); a periodic sample turns the counters and the people present into one
ListenerSample row per minute (updated in place while the minute lasts), so nothing is a row per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef
from django.utils import timezone

from rooms.leases import live_socket_of
from rooms.models import Participant, Space
from spaces_site.process_cache import process_cache

from .models import ListenerSample

KINDS = ("joins", "leaves", "reactions")
KEEP_COUNTERS_S = 3 * 3600  # long after the sample that reads them


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _key(space_id: int, minute: datetime, kind: str) -> str:
    return f"replays:curve:{space_id}:{int(minute.timestamp()) // 60}:{kind}"


def count_events(batches: Iterable[tuple[int, dict[str, int]]], *, now: datetime | None = None) -> None:
    """Add (space id, {kind: n}) batches to this minute's counters."""
    minute = _minute(now or timezone.now())
    for space_id, counts in batches:
        for kind, n in counts.items():
            if n:
                key = _key(space_id, minute, kind)
                process_cache().add(key, 0, KEEP_COUNTERS_S)
                try:
                    process_cache().incr(key, n)
                except ValueError:  # expired between the two calls
                    process_cache().set(key, n, KEEP_COUNTERS_S)


def _present(space_ids: list[int]) -> dict[int, int]:
    present = Participant.objects.filter(space_id__in=space_ids, removed_at__isnull=True).filter(
        live_socket_of(OuterRef("pk"))
    )
    return dict(present.order_by().values("space_id").annotate(n=Count("pk")).values_list("space_id", "n"))


def sample(*, space_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Write this minute's and the previous minute's rows for every live Space (or `space_ids`); returns how
    many Spaces were sampled. Idempotent: the counters are read, not consumed, so running it twice is harmless."""
    now = now or timezone.now()
    if space_ids is None:
        space_ids = list(Space.objects.filter(state=Space.State.LIVE).values_list("pk", flat=True))
    if not space_ids:
        return 0
    present = _present(space_ids)
    minutes = (_minute(now) - timedelta(minutes=1), _minute(now))
    counters = process_cache().get_many([_key(s, m, k) for s in space_ids for m in minutes for k in KINDS])
    existing = {
        (row.space_id, row.minute): row
        for row in ListenerSample.objects.filter(space_id__in=space_ids, minute__in=minutes)
    }
    for space_id in space_ids:
        for minute in minutes:
            counts = {kind: counters.get(_key(space_id, minute, kind), 0) for kind in KINDS}
            row = existing.get((space_id, minute))
            if row is None:
                if minute != minutes[-1] and not any(counts.values()):
                    continue  # before this Space's first sample
                ListenerSample.objects.get_or_create(
                    space_id=space_id, minute=minute, defaults={"listeners": present.get(space_id, 0), **counts}
                )
                continue
            if minute == minutes[-1]:
                row.listeners = max(row.listeners, present.get(space_id, 0))
            for kind, n in counts.items():
                setattr(row, kind, max(getattr(row, kind), n))
            row.save(update_fields=["listeners", *KINDS])
    return len(space_ids)


# -- drawing, for the host's replay page ----------------------------------------------------------------

WIDTH, TOP, LINE_H, BASE, BAR_H = 1000, 14, 70, 122, 28  # the SVG's viewBox units


def drawing(*, space: Space, pin_ms: Iterable[int] = ()) -> dict | None:
    """What the template draws: the listener line, join and leave bars, reaction dots and pin marks, on the
    replay's time axis (ms since the Space went live). None when nothing was sampled."""
    if space.started_at is None or space.ended_at is None:
        return None
    rows = list(ListenerSample.objects.filter(space=space).order_by("minute"))
    if not rows:
        return None
    duration = max(1.0, (space.ended_at - space.started_at).total_seconds() * 1000)

    def x(ms: float) -> float:
        return round(min(max(ms, 0.0), duration) / duration * WIDTH, 1)

    peak = max(r.listeners for r in rows) or 1
    busiest = max(max(r.joins, r.leaves) for r in rows) or 1
    loudest = max(r.reactions for r in rows) or 1
    minutes, points = [], []
    for row in rows:
        start = (row.minute - space.started_at).total_seconds() * 1000
        x0, x1 = x(start), x(start + 60_000)
        y = round(TOP + LINE_H - row.listeners / peak * LINE_H, 1)
        points += [f"{x0},{y}", f"{x1},{y}"]
        width = max(1.0, round((x1 - x0) * 0.4, 1))
        minutes.append(
            {
                "at_ms": max(0, int(start)),
                "row": row,
                "x": x0,
                "bar_w": width,
                "leave_x": round(x0 + width, 1),
                "join_h": round(row.joins / busiest * BAR_H, 1),
                "join_y": round(BASE - row.joins / busiest * BAR_H, 1),
                "leave_h": round(row.leaves / busiest * BAR_H, 1),
                "reaction_r": round(1 + row.reactions / loudest * 4, 1) if row.reactions else 0,
                "mid_x": round((x0 + x1) / 2, 1),
            }
        )
    peak_row = max(rows, key=lambda r: r.listeners)
    return {
        "width": WIDTH,
        "height": BASE + BAR_H + 4,
        "base": BASE,
        "points": " ".join(points),
        "minutes": minutes,
        "pins": [x(ms) for ms in pin_ms],
        "duration_ms": int(duration),
        "peak": peak_row.listeners,
        "peak_ms": max(0, int((peak_row.minute - space.started_at).total_seconds() * 1000)),
        "joins": sum(r.joins for r in rows),
        "leaves": sum(r.leaves for r in rows),
        "reactions": sum(r.reactions for r in rows),
    }
