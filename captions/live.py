"""Captioning one live Space: tap its relayed frames, drive a SpaceCaptioner, push and keep captions.

A `SpaceCaptionRunner` runs in one thread for as long as the Space is live: in a Celery worker on
the `captions` queue (production), or in a thread of the serving process (the embedded default).
It attaches a media sink with `rooms.media.attach` on an event loop: with REDIS_URL that is a
Redis pub/sub subscription and the loop is the runner's own; without it the relay lives inside the
serving process, so the sink is attached on the server's own loop. The sink only queues frames;
recognition happens in the runner's thread, so the audio relay never waits for captions.

Only the holder of the Space's `CaptionLease` captions it; the runner renews the lease and stops
when it loses it, when the Space ends, or when asked to.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from rooms import media
from rooms.events import space_group, space_message
from rooms.models import Space

from . import selectors, services
from .engines import Engine, get_engine
from .pipeline import SpaceCaptioner, Speaker, event_message
from .streams import Caption, Event, Notice

logger = logging.getLogger(__name__)

NOTICE_UNAVAILABLE = "captions_unavailable"
NOTICE_TROUBLE = "captions_trouble"
ENGINE_RETRY_SECONDS = 300  # a model that does not load is retried by the sweep after this long
CHECK_EVERY_S = 1.0  # how often the runner looks at the Space's state and its speakers
MAX_QUEUED_FRAMES = 3_000  # 5 s of 12 speakers: the tap drops the oldest past this, never blocks


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FrameTap:
    """A media sink on an event loop; queues relayed frames for the runner's thread and pushes events."""

    def __init__(self, space_id: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self.space_id = space_id
        self.frames: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self.arrived = threading.Event()
        self._thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name=f"captions-tap-{space_id}", daemon=True)
            self._thread.start()
        self.loop = loop
        self.call(media.attach(space_id, self))

    async def send_media(self, payload: bytes) -> None:
        self.frames.extend(media.unpack_message(payload))
        self.arrived.set()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def drain(self, wait_s: float) -> list[bytes]:
        self.arrived.wait(wait_s)
        self.arrived.clear()
        frames = []
        while self.frames:
            frames.append(self.frames.popleft())
        return frames

    def push(self, event: dict) -> None:
        """Send a room event to everyone in the Space (the same message rooms.events.broadcast sends)."""
        message = space_message(self.space_id, event)
        self.call(get_channel_layer().group_send(space_group(self.space_id), message), timeout=5.0)

    def close(self) -> None:
        try:
            self.call(media.detach(self.space_id, self))
            if self._thread is not None:
                self.call(media.shutdown())
        except Exception:
            logger.warning("captions: could not detach from space %s cleanly", self.space_id, exc_info=True)
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.close()


