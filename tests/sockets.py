"""Sockets as the tests open and read them: channels' WebsocketCommunicator on the room and /ws/me/ consumers,
alone or through the site's whole ASGI stack, and reads that wait for one kind of event.

Every read waits at most WAIT seconds and ends as soon as its event arrives, so a busy machine slows a test
down but does not fail it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.routing import websocket_urlpatterns as me_routes
from rooms.routing import websocket_urlpatterns as room_routes

WAIT = 15.0  # seconds

# The room's routes alone: the user goes on the scope, without the session, origin and auth middleware.
room_application = URLRouter(room_routes)
me_application = URLRouter(me_routes)


async def open_socket(user, space_id: int) -> WebsocketCommunicator:
    """`user`'s room socket for Space `space_id`, accepted (a refusal then arrives as an error and a close)."""
    communicator = WebsocketCommunicator(room_application, f"/ws/spaces/{space_id}/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


async def joined(user, space_id: int) -> tuple[WebsocketCommunicator, dict]:
    """`user`'s room socket once the room has welcomed them, and the welcome snapshot."""
    communicator = await open_socket(user, space_id)
    welcome = await communicator.receive_json_from(timeout=WAIT)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def me_socket(user) -> WebsocketCommunicator:
    """`user`'s /ws/me/ socket (notifications, messages, live bubbles, tips), accepted."""
    communicator = WebsocketCommunicator(me_application, "/ws/me/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


def session_cookie(user) -> str:
    """The `Cookie` header value of a browser in which `user` has signed in."""
    browser = Client()
    browser.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={browser.cookies[name].value}"


def session_headers(user) -> list[tuple[bytes, bytes]]:
    """The headers a page of this site sends when it opens a socket for `user`: their session, its origin."""
    return [(b"cookie", session_cookie(user).encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]


async def site_socket(user, space_id: int) -> WebsocketCommunicator:
    """`user`'s room socket through the site's whole ASGI stack (session cookie, origin check, auth), accepted."""
    from spaces_site.asgi import application

    headers = await database_sync_to_async(session_headers)(user)
    communicator = WebsocketCommunicator(application, f"/ws/spaces/{space_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


async def next_of(communicator, kind: str, timeout: float = WAIT, *, skip_audio: bool = False) -> dict:
    """The next event of `kind`, passing over other events (presence and reaction batches) on the way.

    Audio (a binary frame) on the way fails the read unless `skip_audio`: most tests expect none."""
    while True:
        if not skip_audio:
            event = await communicator.receive_json_from(timeout=timeout)
        else:
            output = await communicator.receive_output(timeout=timeout)
            if output["type"] != "websocket.send" or output.get("text") is None:
                continue
            event = json.loads(output["text"])
        if event["type"] == kind:
            return event


async def next_matching(
    communicator, kind: str, test: Callable[[dict], bool], timeout: float = WAIT, *, skip_audio: bool = False
) -> dict:
    """The next event of `kind` for which `test` holds."""
    while True:
        event = await next_of(communicator, kind, timeout, skip_audio=skip_audio)
        if test(event):
            return event


async def next_audio(communicator, timeout: float = WAIT) -> bytes:
    """The next binary message (relayed audio), passing over the events sent before it."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.send" and output.get("bytes") is not None:
            return output["bytes"]


async def closed_with(communicator, timeout: float = WAIT) -> int:
    """The close code the server ends the socket with, passing over whatever it sends first."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"]


async def timed_events(communicator, into: list[tuple[float, dict]], kind: str) -> None:
    """Append every `kind` event reaching the socket to `into`, with when it arrived, until cancelled."""
    while True:
        output = await communicator.output_queue.get()
        if output.get("text") is not None:
            event = json.loads(output["text"])
            if event["type"] == kind:
                into.append((time.monotonic(), event))
