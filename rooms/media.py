"""The audio fast path: validate a speaker's frame, relay it once per process, fan it out to local sockets.

The SpaceConsumer uses these names from here (see rooms/PROTOCOL.md, "Audio frames"): `FrameError`,
`validate_frame`, `attach`, `acknowledge`, `detach` and `publish`. Frames never touch the database nor the
channel layer: with REDIS_URL set, each process holds one Redis pub/sub subscription per Space that has a
local listener and writes every frame straight to that process's sockets; without it, fan-out stays inside
the process. Each listener has a bounded queue that drops its oldest messages when its socket pushes back,
and a listener attached with `acks` must acknowledge what it reads; one that keeps dropping or stops
acknowledging is told, detached and closed with `CloseCode.SLOW_LISTENER`, and nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import struct
import weakref
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from redis.exceptions import RedisError

from spaces_site.close_codes import CloseCode

from . import encode_once

logger = logging.getLogger(__name__)

# format, stream id, sequence number, capture time in ms. A stream is one capture session of a speaker
# (a new one after a reload, a reconnect, a device switch or an unmute); sequences count within a stream.
HEADER = struct.Struct("<BIId")
HEADER_BYTES = HEADER.size  # 17
MAX_FRAME_BYTES = 4096
FORMAT_OPUS = 1  # Opus, 20 ms, mono, 48 kHz
FORMAT_PCM16 = 2  # PCM16 little-endian, mono, 16 kHz (the fallback where WebCodecs is missing)
FORMATS = frozenset({FORMAT_OPUS, FORMAT_PCM16})
MAX_SPEAKER_INDEX = 254
BATCH_MARKER = 0xFF  # first byte of a batched message; never a speaker index
# Frames a process holds for Redis while it does not answer: 2 s of 50 speakers; older ones are dropped.
MAX_OUTBOX = 5000


class FrameError(ValueError):
    """A frame that must not be relayed; the consumer closes the socket with `close_code`."""

    def __init__(self, message: str, close_code: int) -> None:
        super().__init__(message)
        self.close_code = close_code


class FrameHeader(NamedTuple):
    fmt: int
    stream: int
    sequence: int
    captured_ms: float


def pack_frame(fmt: int, *, stream: int, sequence: int, captured_ms: float, payload: bytes) -> bytes:
    """A client frame: the header (see HEADER) followed by the payload."""
    return HEADER.pack(fmt, stream & 0xFFFFFFFF, sequence & 0xFFFFFFFF, captured_ms) + payload


def unpack_header(frame: bytes) -> FrameHeader:
    """The header of a client frame (struct.error if it is shorter than HEADER_BYTES)."""
    return FrameHeader(*HEADER.unpack_from(frame))


class MediaSink(Protocol):
    async def send_media(self, payload: bytes) -> None: ...


def validate_frame(frame: bytes) -> None:
    """Raise FrameError unless `frame` is a well-formed client frame (17-byte header plus a payload)."""
    size = len(frame)
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {size} bytes is above the {MAX_FRAME_BYTES}-byte limit", CloseCode.FRAME_TOO_LARGE)
    if size <= HEADER_BYTES:
        raise FrameError(
            f"frame of {size} bytes has no room for the {HEADER_BYTES}-byte header and a payload", CloseCode.BAD_FRAME
        )
    fmt, _stream, _sequence, captured_ms = HEADER.unpack_from(frame)
    if fmt not in FORMATS:
        raise FrameError(f"unknown frame format {fmt}; expected 1 (Opus) or 2 (PCM16)", CloseCode.BAD_FRAME)
    if not math.isfinite(captured_ms):
        raise FrameError("capture time is not a finite number", CloseCode.BAD_FRAME)


def relayed(speaker_index: int, frame: bytes) -> bytes:
    """The relayed form of a frame: one byte of speaker index in front of the client's frame."""
    if not 0 <= speaker_index <= MAX_SPEAKER_INDEX:
        raise ValueError(f"speaker_index {speaker_index} is outside 0..{MAX_SPEAKER_INDEX}")
    return bytes((speaker_index,)) + frame


