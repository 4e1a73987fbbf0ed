"""Replays found by the words spoken in them: full-text search of the kept transcripts (PostgreSQL), a plain
`icontains` on SQLite; only Spaces with a replay the person may hear (rooms.access.can_replay)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F

from accounts.models import User
from rooms import access
from rooms.models import Space
from rooms.replays.models import Recording

from .models import CaptionSegment

MAX_SPACES = 20
MAX_SEGMENTS = 500


@dataclass(frozen=True)
class Hit:
    space: Space
    segment: CaptionSegment
    more: int  # other matching moments in the same Space

    @property
    def seconds(self) -> int:
        return self.segment.start_ms // 1000


def replay_search(*, query: str, user: User) -> list[Hit]:
    """The best moment of each replay whose transcript matches `query`, best first."""
    query = query.strip()
    if not query:
        return []
    segments = CaptionSegment.objects.filter(
        space__state=Space.State.ENDED, space__recording__state=Recording.State.READY
    ).select_related("space", "space__host", "speaker")
    if connection.vendor == "postgresql":
        words = SearchQuery(query, config="english", search_type="websearch")
        segments = (
            segments.annotate(document=SearchVector("text", config="english"))
            .filter(document=words)
            .annotate(rank=SearchRank(F("document"), words))
            .order_by("-rank", "-space__ended_at", "start_ms")
        )
    else:
        segments = segments.filter(text__icontains=query).order_by("-space__ended_at", "start_ms")
    best: dict[int, CaptionSegment] = {}
    counts: dict[int, int] = {}
    allowed: dict[int, bool] = {}
    for segment in segments[:MAX_SEGMENTS]:
        space_id = segment.space_id
        if space_id not in allowed:
            allowed[space_id] = bool(access.can_replay(space=segment.space, user=user))
        if not allowed[space_id]:
            continue
        counts[space_id] = counts.get(space_id, 0) + 1
        if space_id not in best:
            if len(best) == MAX_SPACES:
                continue
            best[space_id] = segment
    return [Hit(segment.space, segment, counts[space_id] - 1) for space_id, segment in best.items()]
