"""Delivering the provider's events to the project's webhook endpoint, signed as Stripe signs them.

The body is POSTed to `/money/stripe/webhook/` with `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256
of "t.body" with the endpoint's signing secret>`. With `STRIPE_TEST_WEBHOOK_URL` set it goes over
HTTP to that URL; otherwise through the project's own request handler in this process (middleware,
URL routing and the view, as a request from the network would), so the embedded default needs no
second server and never calls itself over a socket.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.http.request import validate_host
from django.urls import reverse

from . import store

logger = logging.getLogger(__name__)

# Stripe retries a failed delivery for up to three days with exponential backoff.
RETRY_SECONDS = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)


def signature_header(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` value made with Stripe's scheme: HMAC-SHA256 over "t.body"."""
    body = payload.decode() if isinstance(payload, bytes) else payload
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@lru_cache(maxsize=1)
def _handler() -> BaseHandler:
    handler = BaseHandler()
    handler.load_middleware()
    return handler


def _in_process_host(origin: str | None) -> tuple[str, str, str]:
    """(scheme, host, port) for an in-process delivery: the site the payment came from if this server
    answers to that name, else a name it does answer to (the request never leaves the process)."""
    parts = urlsplit(origin or "")
    scheme = parts.scheme or "http"
    if parts.hostname and validate_host(parts.hostname, settings.ALLOWED_HOSTS):
        return scheme, parts.hostname, str(parts.port or (443 if scheme == "https" else 80))
    named = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"]
    return scheme, (named[0] if named else "localhost"), "80"


def _post_in_process(*, origin: str | None, body: bytes, signature: str) -> tuple[int, str]:
    scheme, host, port = _in_process_host(origin)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("ticketing:stripe_webhook"),
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host if port in ("80", "443") else f"{host}:{port}",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "HTTP_STRIPE_SIGNATURE": signature,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": scheme,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    # get_response, not the WSGI entry point: no request_started/finished signals, so the database
    # connection of a request that is delivering an event is left alone.
    response = _handler().get_response(WSGIRequest(environ))
    return response.status_code, response.content.decode(errors="replace")[:500]


def _post_http(*, url: str, body: bytes, signature: str) -> tuple[int, str]:
    if urlsplit(url).scheme not in ("http", "https"):
        return 0, f"STRIPE_TEST_WEBHOOK_URL={url!r} is not an http(s) URL"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - checked above
            return response.status, response.read(500).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode(errors="replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def event_deliver(*, event_id: str) -> bool:
    """POST the event once; True when the endpoint answered 2xx (or it was delivered before)."""
    event = store.get("event", event_id)
    if event is None:
        return True
    if event.private.get("delivered_at"):
        return True
    body = json.dumps(event.data, indent=2).encode()
    signature = signature_header(body, settings.STRIPE_WEBHOOK_SECRET)
    url = settings.STRIPE_TEST_WEBHOOK_URL
    try:
        if url:
            status, answer = _post_http(url=url, body=body, signature=signature)
        else:
            status, answer = _post_in_process(origin=event.private.get("origin"), body=body, signature=signature)
    except Exception as exc:  # the endpoint failing in-process is a failed delivery, as a 500 would be
        logger.exception("Test-mode webhook %s (%s) failed in the endpoint", event.id, event.data["type"])
        status, answer = 500, type(exc).__name__
    ok = 200 <= status < 300
    with store.atomic():
        event = store.get("event", event_id)
        event.private.setdefault("attempts", []).append({"at": int(time.time()), "status": status, "answer": answer})
        if ok:
            event.private["delivered_at"] = int(time.time())
            event.data["pending_webhooks"] = 0
        event.save()
    if not ok:
        logger.warning("Test-mode webhook %s (%s) answered %s", event.id, event.data["type"], status)
    return ok
