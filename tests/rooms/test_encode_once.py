"""Encode once (rooms/encode_once.py) against a real uvicorn server in this process: what a direct write puts on
the wire is what the socket's own send would, in order with it; none where frames are the socket's own
(compression) or the socket cannot take them now (a full buffer, a close)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from websockets.asyncio.client import connect

from rooms import encode_once

pytestmark = pytest.mark.asyncio


class App:
    """An ASGI websocket app that accepts, sends a greeting through the ASGI send, and keeps each socket's
    writer (and its send) for the test."""

    def __init__(self) -> None:
        self.sockets: list[tuple[encode_once.DirectWriter | None, object]] = []
        self.accepted = asyncio.Event()
        self.disconnected = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hello"})
        self.sockets.append((encode_once.direct_writer(send), send))
        self.accepted.set()
        message = await receive()
        while message["type"] != "websocket.disconnect":
            message = await receive()
        self.disconnected.set()


@asynccontextmanager
async def uvicorn_serving(app: App, *, deflate: bool = False) -> AsyncIterator[str]:
    """uvicorn as `make uvicorn` runs it (the sansio websockets, no compression unless asked), on a free port."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, ws="websockets-sansio", ws_per_message_deflate=deflate, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{listening.getsockname()[1]}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_frame_written_once_arrives_as_the_sockets_own_send_would_send_it_and_in_order():
    app = App()
    async with uvicorn_serving(app) as url:
        async with connect(url, compression=None) as one, connect(url, compression=None) as two:
            await asyncio.wait_for(app.accepted.wait(), 5)
            while len(app.sockets) < 2:
                await asyncio.sleep(0.01)
            payloads = [bytes([n]) * size for n, size in enumerate((1, 125, 126, 300, 65_535, 65_536, 70_000))]
            for payload in payloads:
                framed = encode_once.frame(payload)
                for writer, _ in app.sockets:
                    assert writer is not None and writer.write(framed)
            for _, send in app.sockets:
                await send({"type": "websocket.send", "bytes": b"by the ASGI send"})
            for client in (one, two):
                assert await client.recv() == "hello"
                for payload in payloads:
                    assert await asyncio.wait_for(client.recv(), 5) == payload
                assert await client.recv() == b"by the ASGI send"


async def test_no_direct_writer_where_each_socket_compresses_its_own_frames_or_the_server_is_another():
    app = App()
    async with uvicorn_serving(app, deflate=True) as url:
        async with connect(url, compression="deflate"):
            await asyncio.wait_for(app.accepted.wait(), 5)
            assert app.sockets[0][0] is None

    async def daphne_like_send(message: dict) -> None:
        """Daphne's send is a function of its own, not a uvicorn protocol's method."""

    assert encode_once.direct_writer(daphne_like_send) is None


async def test_a_socket_that_stops_reading_or_closes_gets_no_direct_write():
    app = App()
    async with uvicorn_serving(app) as url:
        # A client that reads nothing: its library stops reading the socket once one message waits, the
        # kernel's buffers fill, and the server's transport buffers past its high-water mark.
        async with connect(url, compression=None, max_queue=1) as stalled:
            await asyncio.wait_for(app.accepted.wait(), 5)
            writer, send = app.sockets[0]
            framed = encode_once.frame(b"\x00" * 65_536)
            written = 0
            while writer.write(framed):
                written += 1
                assert written < 2_000, "the server never reported a full buffer (128 MB written)"
                if written % 16 == 0:
                    await asyncio.sleep(0)  # let the transport try to send and notice the full socket
            assert written > 0
            stalled.transport.abort()

    app = App()
    async with uvicorn_serving(app) as url:
        async with connect(url, compression=None):
            await asyncio.wait_for(app.accepted.wait(), 5)
            writer, _ = app.sockets[0]
            assert writer.write(encode_once.frame(b"while open"))
        await asyncio.wait_for(app.disconnected.wait(), 5)
        assert not writer.write(encode_once.frame(b"after the close"))
