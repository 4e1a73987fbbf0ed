"""Whether this page is a money page in payments test mode, for the banner in base.html."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

_MONEY_NAMESPACES = {"ticketing", "stripe_test_provider"}


def payments_test_mode(request: HttpRequest) -> dict[str, bool]:
    match = getattr(request, "resolver_match", None)
    money_page = bool(match and set(match.namespaces) & _MONEY_NAMESPACES)
    return {"payments_test_banner": settings.STRIPE_TEST_MODE and money_page}
