"""The live audio path end to end: the real SpaceConsumer under a live Daphne, real sessions, real sockets.

Accounts, sessions and speaking seats are seeded in bulk by bench/room_seed.py, the same harness that
bench/fanout.py drives thousands of listeners with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench import fanout
from bench.room_seed import seed_room
from rooms import media
from spaces_site.close_codes import CloseCode

FRAMES = 150  # 3 s of 20 ms frames
LISTENERS = 20
ACK_LAG_MS = 2000
LIVE_DAPHNE_ENV = {"SPACES_MEDIA_ACK_LAG_MS": str(ACK_LAG_MS)}


@pytest.fixture
def room(transactional_db):
    return seed_room(listeners=LISTENERS + 2, speakers=2, prefix="live")


def frame(sequence: int, fmt: int = media.FORMAT_OPUS, payload: bytes = bytes(80)) -> bytes:
    return media.pack_frame(fmt, stream=1, sequence=sequence, captured_ms=time.time() * 1000, payload=payload)


async def join(live_daphne: str, room, session: str):
    """A socket signed in with `session` that has read its `welcome`."""
    socket = await connect(
        f"ws://{live_daphne}/ws/spaces/{room.space_id}/",
        origin=f"http://{live_daphne}",
        additional_headers={"Cookie": room.cookie(session)},
    )
    welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    return socket


class Listener:
    """Reads everything its socket gets and, like the room page, acknowledges the audio messages it read."""

    def __init__(self, socket, ack: bool = True) -> None:
        self.socket, self.ack = socket, ack
        self.frames: list[tuple[int, int]] = []  # (speaker index, sequence)
        self.events: list[dict] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        messages, acked_at = 0, time.monotonic()
        try:
            async for message in self.socket:
                if isinstance(message, str):
                    self.events.append(json.loads(message))
                    continue
                messages += 1
                for relayed in media.unpack_message(message):
                    self.frames.append((relayed[0], media.unpack_header(relayed[1:]).sequence))
                if self.ack and time.monotonic() - acked_at >= 0.5:
                    await self.socket.send(json.dumps({"type": "media_ack", "received": messages}))
                    acked_at = time.monotonic()
        except ConnectionClosed:
            pass

    async def until(self, condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            assert time.monotonic() < deadline, f"timed out; got {len(self.frames)} frames, events {self.events[-3:]}"
            await asyncio.sleep(0.02)


async def speak(speaker, count: int, until=None) -> int:
    """`count` frames at real rate (20 ms apart), fewer if `until()` comes true first; returns how many."""
    start = time.monotonic()
    for sequence in range(count):
        await asyncio.sleep(max(0.0, start + sequence * 0.02 - time.monotonic()))
        await speaker.send(frame(sequence))
        if until is not None and until():
            return sequence + 1
    return count


@pytest.mark.asyncio
async def test_smoke_fan_out_delivers_every_frame_to_twenty_listeners(live_daphne, room):
    speaker = Listener(await join(live_daphne, room, room.speaker_sessions[1]))  # the co-host, speaker slot 1
    listeners = [Listener(await join(live_daphne, room, s)) for s in room.listener_sessions[:LISTENERS]]
    try:
        await speak(speaker.socket, FRAMES)
        for listener in listeners:
            await listener.until(lambda listener: len(listener.frames) >= FRAMES)
    finally:
        for socket in [speaker.socket, *(listener.socket for listener in listeners)]:
            await socket.close()
    for listener in listeners:
        assert listener.frames == [(1, sequence) for sequence in range(FRAMES)]


@pytest.mark.asyncio
async def test_listener_that_stops_reading_is_dropped_and_told_while_others_get_every_frame(live_daphne, room):
    # Daphne buffers every write without pushing back, so only the acknowledgements can tell a stalled socket.
    host = urlsplit(f"http://{live_daphne}")
    speaker = Listener(await join(live_daphne, room, room.speaker_sessions[0]))
    healthy = [Listener(await join(live_daphne, room, s)) for s in room.listener_sessions[:10]]
    quiet = Listener(await join(live_daphne, room, room.listener_sessions[10]), ack=False)  # reads, never acks
    stalled = await fanout.connect(
        host.hostname, host.port, f"/ws/spaces/{room.space_id}/", room.cookie(room.listener_sessions[11]), None
    )
    stalled.transport.pause_reading()  # stops reading its socket altogether, and so never acknowledges
    try:
        sent = await speak(
            speaker.socket,
            (ACK_LAG_MS + 6000) // 20,
            until=lambda: quiet.events and quiet.events[-1].get("code") == "slow_listener",
        )
        # A little more audio after the eviction: the others keep getting it, the dropped ones do not.
        start = time.monotonic()
        for sequence in range(sent, sent + 25):
            await asyncio.sleep(max(0.0, start + (sequence - sent) * 0.02 - time.monotonic()))
            await speaker.socket.send(frame(sequence))
        sent += 25
        for listener in healthy:
            await listener.until(lambda listener: len(listener.frames) >= sent)
        await asyncio.wait_for(quiet.task, 10)
        stalled.transport.resume_reading()
        await asyncio.wait_for(stalled.lost, 10)
    finally:
        for socket in [speaker.socket, quiet.socket, *(listener.socket for listener in healthy)]:
            await socket.close()
        stalled.transport.close()
    for listener in healthy:
        assert listener.frames == [(0, sequence) for sequence in range(sent)]
    assert quiet.events[-1] == {
        "type": "error",
        "code": "slow_listener",
        "close_code": CloseCode.SLOW_LISTENER,
        "message": quiet.events[-1]["message"],
    }
    assert quiet.socket.close_code == CloseCode.SLOW_LISTENER
    assert len(quiet.frames) < sent
    # The stalled socket cannot read what it is told: Daphne gives up on its close handshake and drops it.
    assert stalled.close_code in (CloseCode.SLOW_LISTENER, 1006)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x01\x00", CloseCode.BAD_FRAME),
        (media.pack_frame(9, stream=1, sequence=0, captured_ms=1.0, payload=bytes(80)), CloseCode.BAD_FRAME),
        (media.pack_frame(1, stream=1, sequence=0, captured_ms=1.0, payload=bytes(5000)), CloseCode.FRAME_TOO_LARGE),
    ],
    ids=["short", "unknown-format", "oversize"],
)
async def test_bad_frame_closes_the_speaker_with_its_documented_code(live_daphne, room, data, code):
    speaker = await join(live_daphne, room, room.speaker_sessions[0])
    await speaker.send(data)
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(speaker.recv(), 10)
    assert speaker.close_code == code


@pytest.mark.asyncio
async def test_flooding_speaker_is_closed_and_listeners_keep_hearing_the_others(live_daphne, room):
    listener = Listener(await join(live_daphne, room, room.listener_sessions[0]))
    flooder = await join(live_daphne, room, room.speaker_sessions[1])

    async def read_all() -> None:
        # A page reads what it is sent while it sends. Unread, the client's queue fills (16 messages: the Space's
        # audio and events), the library stops reading the socket, the server's close frame waits unread behind
        # them, and Daphne aborts the connection a second after sending it: on a loaded machine the client saw
        # 1006 instead of 4429.
        with contextlib.suppress(ConnectionClosed):
            while True:
                await flooder.recv()

    reading = asyncio.ensure_future(read_all())
    with pytest.raises(ConnectionClosed):
        # The limit is a rate: send until the server closes, however slowly a loaded machine lets us send.
        for sequence in range(20_000):
            await flooder.send(frame(sequence))
            await asyncio.sleep(0)  # a send that needs no wait does not yield: let the reading run
    await asyncio.wait_for(reading, 10)
    assert flooder.close_code == 4429
    host = await join(live_daphne, room, room.speaker_sessions[0])
    await host.send(frame(77))
    await listener.until(lambda listener: (0, 77) in listener.frames)
    await host.close()
    await listener.socket.close()
