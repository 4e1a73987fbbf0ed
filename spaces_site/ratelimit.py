"""Rate limits shared by every server process: counters in the Django cache (Redis with REDIS_URL).

`check(action, who)` raises `RateLimited` (a ValidationError, so forms and services show it as an
error) once `who` has done `action` more often than `settings.RATE_LIMITS[action]` allows in the
last period (a sliding window estimated from two fixed ones, so a window boundary does not let a
burst through).
"""

from __future__ import annotations

import math
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from .process_cache import process_cache

# What a person is told, before "Try again in …".
MESSAGES = {
    "post": "You're posting too fast.",
    "message": "You're sending messages too fast.",
    "report": "You've sent a lot of reports.",
    "follow": "You're following people too fast.",
    "invite": "You're sending invitations too fast.",
    "invite_person": "You've invited this person several times already.",
    "share_dm": "You're sharing too fast.",
    "space_create": "You're creating Spaces too fast.",
    "react": "You're reacting too fast.",
    "question": "You're asking questions too fast.",
}


class RateLimited(ValidationError):
    """Refused for now; `retry_after` is how many seconds until the window turns over."""

    def __init__(self, action: str, retry_after: int) -> None:
        self.action = action
        self.retry_after = retry_after
        super().__init__(f"{MESSAGES.get(action, 'Too many requests.')} Try again in {_wait(retry_after)}.")


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes" if minutes < 90 else f"{math.ceil(minutes / 60)} hours"


def _key(*parts: object) -> str:
    return ":".join(["rl", settings.RATE_LIMIT_KEY_PREFIX, *map(str, parts)])


def hit(action: str, who: object, *, rate: tuple[int, int] | None = None) -> int:
    """Count one `action` by `who`; 0 if allowed, else the seconds until it is allowed again.

    A sliding window, estimated from two fixed ones: the previous window's count weighs as much as
    it still overlaps the last `period` seconds. A refused attempt is not counted.
    """
    limit, period = rate or settings.RATE_LIMITS[action]
    now = time.time()
    window, into = divmod(now, period)
    current, previous = _key(action, who, int(window)), _key(action, who, int(window) - 1)
    cache = process_cache()
    try:
        count = cache.incr(current)
    except ValueError:  # the first in this window (or another process is creating it right now)
        count = 1 if cache.add(current, 1, timeout=2 * period + 5) else cache.incr(current)
    before = cache.get(previous) or 0
    if before * (1 - into / period) + count <= limit:
        return 0
    cache.decr(current)
    if count > limit or not before:
        return max(1, math.ceil(period - into))
    # Allowed again once the previous window's weight has shrunk enough.
    return max(1, math.ceil((1 - (limit - count) / before) * period - into))


def check(action: str, who: object) -> None:
    if wait := hit(action, who):
        raise RateLimited(action, wait)


def allowed(action: str, who: object, *, rate: tuple[int, int] | None = None) -> bool:
    return not hit(action, who, rate=rate)


# Off the thread that runs database work for consumers: a cache round trip must not queue behind queries.
aallowed = sync_to_async(allowed, thread_sensitive=False)


def first_time(*parts: object, seconds: int) -> bool:
    """True once per `seconds` for the same parts (e.g. one view per person per day), in every process."""
    return process_cache().add(_key("once", *parts), 1, timeout=seconds)


def form_status(form, *, invalid: int = 422) -> int:
    """The status of a page showing `form`: 429 when a rate limit refused it, `invalid` for other errors."""
    if not form.errors:
        return 200
    errors = [error for found in form.errors.as_data().values() for error in found]
    return 429 if any(isinstance(error, RateLimited) for error in errors) else invalid
