"""The client's address behind a configured number of trusted reverse proxies (DJANGO_TRUSTED_PROXY_HOPS)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address the nearest trusted proxy saw, never one the client wrote itself.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For, so the
    client's address is the entry `TRUSTED_PROXY_HOPS` from the right; anything left of it came from
    the client and is ignored. With no trusted hops (or a request that did not pass through them all),
    the socket's peer address is the client.
    """
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    candidate = forwarded[-hops] if hops and len(forwarded) >= hops else request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        return request.META.get("REMOTE_ADDR", "") or "unknown"
