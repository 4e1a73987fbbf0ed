"""Money in the page frame: the test-mode banner and money styles on money pages, creator links in the nav."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from .models import CreatorProfile

_MONEY_NAMESPACES = {"ticketing", "stripe_test_provider"}


def money(request: HttpRequest) -> dict[str, bool]:
    match = getattr(request, "resolver_match", None)
    money_page = bool(match and set(match.namespaces) & _MONEY_NAMESPACES)
    user = getattr(request, "user", None)
    is_creator = bool(user and user.is_authenticated and CreatorProfile.objects.filter(user=user).exists())
    return {"money_page": money_page, "payments_test_mode": settings.STRIPE_TEST_MODE, "is_creator": is_creator}
