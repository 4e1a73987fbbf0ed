"""What an action taken from a page that may be playing audio (a room, a clip) answers."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def action_outcome(request: HttpRequest, back_to: Model, message: str, *, ok: bool) -> HttpResponse:
    """From the page (htmx): the outcome in place, so the page and its audio stay; otherwise the message, and back to
    `back_to` (a Space, a clip)."""
    if request.htmx:
        return render(request, "rooms/_result.html", {"ok": ok, "message": message}, status=200 if ok else 422)
    (messages.success if ok else messages.error)(request, message)
    return redirect(back_to)
