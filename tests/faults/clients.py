"""Room clients that behave as the room page does: reconnect with jittered backoff (to the next server, as a
load balancer would send them), acknowledge audio, and a speaker that keeps sending frames."""

from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import asynccontextmanager

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from rooms.media import FORMAT_OPUS, pack_frame, unpack_header, unpack_message
from spaces_site import close_codes

FINAL_CODES = close_codes.FINAL  # the page stops reconnecting on these


class RoomClient:
    def __init__(
        self,
        name: str,
        servers: list[str],
        space_id: int,
        cookie: str,
        *,
        first: int = 0,
        reconnect: bool = True,
        acks: bool = True,
    ) -> None:
        self.name = name
        self.acks = acks  # False: a page whose player stopped (it reads on, and never says what it played)
        self.servers = servers
        self.space_id = space_id
        self.cookie = cookie
        self.index = first
        self.reconnect = reconnect
        self.socket = None
        self.server: str | None = None
        self.events: list[tuple[float, dict]] = []
        self.welcomes: list[tuple[float, str, dict]] = []
        self.closes: list[tuple[float, int | None]] = []
        self.frames: list[tuple[float, int, int]] = []  # (arrival, speaker index, sequence)
        self.binary_messages = 0
        self.final: int | None = None
        self.live = False  # welcomed on the current socket
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.reconnect = False
        if self.socket is not None:
            await self.socket.close()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 10)
            except TimeoutError:
                self.task.cancel()

    async def _run(self) -> None:
        delay = 1.0
        while True:
            server = self.servers[self.index % len(self.servers)]
            code = None
            try:
                async with connect(
                    f"ws://{server}/ws/spaces/{self.space_id}/",
                    additional_headers={"Cookie": self.cookie},
                    origin=f"http://{server}",
                    open_timeout=5,
                    max_size=2**20,
                ) as socket:
                    self.socket, self.server = socket, server
                    self.binary_messages = 0  # the server counts per socket, as player.js does
                    acked_at = time.monotonic()
                    async for message in socket:
                        now = time.monotonic()
                        if isinstance(message, bytes):
                            self.binary_messages += 1
                            for relayed in unpack_message(message):
                                self.frames.append((now, relayed[0], unpack_header(relayed[1:]).sequence))
                            if self.acks and now - acked_at >= 0.5:
                                acked_at = now
                                await socket.send(json.dumps({"type": "media_ack", "received": self.binary_messages}))
                            continue
                        event = json.loads(message)
                        self.events.append((now, event))
                        if event["type"] == "welcome":
                            delay = 1.0
                            self.welcomes.append((now, server, event))
                            self.live = True
                        self.changed.set()
                    code = socket.close_code
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
                code = None
            self.socket, self.live = None, False
            self.closes.append((time.monotonic(), code))
            self.changed.set()
            if code in FINAL_CODES or not self.reconnect:
                self.final = code
                return
            # As room.js: half the delay plus up to half again, doubling to 15 s; the next attempt goes to another
            # server process, as a load balancer would send it once this one stops answering.
            self.index += 1
            await asyncio.sleep(delay / 2 + random.random() * delay / 2)
            delay = min(delay * 2, 15.0)

    async def send(self, message: dict) -> None:
        await self.socket.send(json.dumps(message))

    async def send_raw(self, text: str) -> None:
        await self.socket.send(text)

    def events_of(self, kind: str, since: float = 0.0) -> list[dict]:
        return [event for at, event in self.events if event["type"] == kind and at >= since]


class Speaker(RoomClient):
    """A speaker's page that keeps encoding: 50 frames a second, whatever the server says (so that the
    server, not the client, has to stop a muted speaker's audio)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sequence = 0
        self.sender: asyncio.Task | None = None
        self.speaking = True

    def start(self) -> None:
        super().start()
        self.sender = asyncio.get_running_loop().create_task(self._send_frames())

    async def _send_frames(self) -> None:
        while self.speaking:
            socket = self.socket
            if socket is not None:
                self.sequence += 1
                frame = pack_frame(
                    FORMAT_OPUS, stream=1, sequence=self.sequence, captured_ms=time.time() * 1000, payload=b"\x00" * 40
                )
                try:
                    await socket.send(frame)
                except ConnectionClosed:
                    pass
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.speaking = False
        await super().stop()
        if self.sender is not None:
            self.sender.cancel()


async def until(condition, timeout: float, what: str, step: float = 0.02) -> float:
    """Wait for `condition()` to hold; returns the monotonic time it did, or fails saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)


class MeClient:
    """A signed-in page's /ws/me/ socket, reconnecting as static/js/user-events.js does."""

    def __init__(self, servers: list[str], cookie: str, *, first: int = 0) -> None:
        self.servers = servers
        self.cookie = cookie
        self.index = first
        self.events: list[tuple[float, dict]] = []
        self.opened = 0
        self.running = True
        self.socket = None
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        delay = 1.0
        while self.running:
            server = self.servers[self.index % len(self.servers)]
            try:
                async with connect(
                    f"ws://{server}/ws/me/", additional_headers={"Cookie": self.cookie}, origin=f"http://{server}"
                ) as socket:
                    self.socket, delay = socket, 1.0
                    self.opened += 1
                    async for message in socket:
                        self.events.append((time.monotonic(), json.loads(message)))
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError):
                pass
            self.socket = None
            if not self.running:
                return
            self.index += 1
            await asyncio.sleep(delay / 2 + random.random() * delay / 2)
            delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        self.running = False
        if self.socket is not None:
            await self.socket.close()
        if self.task is not None:
            self.task.cancel()


@asynccontextmanager
async def running(clients: list):
    """Start `clients` (more may be appended meanwhile); on a failure, print what each last heard; stop them all."""
    for client in clients:
        client.start()
    try:
        yield
    except BaseException:
        for client in clients:
            recent = [event for _, event in client.events[-5:] if event["type"] != "welcome"]
            print(getattr(client, "name", "me"), getattr(client, "server", ""), getattr(client, "closes", ""), recent)
        raise
    finally:
        for client in list(clients):
            await client.stop()


def run_scenario(scenario, servers) -> dict:
    """Run a scenario coroutine; if it fails, print what each server process logged."""
    try:
        return asyncio.run(scenario)
    except BaseException:
        for server in servers:
            print(f"--- {server.name} log:\n{server.logs()}")
        raise
