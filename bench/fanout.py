"""Fan-out benchmark of the live audio path: how many listeners one Space holds at p99 <= 150 ms.

Drives the real application (spaces_site.asgi:application, the real SpaceConsumer) as production runs it:
P server processes (Daphne, then uvicorn, in one run) on 127.0.0.1 sharing PostgreSQL and Redis. It seeds a
live Space in the bench database (a host, a co-host and speakers on stage, N listener accounts, each with a
real Django session; bench/room_seed.py), connects the speakers and N listeners over real websockets with the
session cookie and the Origin header the site checks, waits for each socket's `welcome`, has k speakers send
20 ms Opus-sized frames at real rate for a bounded time, and prints per N: delivered fraction, p50/p99
latency from the frame's capture time to the listener's receipt, the servers' CPU per delivered frame, and
how fast the N sockets joined, and the load client's CPU per audio message it read. It raises N until a step
fails (delivery below 100% or p99 above the budget) and ends with `max_listeners=<N> p99_ms=<p99> speakers=<k>`
for the best server measured.

`--client` says what measures the listeners. `lean` (the default) is the bench's own websocket client below,
cheap enough to leave the servers most of the machine. `websockets` has the `websockets` library's asyncio
client open, read and answer every listener's socket (its RFC 6455 handshake, framing and parsing, not ours), so
the figure does not rest on our parser: issue 15 asks for a measurement by a client that is not the project's
own. It costs the load client about three times the lean client's CPU per message (`client_us_per_message`);
`websockets-sansio` keeps the same library's protocol object doing all of that but moves the bytes itself,
at about twice the lean cost. Every listener does what the room page does on the socket (session cookie, Origin,
Chromium's permessage-deflate offer, refused if the server takes it, in at `welcome`, `media_ack` once a second)
and all share the latency histogram, delivery count and summary. The speakers stay on the lean client whatever
`--client` says: only listeners are measured. Every result line names the client that measured it.

Prerequisites: a PostgreSQL server (`--server`, default postgres://postgres@127.0.0.1:5432) on which it makes
a scratch database of its own (`--database`, dropped, created and migrated on each run; never DATABASE_URL's);
REDIS_URL is used when set, otherwise it starts its own redis-server on a free port. A default run takes a
few minutes.

    python bench/fanout.py
    python bench/fanout.py --servers uvicorn --speakers 1 --batch 1 --steps 100,500,1000
    python bench/fanout.py --servers uvicorn --client websockets --steps 1000,1500,2000 --seconds 10
    python bench/fanout.py --servers uvicorn --client websockets-sansio --steps 1000,1500,2000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websockets_connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms import media  # noqa: E402  (the frame format; needs no Django set-up)

SETTINGS = "spaces_site.settings.base"
VENV_BIN = Path(sys.executable).parent
FRAME_MS = 20
OPUS_PAYLOAD_BYTES = 80  # 32 kbps * 20 ms
HIST_STEP_MS = 0.5
HIST_SIZE = 40_000  # up to 20 s
HIST_PER_MS = 1 / HIST_STEP_MS
CAPTURE = struct.Struct("<d")
CAPTURE_AT = 1 + media.HEADER_BYTES - CAPTURE.size  # in a relayed frame: speaker index, then the header ending in it
TICKS = os.sysconf("SC_CLK_TCK")


# --- a lean websocket client (asyncio protocol, hand-rolled framing), so the load client costs little ---


class WsClient(asyncio.Protocol):
    def __init__(self, host: str, port: int, path: str, cookie: str, stats: Stats | None) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{host}:{port}\r\nCookie: {cookie}\r\n"
            # What Chromium offers: a server that accepts compresses every audio message for every socket.
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
        self.stats = stats
        self.buffer = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.answered = asyncio.get_running_loop().create_future()  # the `welcome` or a place in line, first
        self.lost = asyncio.get_running_loop().create_future()  # done when the connection is gone
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.received = 0  # relayed frames
        self.messages = 0  # binary messages, what a listener acknowledges
        self.acked = 0
        self.close_code: int | None = None
        self.refused = ""

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self._refused(ConnectionError(f"closed during handshake: {exc}"))
        if self.close_code is None:
            self.close_code = 1006

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buffer[: buffer.find(b"\r\n")]:
                self._refused(ConnectionError(bytes(buffer[:end]).decode(errors="replace")))
                self.transport.close()
                return
            if b"permessage-deflate" in buffer[:end].lower():
                self._refused(ConnectionError("the server compresses audio (permessage-deflate); turn it off"))
                self.transport.close()
                return
            self.upgraded = True
            del buffer[: end + 4]
        pos, size = 0, len(buffer)
        stats = self.stats
        now = time.time() * 1000
        while size - pos >= 2:
            opcode = buffer[pos] & 0x0F
            length = buffer[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            start = pos + head
            if size - start < length:
                break
            if opcode == 2:
                self.messages += 1
                if stats is not None:
                    self.received += stats.record(buffer, start, length, now)
            elif opcode == 1:
                # The socket counts as joined at its `welcome`: the consumer attaches it to the audio first. In
                # line (`waiting`, rooms/admission.py) it stays, as the room page does, until let in.
                if not self.open.done():
                    if buffer.startswith(b'{"type": "welcome"', start):
                        self.open.set_result(True)
                        if not self.answered.done():
                            self.answered.set_result(True)
                    elif buffer.startswith(b'{"type": "waiting"', start):
                        if not self.answered.done():
                            self.answered.set_result(False)
                    else:
                        self._refused(ConnectionError(bytes(buffer[start : start + length]).decode()))
                elif buffer.startswith(b'{"type": "error"', start):
                    self.refused = bytes(buffer[start : start + length]).decode(errors="replace")
            elif opcode == 8:
                self.close_code = int.from_bytes(buffer[start : start + 2], "big") if length >= 2 else 1005
            elif opcode == 9:
                self.send(bytes(buffer[start : start + length]), opcode=10)
            pos = start + length
        if pos:
            del buffer[:pos]

    def _refused(self, exc: Exception) -> None:
        """The socket will not get in: whoever waits on `open` or `answered` hears why (a bench may wait on one)."""
        for waiter in (self.open, self.answered):
            if not waiter.done():
                waiter.set_exception(exc)
                waiter.exception()  # read here, so that the one nobody awaits is not logged as lost

    def send(self, payload: bytes, opcode: int = 2) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = bytes((0x80 | opcode, 0x80 | length))
        else:
            head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        key = int.from_bytes(mask * (length // 4 + 1), "little")
        masked = (int.from_bytes(payload, "little") ^ key).to_bytes(length + 4, "little")[:length]
        self.transport.write(head + mask + masked)

    def close(self) -> None:
        self.transport.close()

    def acknowledge(self) -> None:
        """Report the audio messages read so far, as the room page does every second."""
        if self.messages != self.acked and self.transport is not None and not self.transport.is_closing():
            self.send(b'{"type": "media_ack", "received": %d}' % self.messages, opcode=1)
            self.acked = self.messages


async def acknowledge_every_second(clients: list, slices: int = 10) -> None:
    """Each client acknowledges once a second, spread over the second as independent pages would be."""
    turn = 0
    while True:
        await asyncio.sleep(1 / slices)
        for client in clients[turn::slices]:
            client.acknowledge()
        turn = (turn + 1) % slices


class Stats:
    """Latency histogram (0.5 ms buckets) of every relayed frame received in this worker.

    Each frame of a batched message is counted at the latency of the message's oldest frame (its first):
    an upper bound for every frame in it, so the percentiles printed err on the slow side, and the load
    client spends its CPU on receiving rather than on bookkeeping.
    """

    def __init__(self) -> None:
        self.hist = [0] * HIST_SIZE

    def reset(self) -> None:
        self.hist = [0] * HIST_SIZE

    def record(self, buffer: bytes | bytearray, start: int, length: int, now: float) -> int:
        if buffer[start] != 0xFF:
            count, capture_at = 1, start + CAPTURE_AT
        else:
            count, capture_at, at, end = 0, start + 3 + CAPTURE_AT, start + 1, start + length
            while at + 2 <= end:
                at += 2 + (buffer[at] | (buffer[at + 1] << 8))
                count += 1
        index = int((now - CAPTURE.unpack_from(buffer, capture_at)[0]) * HIST_PER_MS)
        self.hist[index if 0 <= index < HIST_SIZE else (0 if index < 0 else HIST_SIZE - 1)] += count
        return count


async def open_lean(host: str, port: int, path: str, cookie: str, stats: Stats | None) -> WsClient:
    _transport, client = await asyncio.get_running_loop().create_connection(
        lambda: WsClient(host, port, path, cookie, stats), host, port
    )
    try:
        await asyncio.wait_for(client.open, 60)
    except BaseException:
        client.close()
        raise
    return client


# --- the independent listeners: the `websockets` library frames, parses and answers (--client websockets...) ---


class LibraryListener:
    """What a listener does with the messages the library hands it: WsClient's counters and checks, so the worker,
    Stats and the summary treat every client alike."""

    def __init__(self, stats: Stats | None) -> None:
        self.stats = stats
        self.open = asyncio.get_running_loop().create_future()
        self.received = 0  # relayed frames
        self.messages = 0  # binary messages, what a listener acknowledges
        self.acked = 0
        self.close_code: int | None = None
        self.refused = ""

    def binary(self, message: bytes, now: float) -> None:
        self.messages += 1
        if self.stats is not None:
            self.received += self.stats.record(message, 0, len(message), now)

    def text(self, message: str) -> None:
        if not self.open.done():
            # In at `welcome`; in line (`waiting`) it stays, as the room page does, until let in.
            if message.startswith('{"type": "welcome"'):
                self.open.set_result(True)
            elif not message.startswith('{"type": "waiting"'):
                self.open.set_exception(ConnectionError(message))
        elif message.startswith('{"type": "error"'):
            self.refused = message

    def closed(self, code: int | None) -> None:
        self.close_code = code or 1006
        if not self.open.done():
            self.open.set_exception(ConnectionError(f"closed before its welcome: {self.close_code}"))

    def ack_text(self) -> str | None:
        """The `media_ack` the room page would send now (as WsClient.acknowledge), or None."""
        if self.messages == self.acked or self.close_code is not None:
            return None
        self.acked = self.messages
        return json.dumps({"type": "media_ack", "received": self.messages})


class AsyncioListener(LibraryListener):
    """`--client websockets`: the library's asyncio client does everything on the socket; we read its messages."""

    def __init__(self, connection: ClientConnection, stats: Stats | None) -> None:
        super().__init__(stats)
        self.connection = connection
        self.acking: asyncio.Task | None = None
        self.reading = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        try:
            with contextlib.suppress(ConnectionClosed):
                async for message in self.connection:
                    if isinstance(message, bytes):
                        self.binary(message, time.time() * 1000)
                    else:
                        self.text(message)
        finally:
            self.closed(self.connection.close_code)

    def close(self) -> None:
        if not self.open.done():
            self.open.cancel()
        self.connection.transport.close()

    def acknowledge(self) -> None:
        if self.acking is not None and not self.acking.done():
            return  # a send still waiting on a full socket is not doubled
        ack = self.ack_text()
        if ack is not None:
            self.acking = asyncio.get_running_loop().create_task(self.send_ack(ack))

    async def send_ack(self, ack: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(ack)


async def open_asyncio(host: str, port: int, path: str, cookie: str, stats: Stats | None) -> AsyncioListener:
    try:
        connection = await websockets_connect(
            f"ws://{host}:{port}{path}",
            origin=f"http://{host}:{port}",
            additional_headers={"Cookie": cookie},
            compression="deflate",  # offered as Chromium offers it; refused below if the server takes it
            proxy=None,
            open_timeout=60,
            ping_interval=None,  # a page sends no pings of its own (the library still answers the server's)
        )
    except WebSocketException as exc:
        raise ConnectionError(repr(exc)) from exc
    listener = AsyncioListener(connection, stats)
    await joined(listener, connection.protocol)
    return listener


class SansIOListener(LibraryListener, asyncio.Protocol):
    """`--client websockets-sansio`: the library's sans-I/O ClientProtocol builds the handshake, checks the answer,
    parses every frame and writes the pongs and the close reply; we only move bytes between it and the socket.

    It skips the asyncio client's per-message queue and task wake-up, which cost about three times what the
    parsing does: the cheaper independent client, for sizes where the asyncio one would take the servers' CPU.
    """

    def __init__(self, host: str, port: int, path: str, cookie: str, stats: Stats | None) -> None:
        super().__init__(stats)
        self.protocol = ClientProtocol(
            parse_uri(f"ws://{host}:{port}{path}"),
            origin=Origin(f"http://{host}:{port}"),
            extensions=enable_client_permessage_deflate(None),  # Chromium's offer; refused if taken
        )
        self.request = self.protocol.connect()
        self.request.headers["Cookie"] = cookie
        self.transport: asyncio.Transport | None = None

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif not self.transport.is_closing():
                self.transport.close()  # the library's end of stream, after a close handshake

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.protocol.send_request(self.request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        now = time.time() * 1000
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.protocol.handshake_exc is not None and not self.open.done():
                    self.open.set_exception(ConnectionError(repr(self.protocol.handshake_exc)))
            elif event.opcode is Opcode.BINARY:
                self.binary(event.data, now)
            elif event.opcode is Opcode.TEXT:
                self.text(bytes(event.data).decode())
        self.flush()

    def connection_lost(self, exc) -> None:
        self.closed(self.protocol.close_code)

    def close(self) -> None:
        if not self.open.done():
            self.open.cancel()
        self.transport.close()

    def acknowledge(self) -> None:
        ack = self.ack_text()
        if ack is not None and self.transport is not None and not self.transport.is_closing():
            self.protocol.send_text(ack.encode())
            self.flush()


async def open_sansio(host: str, port: int, path: str, cookie: str, stats: Stats | None) -> SansIOListener:
    _transport, listener = await asyncio.get_running_loop().create_connection(
        lambda: SansIOListener(host, port, path, cookie, stats), host, port
    )
    await joined(listener, listener.protocol)
    return listener


async def joined(listener: AsyncioListener | SansIOListener, protocol: ClientProtocol) -> None:
    """Wait for the listener's `welcome`; refuse a server that compresses (the bench measures it without)."""
    try:
        await asyncio.wait_for(listener.open, 60)
        if protocol.extensions:
            raise ConnectionError("the server compresses audio (permessage-deflate); turn it off")
    except BaseException:
        listener.close()
        raise


OPENERS = {"lean": open_lean, "websockets": open_asyncio, "websockets-sansio": open_sansio}


async def connect(
    host: str, port: int, path: str, cookie: str, stats: Stats | None, client: str = "lean"
) -> WsClient | AsyncioListener | SansIOListener:
    """A socket that has joined the Space (its `welcome` arrived); retried on connection errors."""
    for attempt in range(5):
        try:
            return await OPENERS[client](host, port, path, cookie, stats)
        except (TimeoutError, OSError, ConnectionError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


# --- listener workers: separate processes, driven over a pipe ---


def listener_worker(pipe, host: str, ports: list[int], path: str, cookies: list[str], client: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_listener_worker(pipe, host, ports, path, cookies, client))


async def _listener_worker(pipe, host: str, ports: list[int], path: str, cookies: list[str], client: str) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients: list = []
    messages_before = 0  # binary messages read before the step's reset
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    _acks = loop.create_task(acknowledge_every_second(clients))  # held so the task lives until the worker quits
    while True:
        command, *args = await commands.get()
        if command == "grow":
            (total,) = args
            todo = [(ports[i % len(ports)], cookies[i]) for i in range(len(clients), total)]
            failed, why = 0, ""
            for chunk in range(0, len(todo), 100):
                results = await asyncio.gather(
                    *(connect(host, port, path, cookie, stats, client) for port, cookie in todo[chunk : chunk + 100]),
                    return_exceptions=True,
                )
                for result in results:
                    if not isinstance(result, BaseException):
                        clients.append(result)
                    else:
                        failed += 1
                        why = why or repr(result)[:300]
            pipe.send((len(clients), failed, why))
        elif command == "reset":
            stats.reset()
            for listener in clients:
                listener.received = 0
            messages_before = sum(c.messages for c in clients)
            pipe.send(True)
        elif command == "size":
            pipe.send(len(clients))
        elif command == "count":
            pipe.send(sum(c.received for c in clients))
        elif command == "report":
            closes = sum(1 for c in clients if c.close_code is not None)
            messages = sum(c.messages for c in clients) - messages_before
            pipe.send(([c.received for c in clients], stats.hist, closes, messages))
        elif command == "quit":
            for listener in clients:
                listener.close()
            pipe.send(True)
            return


# --- servers ---


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def server_command(kind: str, port: int) -> list[str]:
    app = "spaces_site.asgi:application"
    if kind == "daphne":
        return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0", app]
    if kind == "uvicorn":
        return [
            str(VENV_BIN / "uvicorn"),
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets-sansio",
            "--ws-per-message-deflate",
            "false",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "8192",
        ]
    raise ValueError(f"unknown server {kind!r}; use daphne or uvicorn")


def start_servers(kind: str, count: int, env: dict[str, str]) -> tuple[list[subprocess.Popen], list[int]]:
    procs, ports = [], []
    for _ in range(count):
        port = free_port()
        proc = subprocess.Popen(server_command(kind, port), cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        procs.append(proc)
        ports.append(port)
    for proc, port in zip(procs, ports, strict=True):
        wait_port(port, proc)
    return procs, ports


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(procs: list) -> float:
    total = 0
    for proc in procs:
        try:
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def machine_busy_seconds() -> float:
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    # user, nice, system, steal: process time (the kernel's interrupt work for loopback traffic is left out)
    return (fields[0] + fields[1] + fields[2] + fields[7]) / TICKS


def start_redis() -> tuple[str, subprocess.Popen | None]:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("set REDIS_URL or install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return f"redis://127.0.0.1:{port}/0", proc


# --- one run ---


def percentile(hist: list[int], fraction: float) -> float:
    total = sum(hist)
    if not total:
        return float("nan")
    target, seen = fraction * total, 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= target:
            return (index + 1) * HIST_STEP_MS
    return HIST_SIZE * HIST_STEP_MS


async def speak(speakers: list[WsClient], seconds: float) -> int:
    frames = int(seconds * 1000 / FRAME_MS)
    payload = os.urandom(OPUS_PAYLOAD_BYTES)
    start = time.time() + 0.05
    for sequence in range(frames):
        capture = start + sequence * FRAME_MS / 1000
        delay = capture - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        head = media.pack_frame(1, stream=1, sequence=sequence, captured_ms=capture * 1000, payload=b"")
        for speaker in speakers:
            speaker.send(head + payload)
    return frames


async def cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def ask(pipes, *command):
    for pipe in pipes:
        pipe.send(command)
    return [pipe.recv() for pipe in pipes]


def measure(n, args, pipes, procs, on_loop, speakers, kind, retry=False, ours=(), load=()) -> dict:
    per_worker = [n // args.workers + (1 if i < n % args.workers else 0) for i in range(args.workers)]
    joining, before = time.monotonic(), sum(ask(pipes, "size"))
    for pipe, count in zip(pipes, per_worker, strict=True):
        pipe.send(("grow", count))
    grown = [pipe.recv() for pipe in pipes]
    join_s = time.monotonic() - joining
    connected = sum(g[0] for g in grown)
    refusals = [g[2] for g in grown if g[1]]
    if refusals:
        print(f"server={kind} failed_to_join={sum(g[1] for g in grown)} first_error={refusals[0]}", flush=True)
    time.sleep(4.0)  # let the presence events of the new sockets go out before measuring
    ask(pipes, "reset")
    cpu_before, wall_before = cpu_seconds(procs), time.monotonic()
    ours_before, busy_before, load_before = cpu_seconds(ours), machine_busy_seconds(), cpu_seconds(load)
    frames = on_loop(speak(speakers, args.seconds))
    expected = frames * args.speakers * n
    deadline, last, still = time.monotonic() + 10, -1, 0
    while time.monotonic() < deadline:
        time.sleep(0.25)
        got = sum(ask(pipes, "count"))
        if got >= expected:
            break
        still = still + 1 if got == last else 0
        if still >= 8:
            break
        last = got
    cpu = cpu_seconds(procs) - cpu_before
    wall = time.monotonic() - wall_before
    # CPU that neither the servers nor the bench used: other work on the machine during the step.
    other = (machine_busy_seconds() - busy_before) - (cpu_seconds(ours) - ours_before) - cpu
    load_cpu = cpu_seconds(load) - load_before  # the listener workers: what reading and acknowledging cost
    reports = ask(pipes, "report")
    delivered = sum(c for r in reports for c in r[0])
    hist = [sum(column) for column in zip(*(r[1] for r in reports), strict=True)]
    closes = sum(r[2] for r in reports)
    messages = sum(r[3] for r in reports)
    row = {
        "server": kind,
        "client": args.client,
        "listeners": n,
        "connected": connected,
        "delivered": delivered / expected if expected else 0.0,
        "p50": percentile(hist, 0.50),
        "p99": percentile(hist, 0.99),
        "cpu_pct": 100 * cpu / wall,
        "cpu_us_per_frame": 1e6 * cpu / delivered if delivered else float("nan"),
        "closed": closes,
        "other_cpu_pct": max(0.0, 100 * other / wall),
        "joins_per_s": (connected - before) / join_s if join_s else 0.0,
        "client_cpu_pct": 100 * load_cpu / wall,
        "client_us_per_message": 1e6 * load_cpu / messages if messages else float("nan"),
    }
    row["ok"] = connected == n and row["delivered"] >= 1.0 and row["p99"] <= args.budget_ms
    print(
        f"server={kind} client={args.client} processes={args.processes} batch={args.batch} speakers={args.speakers} "
        f"listeners={n} connected={connected} delivered={row['delivered']:.4f} "
        f"p50_ms={row['p50']:.1f} p99_ms={row['p99']:.1f} server_cpu={row['cpu_pct']:.0f}% "
        f"cpu_us_per_frame={row['cpu_us_per_frame']:.1f} closed={closes} other_cpu={row['other_cpu_pct']:.0f}% "
        f"joins_per_s={row['joins_per_s']:.0f} client_cpu={row['client_cpu_pct']:.0f}% "
        f"client_us_per_message={row['client_us_per_message']:.1f} "
        f"{'ok' if row['ok'] else 'FAIL'}{' (retry)' if retry else ''}",
        flush=True,
    )
    return row


def django_setup(database_url: str) -> None:
    """Django in this process, on the bench's scratch database, made afresh: seed rooms from here."""
    import psycopg

    server, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)


def run_server(kind: str, args, redis_url: str, database_url: str, redis_procs: list) -> list[dict]:
    from django.db import connections

    from bench.room_seed import seed_room

    prefix = f"bench{os.getpid()}{kind}"
    started = time.monotonic()
    room = seed_room(listeners=max(args.steps), speakers=args.speakers, prefix=prefix)
    print(f"server={kind} seeded {max(args.steps)} listeners in {time.monotonic() - started:.1f} s", flush=True)
    connections.close_all()  # the load-client workers are forked next; they never use the database
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            # Persistent database connections, as a production server keeps them, rather than one per join.
            "DJANGO_CONN_MAX_AGE": "60",
            # Measured past admission (rooms/admission.py), which would make the sockets beyond a process's
            # capacity or join rate wait in line; set these to measure with it.
            "SPACES_LISTENERS_PER_PROCESS": os.environ.get("SPACES_LISTENERS_PER_PROCESS", "1000000"),
            "SPACES_JOINS_PER_SECOND": os.environ.get("SPACES_JOINS_PER_SECOND", "1000000"),
            "SPACES_MEDIA_BATCH_FRAMES": str(args.batch),
            "SPACES_MEDIA_REDIS_PREFIX": f"bench.{os.getpid()}.{kind}",
            "DJANGO_CHANNELS_PREFIX": f"bench.{os.getpid()}.{kind}",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    path = f"/ws/spaces/{room.space_id}/"
    procs, ports = start_servers(kind, args.processes, env)
    ctx = mp.get_context("fork")
    pipes, workers = [], []
    for i in range(args.workers):
        parent, child = ctx.Pipe()
        cookies = [room.cookie(key) for key in room.listener_sessions[i :: args.workers]]
        worker = ctx.Process(
            target=listener_worker, args=(child, "127.0.0.1", ports, path, cookies, args.client), daemon=True
        )
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    results = []
    ours = [*workers, mp.current_process(), *redis_procs]
    # The speakers' sockets live on a loop of their own, so they keep reading what the Space sends them
    # between steps, as a speaker's page does.
    loop = asyncio.new_event_loop()
    background: list[asyncio.Task] = []  # the speakers' acknowledging task
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    try:
        speakers = [
            on_loop(connect("127.0.0.1", ports[i % len(ports)], path, room.cookie(key), None))
            for i, key in enumerate(room.speaker_sessions)
        ]
        loop.call_soon_threadsafe(lambda: background.append(loop.create_task(acknowledge_every_second(speakers))))
        for n in args.steps:
            row = measure(n, args, pipes, procs, on_loop, speakers, kind, ours=ours, load=workers)
            if not row["ok"]:
                # One more try at the same N, so that a burst of other work on the machine does not end the search.
                row = measure(n, args, pipes, procs, on_loop, speakers, kind, retry=True, ours=ours, load=workers)
            results.append(row)
            if not row["ok"]:
                break
        for speaker in speakers:
            loop.call_soon_threadsafe(speaker.close)
    finally:
        try:
            ask(pipes, "quit")
        except (BrokenPipeError, EOFError, OSError):
            pass
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
        stop(procs)
        on_loop(cancel(background))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=os.environ.get("BENCH_SERVERS", "daphne,uvicorn"))
    parser.add_argument("--processes", type=int, default=2, help="server processes (listeners spread evenly)")
    parser.add_argument("--workers", type=int, default=2, help="load-client processes")
    parser.add_argument("--speakers", type=int, default=3, help="speakers talking at once (host, co-host, speakers)")
    parser.add_argument("--seconds", type=float, default=5.0, help="speaking time per step")
    parser.add_argument(
        "--batch",
        type=int,
        default=int(os.environ.get("SPACES_MEDIA_BATCH_FRAMES", "3")),
        help="frames per speaker per message (SPACES_MEDIA_BATCH_FRAMES)",
    )
    parser.add_argument(
        "--client",
        choices=sorted(OPENERS),
        default="lean",
        help="what opens, reads and answers the listeners' sockets: the bench's own framing (lean) or the "
        "websockets library (its asyncio client, or its sans-I/O protocol on our socket)",
    )
    parser.add_argument("--budget-ms", type=float, default=150.0)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL, no database")
    parser.add_argument("--database", default="spaces_bench_fanout", help="scratch database, dropped each run")
    parser.add_argument(
        "--steps",
        type=lambda raw: [int(x) for x in raw.split(",")],
        default=[100, 250, 500, 750, 1000, 1500, 2000, 2250, 2500, 3000, 3500, 4000],
    )
    args = parser.parse_args()
    database_url = f"{args.server}/{args.database}"
    with open("/proc/loadavg") as loadavg:
        print(f"machine cpus={os.cpu_count()} loadavg_before={' '.join(loadavg.read().split()[:3])}", flush=True)
    django_setup(database_url)
    redis_url, redis_proc = start_redis()
    best: dict | None = None
    try:
        for kind in args.servers.split(","):
            rows = run_server(kind.strip(), args, redis_url, database_url, [redis_proc] if redis_proc else [])
            passed = [r for r in rows if r["ok"]]
            top = max(passed, key=lambda r: r["listeners"]) if passed else None
            if top is None:
                print(f"server={kind} client={args.client} max_listeners=0", flush=True)
            else:
                print(
                    f"server={kind} client={args.client} max_listeners={top['listeners']} p99_ms={top['p99']:.1f}",
                    flush=True,
                )
                if best is None or (top["listeners"], -top["p99"]) > (best["listeners"], -best["p99"]):
                    best = top
    finally:
        if redis_proc is not None:
            stop([redis_proc])
    if best is None:
        print(f"max_listeners=0 p99_ms=nan speakers={args.speakers} client={args.client}")
    else:
        print(f"best server={best['server']} client={args.client}", flush=True)
        print(
            f"max_listeners={best['listeners']} p99_ms={best['p99']:.1f} speakers={args.speakers} client={args.client}"
        )


if __name__ == "__main__":
    main()
