"""The reader's time zone: known IANA names, and the middleware that shows every time in it."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# Set by static/js/time-zone.js from the browser, for visitors who are not signed in (and until a
# signed-in person's account has a zone of its own).
COOKIE = "tz"


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    # Not places: "localtime" is whatever the server's own zone is, "Factory" shows times as "-00".
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    if not name or name not in known_zones():
        return None
    return zoneinfo.ZoneInfo(name)


class TimeZoneMiddleware:
    """Activate the account's zone, else the browser's (the cookie), else UTC; times are stored in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        own = user.time_zone if user is not None and user.is_authenticated else ""
        # The cookie is URI-encoded by the script ("Asia%2FTokyo"); Django hands cookie values over as sent.
        zone = zone_named(own) or zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