def pack_batch(messages: list[bytes]) -> bytes:
    """Several relayed frames in one websocket message: 0xFF, then per frame a uint16 LE length and the frame."""
    parts = [bytes((BATCH_MARKER,))]
    for message in messages:
        parts.append(len(message).to_bytes(2, "little"))
        parts.append(message)
    return b"".join(parts)


def unpack_message(message: bytes) -> list[bytes]:
    """The relayed frames inside one websocket message, batched or not (used by tests and the bench)."""
    if not message or message[0] != BATCH_MARKER:
        return [message]
    frames, at = [], 1
    while at + 2 <= len(message):
        length = int.from_bytes(message[at : at + 2], "little")
        frames.append(message[at + 2 : at + 2 + length])
        at += 2 + length
    return frames


class MediaRateLimit:
    """Flood guard for one speaker connection: a token bucket over frames and bytes per second.

    A speaker produces 50 Opus frames (or 50 PCM16 frames of 640 bytes) a second; the defaults allow twice
    that, with a five-second burst: a page whose main thread or network stalled sends what it held all at
    once when it recovers (150 frames after 3 s), and a one-second burst closed such speakers as flooders.
    `allow(size)` returns False once the sender is past the cap; the consumer then closes with
    CloseCode.FLOOD.
    """

    def __init__(self, frames_per_second: float = 100.0, bytes_per_second: float = 64_000.0, burst_s: float = 5.0):
        self.frames_rate, self.bytes_rate = frames_per_second, bytes_per_second
        self.frames_cap, self.bytes_cap = frames_per_second * burst_s, bytes_per_second * burst_s
        self.frames, self.bytes = self.frames_cap, self.bytes_cap
        self.at: float | None = None

    def allow(self, size: int, now: float | None = None) -> bool:
        now = asyncio.get_running_loop().time() if now is None else now
        if self.at is not None:
            elapsed = max(0.0, now - self.at)
            self.frames = min(self.frames_cap, self.frames + elapsed * self.frames_rate)
            self.bytes = min(self.bytes_cap, self.bytes + elapsed * self.bytes_rate)
        self.at = now
        self.frames -= 1
        self.bytes -= size
        return self.frames >= 0 and self.bytes >= 0


STATS: collections.Counter[str] = collections.Counter()


def media_stats() -> dict[str, int]:
    """Counters of this process: published, publish_failed, fanned_out, sent (of those, written_once: framed once
    for all, rooms/encode_once.py), dropped, slow_listeners (evicted, for either reason), ack_lagging (of those,
    evicted for not acknowledging in time)."""
    return dict(STATS)


async def _drive(coro: Any, yielded: Any) -> None:
    """Finish a coroutine that `_Listener.offer` started eagerly and that suspended on `yielded`."""
    while True:
        if yielded is None:
            await asyncio.sleep(0)
        else:
            yielded._asyncio_future_blocking = False
            await asyncio.wait([yielded])
        try:
            yielded = coro.send(None)
        except StopIteration:
            return


