"""The relay under a live Daphne (bench/fanout_app.py follows the media contract): real sockets, real frames."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rooms import media

FRAMES = 150  # 3 s of 20 ms frames
LISTENERS = 20


def ws_url(base: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + "/ws/bench/1/" + query


async def collect(socket, until_sequence: int) -> list[tuple[int, int]]:
    """(speaker index, sequence) of every relayed frame until `until_sequence` arrives."""
    seen = []
    while True:
        message = await socket.recv()
        for relayed in media.unpack_message(message):
            seen.append((relayed[0], struct.unpack_from("<I", relayed, 2)[0]))
        if seen and seen[-1][1] == until_sequence:
            return seen


async def close_code_after_sending(base: str, query: str, data: bytes) -> int:
    async with connect(ws_url(base, query)) as socket:
        await socket.send(data)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        return socket.close_code


@pytest.mark.asyncio
async def test_smoke_fan_out_delivers_every_frame_to_twenty_listeners(media_server):
    listeners = [await connect(ws_url(media_server)) for _ in range(LISTENERS)]
    speaker = await connect(ws_url(media_server, "?speaker=2"))
    try:
        tasks = [asyncio.create_task(collect(s, FRAMES - 1)) for s in listeners]
        start = time.time()
        for sequence in range(FRAMES):
            await asyncio.sleep(max(0.0, start + sequence * 0.02 - time.time()))
            await speaker.send(struct.pack("<BId", media.FORMAT_OPUS, sequence, time.time() * 1000) + bytes(80))
        received = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    finally:
        for socket in [*listeners, speaker]:
            await socket.close()
    for frames in received:
        assert frames == [(2, sequence) for sequence in range(FRAMES)]


@pytest.mark.asyncio
async def test_listener_frames_are_dropped_and_never_relayed(media_server):
    async with connect(ws_url(media_server)) as listener, connect(ws_url(media_server)) as other:
        async with connect(ws_url(media_server, "?speaker=0")) as speaker:
            await other.send(struct.pack("<BId", media.FORMAT_OPUS, 999, 1.0) + bytes(80))
            await speaker.send(struct.pack("<BId", media.FORMAT_OPUS, 1, 1.0) + bytes(80))
            frames = await asyncio.wait_for(collect(listener, 1), 10)
    assert frames == [(0, 1)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x01\x00", media.CLOSE_BAD_FRAME),
        (struct.pack("<BId", 9, 0, 1.0) + bytes(80), media.CLOSE_BAD_FRAME),
        (struct.pack("<BId", 1, 0, 1.0) + bytes(5000), media.CLOSE_FRAME_TOO_LARGE),
    ],
    ids=["short", "unknown-format", "oversize"],
)
async def test_bad_frame_closes_the_speaker_with_its_documented_code(media_server, data, code):
    assert await close_code_after_sending(media_server, "?speaker=0", data) == code


@pytest.mark.asyncio
async def test_flooding_speaker_is_closed_and_listeners_stay_connected(media_server):
    async with connect(ws_url(media_server)) as listener:
        async with connect(ws_url(media_server, "?speaker=1")) as flooder:
            frame = struct.pack("<BId", media.FORMAT_OPUS, 0, 1.0) + bytes(80)
            with pytest.raises(ConnectionClosed):
                for _ in range(1000):
                    await flooder.send(frame)
                    await asyncio.sleep(0)
                await asyncio.wait_for(flooder.recv(), 10)
                while True:
                    await asyncio.wait_for(flooder.recv(), 10)
            assert flooder.close_code == media.CLOSE_FLOOD
        async with connect(ws_url(media_server, "?speaker=3")) as speaker:
            await speaker.send(struct.pack("<BId", media.FORMAT_OPUS, 77, 1.0) + bytes(80))
            frames = await asyncio.wait_for(collect(listener, 77), 10)
    assert frames[-1] == (3, 77)
