"""Keyset (cursor) pagination over (created_at, id), newest first."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.db.models import Q, QuerySet

T = TypeVar("T")


BROKEN = "That page link is broken, so here is the newest page."


class BadCursor(ValueError):
    pass


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        created_at, number = datetime.fromisoformat(stamp), int(pk)
    except (ValueError, UnicodeError) as exc:
        raise BadCursor(BROKEN) from exc
    # Past the id column's range the database raises, not Python; a naive time would be read as local.
    if not 0 < number < 2**63 or created_at.tzinfo is None:
        raise BadCursor(BROKEN)
    return created_at, number


def newest_first(queryset: QuerySet, *, cursor: str | None, limit: int) -> Page:
    if cursor:
        created_at, pk = decode_cursor(cursor)
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    items = list(queryset.order_by("-created_at", "-pk")[: limit + 1])
    next_cursor = encode_cursor(items[limit - 1].created_at, items[limit - 1].pk) if len(items) > limit else None
    return Page(items=items[:limit], next_cursor=next_cursor)