class _Listener:
    """One attached sink: writes go straight through while its socket keeps up, else into a bounded queue."""

    __slots__ = ("sink", "direct", "hub", "queue", "task", "behind", "gone", "sent", "acked", "marks")

    def __init__(self, sink: MediaSink, hub: _SpaceHub, queue_size: int, acks: bool) -> None:
        self.sink = sink
        self.direct: encode_once.DirectWriter | None = getattr(sink, "direct_writer", None)
        self.hub = hub
        self.queue: collections.deque[bytes] = collections.deque(maxlen=queue_size)
        self.task: asyncio.Task | None = None
        self.behind = 0  # messages dropped since the queue was last empty
        self.gone = False
        self.sent = 0  # messages handed to the socket
        self.acked = 0  # messages the other end says it has read
        # (time, sent) once a second while the sink acknowledges; None for sinks that never do (captions)
        self.marks: collections.deque[tuple[float, int]] | None = collections.deque() if acks else None

    def check_ack(self, now: float, lag_s: float) -> bool:
        """False once something sent `lag_s` ago or earlier is still unacknowledged."""
        marks = self.marks
        if marks is None:
            return True  # a sink that never acknowledges is never behind on acknowledging
        marks.append((now, self.sent))
        while len(marks) > 1 and marks[1][0] <= now - lag_s:
            marks.popleft()
        at, sent = marks[0]
        return at > now - lag_s or sent <= self.acked

    def offer(self, payload: bytes) -> None:
        if self.task is not None:
            queue = self.queue
            if len(queue) == queue.maxlen:
                STATS["dropped"] += 1
                self.behind += 1
                if self.behind >= self.hub.slow_drop_limit:
                    self.hub.evict(self)
                    if self.gone:
                        return
            queue.append(payload)
            return
        # Under Daphne and uvicorn a websocket send completes without suspending while the socket keeps
        # up, so the coroutine is run here, eagerly, instead of paying for a task per frame per listener.
        self.sent += 1
        coro = self.sink.send_media(payload)
        try:
            yielded = coro.send(None)
        except StopIteration:
            STATS["sent"] += 1
            return
        except Exception as exc:
            self._failed(exc)
            return
        self.task = asyncio.get_running_loop().create_task(self._catch_up(coro, yielded))

    async def _catch_up(self, coro: Any, yielded: Any) -> None:
        try:
            await _drive(coro, yielded)
            STATS["sent"] += 1
            while self.queue and not self.gone:
                self.sent += 1
                await self.sink.send_media(self.queue.popleft())
                STATS["sent"] += 1
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception as exc:
            self._failed(exc)
        finally:
            self.task = None
            self.behind = 0

    def _failed(self, exc: Exception) -> None:
        # A listener who just went away is ordinary: the servers refuse a send on a closed socket with an OSError
        # (uvicorn's ClientDisconnected), a storm of leaves would otherwise log a traceback per listener.
        level = logging.DEBUG if isinstance(exc, OSError) else logging.WARNING
        logger.log(level, "media sink %r failed; detaching it", self.sink, exc_info=True)
        self.hub.remove(self)


