"""What the site's views share: a refusal as text, where to send someone next, the way to the log-in page."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def error_text(exc: ValidationError | PermissionDenied) -> str:
    """A service's refusal as one line, for a message, a form error or a socket's `error` event."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """`next` from the form (or the query) when it is a path or URL of this host, else `fallback`
    (a URL, a path or a URL name)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(fallback)


def login_redirect(request: HttpRequest, next_url: str = "") -> HttpResponseRedirect:
    """To the log-in page, and back to `next_url` (already checked, e.g. by `safe_next`) or this page after."""
    return redirect_to_login(next_url or request.get_full_path())
