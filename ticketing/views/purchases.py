"""A person's own purchases: the tickets, Super Follows and tips they paid for, and where each stands."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ticketing import selectors


@login_required
@require_GET
def purchases(request: HttpRequest) -> HttpResponse:
    context = {"purchases": selectors.purchases_of(buyer=request.user), "shown": selectors.PURCHASES_SHOWN}
    return render(request, "ticketing/purchases.html", context)