class _SpaceHub:
    """The listeners of one Space in this process, and the batching of what reaches them."""

    def __init__(self, process: _Process, space_id: int) -> None:
        self.process = process
        self.space_id = space_id
        self.listeners: dict[int, _Listener] = {}
        self.queue_size = max(1, int(settings.SPACES_MEDIA_QUEUE_MESSAGES))
        self.slow_drop_limit = max(1, int(settings.SPACES_MEDIA_SLOW_DROP_LIMIT))
        self.batch_frames = max(1, int(settings.SPACES_MEDIA_BATCH_FRAMES))
        self.batch_s = max(0, int(settings.SPACES_MEDIA_BATCH_MS)) / 1000
        self.batch_from_listeners = max(0, int(settings.SPACES_MEDIA_BATCH_FROM_LISTENERS))
        self.large_batch_frames = max(self.batch_frames, int(settings.SPACES_MEDIA_LARGE_BATCH_FRAMES))
        self.large_batch_from_listeners = max(0, int(settings.SPACES_MEDIA_LARGE_BATCH_FROM_LISTENERS))
        self.ack_lag_s = max(1, int(settings.SPACES_MEDIA_ACK_LAG_MS)) / 1000
        self.pending: list[bytes] = []
        self.speakers_now: set[int] = set()
        self.speakers_before: set[int] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.ready: asyncio.Future | None = None  # the Redis subscription, when there is one

    def deliver(self, message: bytes) -> None:
        listeners = len(self.listeners)
        if self.batch_frames == 1 or listeners < self.batch_from_listeners:
            if self.pending:
                self.flush()
            self._fan_out(message)
            return
        # A batch holds `frames` frames of each speaker heard lately, so the message rate per listener stays
        # the same however many people speak; a timer sends what a quiet speaker left. A process holding a
        # large audience sends fewer, larger messages: the cost is one system call per listener per message.
        frames = self.large_batch_frames if listeners >= self.large_batch_from_listeners else self.batch_frames
        self.pending.append(message)
        self.speakers_now.add(message[0])
        if len(self.pending) >= frames * max(len(self.speakers_now), len(self.speakers_before)):
            self.flush()
        elif self.timer is None:
            wait_s = self.batch_s * frames / self.batch_frames
            self.timer = asyncio.get_running_loop().call_later(wait_s, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending = self.pending, []
        self.speakers_before, self.speakers_now = self.speakers_now, set()
        if pending:
            self._fan_out(pending[0] if len(pending) == 1 else pack_batch(pending))

    def _fan_out(self, payload: bytes) -> None:
        STATS["fanned_out"] += 1
        framed = None
        written = 0
        for listener in list(self.listeners.values()):
            direct = listener.direct
            if direct is not None and listener.task is None:
                if framed is None:
                    framed = encode_once.frame(payload)
                if direct.write(framed):
                    listener.sent += 1
                    written += 1
                    continue
            listener.offer(payload)
        if written:
            STATS["sent"] += written
            STATS["written_once"] += written

    def remove(self, listener: _Listener) -> None:
        listener.gone = True
        if self.listeners.get(id(listener.sink)) is listener:
            del self.listeners[id(listener.sink)]
        if listener.task is not None and listener.task is not asyncio.current_task():
            listener.task.cancel()
        listener.queue.clear()
        if not self.listeners:
            self.process.drop_hub(self)

    def check_acks(self, now: float) -> None:
        for listener in list(self.listeners.values()):
            if listener.marks is not None and not listener.check_ack(now, self.ack_lag_s):
                STATS["ack_lagging"] += 1
                self.evict(listener)

    def evict(self, listener: _Listener) -> None:
        """Drop a listener that stays behind, then tell it why and close its socket.

        The stage (host, co-hosts, speakers) is never shed: their own playback skips what they could not
        take, and they stay in the Space."""
        if getattr(listener.sink, "on_stage", False):
            STATS["stage_skipped"] += len(listener.queue)
            listener.queue.clear()
            listener.behind = 0
            listener.acked = listener.sent
            if listener.marks is not None:
                listener.marks.clear()
            return
        STATS["slow_listeners"] += 1
        self.remove(listener)
        self.process.spawn(_tell_slow_listener(listener.sink))


async def _tell_slow_listener(sink: Any) -> None:
    try:
        notify = getattr(sink, "media_evicted", None)
        if notify is not None:
            await asyncio.wait_for(notify(CloseCode.SLOW_LISTENER), 5)
            return
        event = {
            "type": "error",
            "code": "slow_listener",
            "close_code": CloseCode.SLOW_LISTENER,
            "message": "Your connection could not keep up with the live audio; reconnect to listen again.",
        }
        if hasattr(sink, "send"):
            await asyncio.wait_for(sink.send(text_data=json.dumps(event)), 5)
        if hasattr(sink, "close"):
            await asyncio.wait_for(sink.close(code=CloseCode.SLOW_LISTENER), 5)
    except Exception:
        logger.info("could not tell slow listener %r before closing", sink, exc_info=True)


class _Process:
    """What one event loop (one server process) holds: its Space hubs and, with Redis, one pub/sub reader."""

    def __init__(self, redis_url: str | None) -> None:
        self.hubs: dict[int, _SpaceHub] = {}
        self.redis_url = redis_url
        self.prefix = settings.SPACES_MEDIA_REDIS_PREFIX
        self.client: Any = None
        self.pubsub: Any = None
        self.reader: asyncio.Task | None = None
        self.last_publish_warning = float("-inf")
        self.lock = asyncio.Lock()  # SUBSCRIBE/UNSUBSCRIBE go out one at a time, in order
        self.background: set[asyncio.Task] = set()
        self.ack_checker: asyncio.Task | None = None
        # Frames on their way to Redis, oldest first, and the task writing them (see `publish`).
        self.outbox: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=MAX_OUTBOX)
        self.sender: asyncio.Task | None = None

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def channel(self, space_id: int) -> str:
        return f"{self.prefix}.{space_id}"

    def _redis(self) -> Any:
        if self.client is None:
            import redis.asyncio as aioredis

            if self.redis_url is None:
                raise RuntimeError("the media relay has no Redis in this process")
            self.client = aioredis.Redis.from_url(self.redis_url)
            self.pubsub = self.client.pubsub()
        return self.client

    async def attach(self, space_id: int, sink: MediaSink, acks: bool = False) -> None:
        hub = self.hubs.get(space_id)
        if hub is None:
            hub = self.hubs[space_id] = _SpaceHub(self, space_id)
            if self.redis_url:
                hub.ready = asyncio.get_running_loop().create_task(self._subscribe(hub))
        listener = hub.listeners[id(sink)] = _Listener(sink, hub, hub.queue_size, acks)
        if acks and (self.ack_checker is None or self.ack_checker.done()):
            self.ack_checker = asyncio.get_running_loop().create_task(self._check_acks())
        if hub.ready is not None:
            try:
                await asyncio.shield(hub.ready)
            except Exception:
                # Redis refused the subscription: forget this hub so that the next attach tries afresh.
                hub.remove(listener)
                if self.hubs.get(space_id) is hub:
                    del self.hubs[space_id]
                raise

    def acknowledge(self, space_id: int, sink: MediaSink, received: int) -> None:
        hub = self.hubs.get(space_id)
        listener = hub.listeners.get(id(sink)) if hub is not None else None
        if listener is not None and listener.sink is sink:
            # Never past what was sent: a client cannot buy time by acknowledging the future.
            listener.acked = max(listener.acked, min(received, listener.sent))

    async def _check_acks(self) -> None:
        """Once a second, evict every acknowledging listener that lags more than SPACES_MEDIA_ACK_LAG_MS."""
        loop = asyncio.get_running_loop()
        while self.hubs:
            await asyncio.sleep(1)
            now = loop.time()
            for hub in list(self.hubs.values()):
                hub.check_acks(now)

    async def detach(self, space_id: int, sink: MediaSink) -> None:
        hub = self.hubs.get(space_id)
        listener = hub.listeners.get(id(sink)) if hub is not None else None
        if hub is not None and listener is not None and listener.sink is sink:
            hub.remove(listener)

    def drop_hub(self, hub: _SpaceHub) -> None:
        if self.hubs.get(hub.space_id) is hub:
            del self.hubs[hub.space_id]
        if hub.timer is not None:
            hub.timer.cancel()
        if hub.ready is not None:
            self.spawn(self._unsubscribe(hub))

    def publish(self, space_id: int, speaker_index: int, frame: bytes) -> None:
        message = relayed(speaker_index, frame)
        STATS["published"] += 1
        if self.redis_url:
            # The speaker's socket does not wait for Redis: a frame joins the outbox and one task per process
            # writes whatever waits there in one pipelined round trip, in order.
            if len(self.outbox) == self.outbox.maxlen:
                self._publish_failed(1, "too many frames waiting for Redis; dropped the oldest")
            self.outbox.append((self.channel(space_id), message))
            if self.sender is None:
                self.sender = asyncio.get_running_loop().create_task(self._send_outbox())
            return
        hub = self.hubs.get(space_id)
        if hub is not None:
            hub.deliver(message)

    async def _send_outbox(self) -> None:
        try:
            while self.outbox:
                batch = list(self.outbox)
                self.outbox.clear()
                try:
                    async with self._redis().pipeline(transaction=False) as pipe:
                        for channel, message in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
                except (OSError, RedisError) as exc:
                    # A lost frame is better than a speaker whose socket dies with Redis.
                    self._publish_failed(len(batch), exc)
        finally:
            self.sender = None

    def _publish_failed(self, frames: int, why: object) -> None:
        STATS["publish_failed"] += frames
        now = asyncio.get_running_loop().time()
        if now - self.last_publish_warning >= 1:  # say so once a second
            self.last_publish_warning = now
            logger.warning("media publish to Redis failed (%d frames so far): %s", STATS["publish_failed"], why)

    async def _subscribe(self, hub: _SpaceHub) -> None:
        self._redis()
        async with self.lock:
            await self.pubsub.subscribe(self.channel(hub.space_id))
        if self.reader is None:
            self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _unsubscribe(self, hub: _SpaceHub) -> None:
        if hub.ready is None:
            return
        try:
            await hub.ready
        except Exception:
            return
        async with self.lock:
            if hub.space_id not in self.hubs:
                await self.pubsub.unsubscribe(self.channel(hub.space_id))

    async def _read(self) -> None:
        prefix = self.prefix.encode() + b"."
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects on the next read and subscribes to every channel again, so audio resumes
                # as soon as a restarted Redis answers (tests/faults).
                logger.warning("media pub/sub read failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if not channel.startswith(prefix):
                continue
            hub = self.hubs.get(int(channel[len(prefix) :]))
            if hub is not None:
                hub.deliver(message["data"])

    async def close(self) -> None:
        for hub in list(self.hubs.values()):
            for listener in list(hub.listeners.values()):
                hub.remove(listener)
        if self.reader is not None:
            self.reader.cancel()
        if self.ack_checker is not None:
            self.ack_checker.cancel()
        if self.sender is not None:
            self.sender.cancel()
        for task in list(self.background):
            task.cancel()
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.client is not None:
            await self.client.aclose()


_processes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Process] = weakref.WeakKeyDictionary()
_newest_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None


