"""Moves audio frames from a speaker's socket to every listener's socket (see media-contract).

This implementation relays through the channel layer: each process subscribes one channel to a
Space's media group and writes each relayed frame to its own sockets in that Space.
It keeps the four names the consumer uses, so a faster relay can replace it without touching
rooms/consumers.py.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import weakref

from channels.layers import get_channel_layer

HEADER_BYTES = 13
MAX_FRAME_BYTES = 4096
FORMATS = {1: "opus-20ms-48k-mono", 2: "pcm16-16k-mono"}
CLOSE_BAD_FRAME = 4400
_HEADER = struct.Struct("<BId")
log = logging.getLogger(__name__)


class FrameError(ValueError):
    """A frame that breaks the format; the consumer closes the socket with `close_code`."""

    def __init__(self, message: str, close_code: int = CLOSE_BAD_FRAME) -> None:
        super().__init__(message)
        self.close_code = close_code


def validate_frame(frame: bytes) -> None:
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(frame)} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    if len(frame) < HEADER_BYTES:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than the {HEADER_BYTES}-byte header")
    fmt, _sequence, _captured = _HEADER.unpack_from(frame)
    if fmt not in FORMATS:
        raise FrameError(f"unknown frame format {fmt}")


def media_group(space_id: int) -> str:
    return f"space-media.{space_id}"


class _Relay:
    """One per process (per event loop): a single channel subscribed to the Spaces it has sockets in."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.sinks: dict[int, set] = {}
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.channel is None:
            # The default prefix matters: channels_redis reads every process-local channel from one key.
            self.channel = await self.layer.new_channel()
            self.task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A channel-layer hiccup (a Redis timeout or restart) must not end delivery for good.
                log.warning("room channel receive failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for sink in list(self.sinks.get(message["space"], ())):
                try:
                    await sink.send_media(message["payload"])
                except Exception:  # a closing socket must not stop the relay for the others
                    log.debug("dropped a frame for a closing socket", exc_info=True)


_relays: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Relay] = weakref.WeakKeyDictionary()


async def _relay() -> _Relay:
    loop = asyncio.get_running_loop()
    relay = _relays.get(loop)
    if relay is None:
        relay = _relays[loop] = _Relay()
    await relay.start()
    return relay


async def attach(space_id: int, sink) -> None:
    relay = await _relay()
    sinks = relay.sinks.setdefault(space_id, set())
    if not sinks:
        await relay.layer.group_add(media_group(space_id), relay.channel)
    sinks.add(sink)


async def detach(space_id: int, sink) -> None:
    relay = await _relay()
    sinks = relay.sinks.get(space_id, set())
    sinks.discard(sink)
    if not sinks:
        relay.sinks.pop(space_id, None)
        await relay.layer.group_discard(media_group(space_id), relay.channel)


async def publish(space_id: int, speaker_index: int, frame: bytes) -> None:
    relay = await _relay()
    await relay.layer.group_send(
        media_group(space_id), {"type": "media.frame", "space": space_id, "payload": bytes([speaker_index]) + frame}
    )
