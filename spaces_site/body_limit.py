"""Request bodies above settings.MAX_REQUEST_BYTES are refused with 413, before the body is stored.

Two places, one rule: `limit_request_body` wraps the ASGI application and stops reading as soon as
the declared length or the bytes received pass the limit (Django's ASGI handler would otherwise
spool the whole body to a temporary file first); the middleware covers any other entry (the test
client, WSGI) from the declared length.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _too_large_text() -> str:
    limit_mb = settings.MAX_REQUEST_BYTES / (1024 * 1024)
    return f"That request is too large: the most we accept is {limit_mb:g} MB."


def _declared_length(value: str | bytes | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _declared_length(request.META.get("CONTENT_LENGTH"))
        if length is not None and length > settings.MAX_REQUEST_BYTES:
            return HttpResponse(_too_large_text(), status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def limit_request_body(app):
    """ASGI middleware for `http` scopes: answer 413 without passing an oversized body on."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        limit = settings.MAX_REQUEST_BYTES
        headers = dict(scope.get("headers") or [])
        length = _declared_length(headers.get(b"content-length"))
        if length is not None and length > limit:
            return await _refuse(send)
        # Read the body here (it is at most `limit` bytes) and replay it to the application.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            size += len(message.get("body", b""))
            if size > limit:
                return await _refuse(send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await app(scope, replay, send)

    return guarded


async def _refuse(send) -> None:
    body = _too_large_text().encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