def _process() -> _Process:
    global _newest_loop
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        process = _processes[loop] = _Process(settings.REDIS_URL)
        _newest_loop = weakref.ref(loop)
    return process


def relay_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this process relays frames on (the server's), once a socket has used it.

    Without REDIS_URL the relay lives in that loop only: a sink attached on any other loop never gets
    a frame."""
    loop = _newest_loop() if _newest_loop is not None else None
    return loop if loop is not None and loop.is_running() else None


async def attach(space_id: int, sink: MediaSink, *, acks: bool = False) -> None:
    """Start sending `sink` every frame published in the Space (from the next frame on).

    With `acks`, the other end must report what it has read (`acknowledge`): a sink that has not acknowledged
    a message sent SPACES_MEDIA_ACK_LAG_MS ago is evicted like a slow listener, whatever the server does
    with its writes (Daphne buffers them without pushing back, so the queue alone never notices)."""
    await _process().attach(space_id, sink, acks)


def acknowledge(space_id: int, sink: MediaSink, received: int) -> None:
    """`sink`'s other end has read `received` of the messages sent to it since it was attached."""
    _process().acknowledge(space_id, sink, received)


async def detach(space_id: int, sink: MediaSink) -> None:
    """Stop sending to `sink`; safe to call twice or for a sink that was evicted."""
    await _process().detach(space_id, sink)


def publish(space_id: int, speaker_index: int, frame: bytes) -> None:
    """Relay a validated frame from speaker `speaker_index` to every listener of the Space, in every process.

    Returns at once: with Redis the frame is written by this process's sender, after the frames before it."""
    _process().publish(space_id, speaker_index, frame)


async def shutdown() -> None:
    """Close this event loop's Redis connections and forget its listeners (tests, server shutdown)."""
    loop = asyncio.get_running_loop()
    process = _processes.pop(loop, None)
    if process is not None:
        await process.close()
