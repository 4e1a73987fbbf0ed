"""Recording one live Space: a media sink of rooms.media that keeps each speaker's frames with their timing.

A `SpaceRecorder` runs in one thread for as long as the recorded Space is live: in a Celery worker on
the `recordings` queue (production), or in a thread of the serving process (the embedded default),
where the sink is attached on the server's own event loop because the relay lives there. The sink only
queues frames with their arrival time; the recorder's thread places them on the Space's timeline and
flushes each speaker's frames to storage every REPLAYS_FLUSH_SECONDS, so the live audio never waits for it.

Placing a frame: a speaker's capture clock (rooms/PROTOCOL.md) is regular but not ours, so each stream
is anchored to the recorder's clock by the smallest arrival-minus-capture seen (the least delayed frame,
taken when the frames are flushed, so a burst held up on its way lands where it was said); frames of the
stream keep the speaker's own spacing, and a new stream (a reload, a new device: its sequence or capture
clock starts again) is anchored afresh.

Only the holder of the recording's lease records; it renews the lease and stops when it loses it, when
the Space ends, or when asked to. A recorder that dies is replaced by the sweep once its lease expires:
the replay then lacks at most the unflushed frames plus the time until the new recorder attaches.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import close_old_connections, connection

from rooms import media
from rooms.models import Space

from . import background, mixing, selectors, services
from .tasks import MAX_MIX_ATTEMPTS, MIX_WAIT_FOR_RECORDER_S
from .tasks import mix_recording as mix_recording_task
from .tasks import mix_section as mix_section_task
from .trackfile import TrackFrame

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
MAX_QUEUED_FRAMES = 6_000  # 10 s of 12 speakers: the sink drops the oldest past this, never blocks
SECTION_MARGIN_MS = 10_000  # a section is mixed live once the recorder is this far past its end


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FrameSink:
    """A media sink on an event loop; queues (arrival ms, relayed frame) for the recorder's thread."""

    def __init__(self, space_id: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self.space_id = space_id
        self.frames: collections.deque[tuple[float, bytes]] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self.arrived = threading.Event()
        self._thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name=f"recorder-sink-{space_id}", daemon=True)
            self._thread.start()
        self.loop = loop
        self.call(media.attach(space_id, self))

    async def send_media(self, payload: bytes) -> None:
        now = time.time() * 1000
        self.frames.extend((now, frame) for frame in media.unpack_message(payload))
        self.arrived.set()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def drain(self, wait_s: float) -> list[tuple[float, bytes]]:
        self.arrived.wait(wait_s)
        self.arrived.clear()
        out = []
        while self.frames:
            out.append(self.frames.popleft())
        return out

    def close(self) -> None:
        try:
            self.call(media.detach(self.space_id, self))
            if self._thread is not None:
                self.call(media.shutdown())
        except Exception:
            logger.warning("replays: could not detach from space %s cleanly", self.space_id, exc_info=True)
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.close()


@dataclass
class _Stream:
    anchor_ms: float  # recorder clock minus capture clock
    last_seq: int
    last_capture_ms: float
    id: int  # the capture session's stream id from the frame header