class SpaceCaptionRunner:
    def __init__(
        self,
        space_id: int,
        *,
        holder: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        stop: threading.Event | None = None,
        engine_factory: Callable[[], Engine] = get_engine,
    ) -> None:
        self.space_id = space_id
        self.holder = holder or new_holder()
        self.loop = loop
        self.stop = stop or threading.Event()
        self.engine_factory = engine_factory
        self.lease_s = settings.CAPTIONS_LEASE_SECONDS
        self.speakers: dict[int, Speaker] = {}
        self.stored = 0
        self.pushed: collections.Counter[str] = collections.Counter()
        self._looked_up_at = float("-inf")
        self.ready = threading.Event()  # set once frames are being tapped
        self.captioner: SpaceCaptioner | None = None

    def run(self) -> str:
        """Caption the Space until it ends; returns why it stopped."""
        if not services.caption_lease_acquire(space_id=self.space_id, holder=self.holder, seconds=self.lease_s):
            return "held elsewhere"
        state, started_ms = selectors.space_state(space_id=self.space_id)
        if state != Space.State.LIVE:
            services.caption_lease_release(space_id=self.space_id, holder=self.holder)
            return "not live"
        try:
            engine = self.engine_factory()
        except Exception as exc:
            # A missing or broken model: say so in the Space and leave the sweep a long pause before
            # it tries again, rather than loading the model in a loop.
            logger.exception("captions: the recogniser could not load for space %s", self.space_id)
            self._push_once_without_tap(
                Notice(None, None, NOTICE_UNAVAILABLE, "Live captions are unavailable right now; the audio goes on.")
            )
            services.caption_lease_release(
                space_id=self.space_id, holder=self.holder, hold_for=ENGINE_RETRY_SECONDS, error=str(exc)
            )
            return "engine unavailable"
        tap = FrameTap(self.space_id, self.loop)
        self.captioner = captioner = SpaceCaptioner(
            engine=engine, speaker_for_index=self._speaker_for_index, space_started_at_ms=started_ms
        )
        self.ready.set()
        reason = "failed"
        try:
            reason = self._loop(tap, captioner)
            if reason != "lease lost":
                self._handle(tap, captioner, captioner.close())
        finally:
            tap.close()
            if reason != "lease lost":
                services.caption_lease_release(space_id=self.space_id, holder=self.holder)
        return reason

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self, tap: FrameTap, captioner: SpaceCaptioner) -> str:
        next_check = next_renew = 0.0
        failures = 0
        while not self.stop.is_set():
            try:
                for frame in tap.drain(0.05):
                    captioner.relay(frame)
                self._handle(tap, captioner, captioner.pump())
                now = time.monotonic()
                if now >= next_renew:
                    next_renew = now + self.lease_s / 3
                    if not services.caption_lease_renew(
                        space_id=self.space_id, holder=self.holder, seconds=self.lease_s
                    ):
                        logger.warning("captions: lost the lease of space %s; stopping", self.space_id)
                        return "lease lost"
                if now >= next_check:
                    next_check = now + CHECK_EVERY_S
                    state, _ = selectors.space_state(space_id=self.space_id)
                    if state != Space.State.LIVE:
                        return "space over"
                    self._refresh_speakers(tap, captioner)
                failures = 0
            except Exception:
                # The database or the channel layer hiccuped: tell the room, back off, keep going.
                failures += 1
                logger.exception("captions: space %s failed %d time(s) in a row", self.space_id, failures)
                if failures == 1:
                    self._try_push(tap, Notice(None, None, NOTICE_TROUBLE, "Captions are delayed; retrying."))
                close_old_connections()
                self.stop.wait(min(30.0, 0.5 * 2**failures))
        return "stopped"

    def _speaker_for_index(self, index: int) -> Speaker | None:
        speaker = self.speakers.get(index)
        if speaker is None and time.monotonic() - self._looked_up_at > 0.25:
            # Someone who just came on stage: look again now rather than at the next check.
            self._looked_up_at = time.monotonic()
            self.speakers = selectors.speakers_by_index(space_id=self.space_id)
            speaker = self.speakers.get(index)
        return speaker

    def _refresh_speakers(self, tap: FrameTap, captioner: SpaceCaptioner) -> None:
        before, self.speakers = self.speakers, selectors.speakers_by_index(space_id=self.space_id)
        self._looked_up_at = time.monotonic()
        for index in set(before) | set(self.speakers):
            old, new = before.get(index), self.speakers.get(index)
            if old == new:
                continue
            if old is not None and new is not None and old.user_id == new.user_id and not new.consents:
                captioner.drop(index)  # consent withdrawn: what is queued is never recognised
            else:
                self._handle(tap, captioner, captioner.forget(index))

    def _handle(self, tap: FrameTap, captioner: SpaceCaptioner, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Caption) and event.final and event.speaker_id is not None and event.text:
                try:
                    services.caption_segment_store(
                        space_id=self.space_id,
                        speaker_id=event.speaker_id,
                        start_ms=event.start_ms,
                        end_ms=event.end_ms,
                        text=event.text,
                    )
                    self.stored += 1
                except DatabaseError:
                    logger.exception("captions: could not keep a caption of space %s", self.space_id)
            self._try_push(tap, event, captioner.name_of(event))

    def _try_push(self, tap: FrameTap, event: Event, name: str = "") -> None:
        message = event_message(event, name)
        try:
            tap.push(message)
            self.pushed[message["type"]] += 1
        except Exception:
            logger.warning("captions: could not push to space %s", self.space_id, exc_info=True)

    def _push_once_without_tap(self, event: Event) -> None:
        send = get_channel_layer().group_send
        message = space_message(self.space_id, event_message(event, ""))
        try:
            if self.loop is not None:  # the server's loop, where the in-memory layer's sockets wait
                asyncio.run_coroutine_threadsafe(send(space_group(self.space_id), message), self.loop).result(5)
            else:
                async_to_sync(send)(space_group(self.space_id), message)
        except Exception:
            logger.warning("captions: could not tell space %s", self.space_id, exc_info=True)


# ---------------------------------------------------------------------------------------------
# The embedded default: captioners as threads of the serving process.

_threads: dict[int, tuple[threading.Thread, SpaceCaptionRunner]] = {}
_threads_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The serving process's event loop, found from a request or socket thread and remembered.

    Inside a thread that Django or Channels started for sync code (`sync_to_async`), async_to_sync
    runs on the server's loop, which is still running afterwards; anywhere else it runs on a loop
    of its own that is closed by the time it returns.
    """
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


def start_in_process(space_id: int) -> threading.Thread:
    """Caption `space_id` in a thread of this process (the embedded default); never blocks the caller."""
    loop = server_loop()
    with _threads_lock:
        running = _threads.get(space_id)
        if running is not None and running[0].is_alive():
            return running[0]
        runner = SpaceCaptionRunner(space_id, loop=loop)
        thread = threading.Thread(target=_run_thread, args=(runner,), name=f"captions-{space_id}", daemon=True)
        _threads[space_id] = (thread, runner)
    thread.start()
    return thread


def _run_thread(runner: SpaceCaptionRunner) -> None:
    try:
        reason = runner.run()
        logger.info("captions: space %s stopped (%s)", runner.space_id, reason)
    except Exception:
        logger.exception("captions: the captioner of space %s failed", runner.space_id)
    finally:
        connection.close()
        with _threads_lock:
            if _threads.get(runner.space_id, (None,))[0] is threading.current_thread():
                del _threads[runner.space_id]


def stop_in_process(space_id: int) -> None:
    """Ask this process's captioner of `space_id` (if any) to flush and stop now."""
    with _threads_lock:
        running = _threads.get(space_id)
    if running is not None:
        running[1].stop.set()


def running_in_process(space_id: int) -> tuple[threading.Thread, SpaceCaptionRunner] | None:
    """This process's captioner thread of `space_id` and its runner, while it runs."""
    with _threads_lock:
        return _threads.get(space_id)