class SpaceRecorder:
    def __init__(
        self,
        space_id: int,
        *,
        holder: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.space_id = space_id
        self.holder = holder or new_holder()
        self.loop = loop
        self.stop = stop or threading.Event()
        self.lease_s = settings.REPLAYS_LEASE_SECONDS
        self.flush_s = settings.REPLAYS_FLUSH_SECONDS
        self.started_ms = 0.0
        self.active = False
        self.users: dict[int, int] = {}  # relay slot -> user id of the speakers who are recorded
        self.skipped: dict[int, int] = {}  # relay slot -> user id of those who declined (or must accept first)
        self.streams: dict[int, _Stream] = {}  # user id -> their current stream
        # user id -> frames waiting for the flush: (stream, capture ms, sequence, format, payload)
        self.buffers: dict[int, list[tuple]] = collections.defaultdict(list)
        self.sections_sent: set[int] = set()
        self.written = 0
        self.ready = threading.Event()  # set once frames are being tapped
        self._looked_up_at = float("-inf")

    def run(self) -> str:
        """Record the Space until it ends (or recording is no longer wanted); returns why it stopped."""
        if not services.recorder_lease_acquire(space_id=self.space_id, holder=self.holder, seconds=self.lease_s):
            return "held elsewhere"
        view = selectors.recorder_view(space_id=self.space_id)
        if view.space_state != Space.State.LIVE:
            services.recorder_lease_release(space_id=self.space_id, holder=self.holder)
            return "not live"
        self.started_ms, self.active = view.started_ms, view.recording
        # Sections before this recorder's start were the previous recorder's to send (the final mix catches any).
        self.sections_sent = set(range(int(self._position_ms() // mixing.SECTION_MS)))
        sink = FrameSink(self.space_id, self.loop)
        _recorders[self.space_id] = self
        self.ready.set()
        reason = "failed"
        try:
            reason = self._loop(sink)
        finally:
            sink.close()
            if reason != "lease lost":
                self._flush()
                self._release()
        return reason

    def _release(self) -> None:
        services.recorder_lease_release(space_id=self.space_id, holder=self.holder)

    def _position_ms(self) -> float:
        return time.time() * 1000 - self.started_ms

    def _loop(self, sink: FrameSink) -> str:
        next_check = next_renew = 0.0
        next_flush = time.monotonic() + self.flush_s
        failures = 0
        while not self.stop.is_set():
            try:
                for arrived_ms, frame in sink.drain(0.05):
                    if self.active:
                        self._take(arrived_ms, frame)
                now = time.monotonic()
                if now >= next_renew:
                    next_renew = now + self.lease_s / 3
                    if not services.recorder_lease_renew(
                        space_id=self.space_id, holder=self.holder, seconds=self.lease_s
                    ):
                        logger.warning("replays: lost the recorder lease of space %s; stopping", self.space_id)
                        return "lease lost"
                if now >= next_check:
                    next_check = now + CHECK_EVERY_S
                    view = selectors.recorder_view(space_id=self.space_id)
                    if view.space_state != Space.State.LIVE:
                        return "space over"
                    self.active = view.recording
                    self._look_up_speakers()
                if now >= next_flush:
                    next_flush = now + self.flush_s
                    self._flush()
                    self._send_sections()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("replays: recorder of space %s failed %d time(s) in a row", self.space_id, failures)
                close_old_connections()
                self.stop.wait(min(10.0, 0.5 * 2**failures))
        return "stopped"

    def _look_up_speakers(self) -> None:
        seats = selectors.speaker_seats(space_id=self.space_id)
        self.users, self.skipped = seats.recorded, seats.skipped
        self._looked_up_at = time.monotonic()
        for user_id in self.skipped.values():
            self.buffers.pop(user_id, None)  # declined since the last flush: none of it is kept

    def _user_for(self, index: int) -> int | None:
        if index not in self.users and index not in self.skipped and time.monotonic() - self._looked_up_at > 0.25:
            self._look_up_speakers()  # someone who just came on stage
        return self.users.get(index)

    def _take(self, arrived_ms: float, frame: bytes) -> None:
        if len(frame) <= 1 + media.HEADER_BYTES:
            return
        fmt, stream_id, seq, capture_ms = media.unpack_header(frame[1:])
        if fmt not in media.FORMATS or not math.isfinite(capture_ms):
            return
        user_id = self._user_for(frame[0])
        if user_id is None:
            return
        delay = arrived_ms - capture_ms
        stream = self.streams.get(user_id)
        if stream is None or stream.id != stream_id or seq <= stream.last_seq or capture_ms < stream.last_capture_ms:
            stream = self.streams[user_id] = _Stream(delay, seq, capture_ms, stream_id)
        # A frame held up on its way (a busy server, a congested link) never moves the stream later;
        # the least delayed frame seen by the flush places all of the stream's frames.
        stream.anchor_ms = min(stream.anchor_ms, delay)
        stream.last_seq, stream.last_capture_ms = seq, capture_ms
        self.buffers[user_id].append((stream, capture_ms, seq, fmt, frame[1 + media.HEADER_BYTES :]))

    def _flush(self) -> None:
        buffers, self.buffers = self.buffers, collections.defaultdict(list)
        for user_id, held in buffers.items():
            frames = [
                TrackFrame(int(at_ms), seq, fmt, payload)
                for stream, capture_ms, seq, fmt, payload in held
                if (at_ms := capture_ms + stream.anchor_ms - self.started_ms) >= 0
            ]
            try:
                services.recording_chunk_store(
                    space_id=self.space_id, speaker_id=user_id, frames=frames, holder=self.holder
                )
                self.written += len(frames)
            except Exception:
                logger.exception("replays: could not keep %d frames of space %s", len(frames), self.space_id)

    def _send_sections(self) -> None:
        done_ms = self._position_ms() - SECTION_MARGIN_MS
        for index in range(int(done_ms // mixing.SECTION_MS)):
            if index not in self.sections_sent:
                self.sections_sent.add(index)
                background.enqueue(
                    mix_section_task, self.space_id, index, name=f"replay-section-{self.space_id}-{index}"
                )


_recorders: weakref.WeakValueDictionary[int, SpaceRecorder] = weakref.WeakValueDictionary()


def recorder_in_this_process(space_id: int) -> SpaceRecorder | None:
    """The recorder of `space_id` running in this process, in a worker's thread or in-process (if any)."""
    found = _recorders.get(space_id)
    return found if found is not None and not found.stop.is_set() else None


# ---------------------------------------------------------------------------------------------
# The embedded default: recorders as threads of the serving process, on the relay's event loop.

_threads: dict[int, tuple[threading.Thread, SpaceRecorder]] = {}
_threads_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The serving process's event loop, found from a request or socket thread and remembered."""
    global _server_loop
    try:
        loop = async_to_sync(_running_loop)()
    except RuntimeError:  # called on a loop's own thread
        loop = asyncio.get_running_loop()
    if loop.is_running():
        _server_loop = loop
    elif _server_loop is not None and not _server_loop.is_running():
        _server_loop = None
    return _server_loop


def recorder_run(*, space_id: int, in_process: bool) -> str:
    """Record `space_id` here until it ends, or (`in_process`: the embedded default, where the task runs in
    the caller) start this process's recorder thread: run in the caller, it would hold the request for the
    whole Space."""
    if in_process:
        start_in_process(space_id)
        return "recording in this process"
    return SpaceRecorder(space_id).run()


def start_in_process(space_id: int) -> threading.Thread:
    """Record `space_id` in a thread of this process (the embedded default); never blocks the caller."""
    loop = server_loop()
    with _threads_lock:
        running = _threads.get(space_id)
        if running is not None and running[0].is_alive():
            return running[0]
        recorder = SpaceRecorder(space_id, loop=loop)
        thread = threading.Thread(target=_run_thread, args=(recorder,), name=f"recorder-{space_id}", daemon=True)
        _threads[space_id] = (thread, recorder)
    thread.start()
    return thread


def _run_thread(recorder: SpaceRecorder) -> None:
    try:
        logger.info("replays: recorder of space %s stopped (%s)", recorder.space_id, recorder.run())
    except Exception:
        logger.exception("replays: the recorder of space %s failed", recorder.space_id)
    finally:
        connection.close()
        with _threads_lock:
            if _threads.get(recorder.space_id, (None,))[0] is threading.current_thread():
                del _threads[recorder.space_id]


def stop_in_process(space_id: int) -> threading.Thread | None:
    """Ask this process's recorder of `space_id` (if any) to flush and stop; returns its thread."""
    with _threads_lock:
        running = _threads.get(space_id)
    if running is None:
        return None
    running[1].stop.set()
    return running[0]


def running_in_process(space_id: int) -> tuple[threading.Thread, SpaceRecorder] | None:
    with _threads_lock:
        return _threads.get(space_id)


def recording_mix_dispatch(*, space_id: int) -> None:
    """The final mix, once the recorder has flushed: on a worker, the task waits for the recorder's lease;
    in the embedded default, a thread waits for this process's recorder thread."""
    if background.runs_in_process(mix_recording_task):
        background.in_thread(f"replay-mix-{space_id}", _mix_in_process, space_id)
    else:
        mix_recording_task.apply_async((space_id,))


def _mix_in_process(space_id: int) -> None:
    running = running_in_process(space_id)
    if running is not None:
        running[0].join(MIX_WAIT_FOR_RECORDER_S)
    for attempt in range(MAX_MIX_ATTEMPTS + 1):
        try:
            services.recording_mix(space_id=space_id)
            return
        except Exception as exc:
            logger.exception("replays: mixing space %s failed", space_id)
            final = attempt == MAX_MIX_ATTEMPTS
            services.recording_mix_failed(space_id=space_id, error=f"{type(exc).__name__}: {exc}", final=final)
            threading.Event().wait(2**attempt)
