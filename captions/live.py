"""Captioning live Spaces: one `CaptionHost` per process captions several Spaces with one model.

A host holds up to CAPTIONS_SPACES_PER_WORKER Spaces. Three kinds of work never wait for each other:

- the keeper thread renews every lease the host holds (one statement each CAPTIONS_LEASE_SECONDS / 6)
  and takes free Spaces while the host has room: those offered to it (a dispatched task, the
  embedded default) first, then any live Space nobody holds (a dead worker's, one left waiting for
  capacity). Recognition can therefore never starve the lease.
- the recognition thread drains every held Space's tapped frames, feeds the speakers' streams
  (which share the process's engine), pushes captions and stores finals, round-robin over the Spaces.
- an event loop runs the media taps and the pushes: with REDIS_URL the host's own loop (one Redis
  pub/sub subscription per Space); without it the relay lives in the serving process's loop
  (`rooms.media.relay_loop()`), so taps are attached there, whoever asked for the Space.

Each lease carries a fencing token. A Space's captions are pushed only while the host's last
renewal is fresh (it stops a margin before the lease could expire), carry the token as `epoch` so
pages ignore an older captioner's, and are stored only by the token's holder.
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
from collections.abc import Callable
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
from .models import CaptionLease
from .pipeline import SpaceCaptioner, Speaker, event_message
from .streams import Caption, Event, Notice

logger = logging.getLogger(__name__)

NOTICE_UNAVAILABLE = "captions_unavailable"
NOTICE_TROUBLE = "captions_trouble"
NOTICE_WAITING = "captions_waiting"
NOTICE_STARTED = "captions_started"
NOTICE_DECLINED = "captions_declined"
ENGINE_RETRY_SECONDS = 300  # a model that does not load is retried after this long
CHECK_EVERY_S = 1.0  # how often a Space's state and speakers are read
MAX_QUEUED_FRAMES = 3_000  # 5 s of 12 speakers: the tap drops the oldest past this, never blocks
PUSH_MARGIN_S = 0.5  # stop pushing this long before our lease could have run out


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Tap:
    """The media sink of one held Space: queues relayed frames for the recognition thread."""

    def __init__(self, session: _Session, arrived: threading.Event) -> None:
        self.session = session
        self.arrived = arrived

    async def send_media(self, payload: bytes) -> None:
        self.session.frames.extend(media.unpack_message(payload))
        self.arrived.set()


class _Session:
    """One Space held by a host."""

    def __init__(self, space_id: int, token: int, started_ms: float) -> None:
        self.space_id = space_id
        self.token = token
        self.started_ms = started_ms
        self.frames: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self.tap: _Tap | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # where the tap is attached
        self.captioner: SpaceCaptioner | None = None
        self.speakers: dict[int, Speaker] = {}
        self.title = self.topics = ""
        self.alert_words: list[str] = []
        self.looked_up_at = float("-inf")
        self.valid_until = 0.0  # monotonic time up to which we may push (set by the keeper)
        self.next_check = 0.0
        self.retry_at = 0.0
        self.failures = 0
        self.stop = threading.Event()  # flush and give the Space up
        self.lost = False  # the lease went to someone else: give up without a word
        self.done = threading.Event()
        self.reason = ""
        self.stored = 0
        self.pushed: collections.Counter[str] = collections.Counter()

    def speaker_for_index(self, index: int) -> Speaker | None:
        speaker = self.speakers.get(index)
        if speaker is None and time.monotonic() - self.looked_up_at > 0.25:
            # Someone who just came on stage: look now rather than at the next check. Only this slot
            # is updated, so the next full refresh still sees every other slot's change.
            self.looked_up_at = time.monotonic()
            speaker = selectors.speakers_by_index(space_id=self.space_id).get(index)
            if speaker is not None:
                self.speakers[index] = speaker
        return speaker


class CaptionHost:
    """Captions up to `capacity` live Spaces in this process (see the module docstring)."""

    def __init__(
        self,
        *,
        capacity: int | None = None,
        engine_factory: Callable[[], Engine] = get_engine,
        loop: asyncio.AbstractEventLoop | None = None,
        poll: bool = True,
        holder: str | None = None,
    ) -> None:
        self.capacity = capacity or settings.CAPTIONS_SPACES_PER_WORKER
        self.engine_factory = engine_factory
        self.poll = poll
        self.holder = holder or new_holder()
        self.lease_s = float(settings.CAPTIONS_LEASE_SECONDS)
        self.renew_every_s = self.lease_s / 6
        self.engine: Engine | None = None
        self.engine_error = ""
        self.sessions: dict[int, _Session] = {}
        self.offered: collections.OrderedDict[int, None] = collections.OrderedDict()
        self.lock = threading.Lock()
        self.arrived = threading.Event()  # frames arrived or a Space changed: the recogniser looks
        self.wake = threading.Event()  # the keeper looks for Spaces now
        self.closed = threading.Event()
        self.ready = threading.Event()  # the engine is loaded and the threads run
        self._fixed_loop = loop
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self.last_renewed_at: float | None = None
        self.max_renew_gap_s = 0.0
        self.started_at = time.monotonic()

    # -- life -------------------------------------------------------------------------------

    def start(self, *, load_now: bool = True) -> CaptionHost:
        """Load the engine (here, or first thing in the keeper thread) and start the threads."""
        if settings.REDIS_URL and self._fixed_loop is None:
            self._own_loop = asyncio.new_event_loop()
            self._spawn(self._own_loop.run_forever, "captions-loop")
        if load_now:
            self._load_engine()
        self._spawn(self._keep, "captions-keeper")
        self._spawn(self._recognise, "captions-recogniser")
        return self

    def _spawn(self, target: Callable[[], Any], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _load_engine(self) -> None:
        if self.engine is not None or self.engine_error:
            return
        try:
            started = time.monotonic()
            self.engine = self.engine_factory()
            logger.info("captions: engine ready in %.1f s (holder %s)", time.monotonic() - started, self.holder)
        except Exception as exc:
            logger.exception("captions: the recogniser could not load")
            self.engine_error = str(exc) or exc.__class__.__name__
        self.ready.set()

    def close(self, *, release: bool = True) -> None:
        """Stop every thread; with `release`, flush and hand every Space back at once (a clean shutdown)."""
        with self.lock:
            sessions = list(self.sessions.values())
        for session in sessions:
            if release:
                session.stop.set()
            else:
                session.lost = True
        self.arrived.set()
        for session in sessions:
            session.done.wait(10)
        self.closed.set()
        self.arrived.set()
        self.wake.set()
        for thread in self._threads:
            if thread.name != "captions-loop" and thread is not threading.current_thread():
                thread.join(10)
        if self._own_loop is not None:
            loop = self._own_loop
            try:
                asyncio.run_coroutine_threadsafe(media.shutdown(), loop).result(5)
            except Exception:
                logger.debug("captions: media shutdown on close failed", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)

    # -- asking -----------------------------------------------------------------------------

    def offer(self, space_id: int) -> None:
        """Take `space_id` as soon as this host has room (the keeper looks at once)."""
        with self.lock:
            if space_id not in self.sessions:
                self.offered[space_id] = None
        self.wake.set()

    def stop_space(self, space_id: int) -> None:
        """Flush and give up `space_id` now (it ended)."""
        with self.lock:
            session = self.sessions.get(space_id)
            self.offered.pop(space_id, None)
        if session is not None:
            session.stop.set()
            self.arrived.set()

    def session(self, space_id: int) -> _Session | None:
        with self.lock:
            return self.sessions.get(space_id)

    @property
    def free_slots(self) -> int:
        with self.lock:
            return self.capacity - len(self.sessions)

    # -- the keeper: leases and taking Spaces --------------------------------------------------

    def _keep(self) -> None:
        self._load_engine()
        while not self.closed.is_set():
            try:
                self._renew()
                self._attach_all()
                if settings.CAPTIONS_LIVE and (self.engine is not None or self.engine_error):
                    self._take()
            except Exception:
                logger.exception("captions: the keeper of %s failed; retrying", self.holder)
                close_old_connections()
            self.wake.wait(self.renew_every_s)
            self.wake.clear()
        connection.close()

    def _renew(self) -> None:
        with self.lock:
            sessions = [s for s in self.sessions.values() if not s.lost]
        if not sessions:
            self.last_renewed_at = None
            return
        asked = time.monotonic()
        try:
            held = services.caption_leases_renew(
                holder=self.holder, space_ids=[s.space_id for s in sessions], seconds=self.lease_s
            )
        except DatabaseError:
            logger.warning("captions: could not renew the leases of %s", self.holder, exc_info=True)
            close_old_connections()
            return
        if self.last_renewed_at is not None:
            self.max_renew_gap_s = max(self.max_renew_gap_s, asked - self.last_renewed_at)
        self.last_renewed_at = asked
        for session in sessions:
            if session.space_id in held:
                session.valid_until = asked + self.lease_s - PUSH_MARGIN_S
            else:
                logger.warning("captions: lost the lease of space %s; giving it up", session.space_id)
                session.lost = True
                self.arrived.set()

    def _take(self) -> None:
        if self.free_slots <= 0:
            return
        with self.lock:
            offered = list(self.offered)
        candidates = offered
        if self.poll:
            candidates = offered + [
                pk for pk in selectors.spaces_to_caption().values_list("pk", flat=True)[:20] if pk not in offered
            ]
        for space_id in candidates:
            if self.free_slots <= 0 or self.closed.is_set():
                return
            with self.lock:
                self.offered.pop(space_id, None)
                if space_id in self.sessions:
                    continue
            self._take_one(space_id)

    def _take_one(self, space_id: int) -> None:
        state, started_ms = selectors.space_state(space_id=space_id)
        if state != Space.State.LIVE:
            return
        asked = time.monotonic()
        claimed = services.caption_lease_acquire(space_id=space_id, holder=self.holder, seconds=self.lease_s)
        if claimed is None:
            return
        token, before = claimed
        session = _Session(space_id, token, started_ms)
        session.valid_until = asked + self.lease_s - PUSH_MARGIN_S
        session.captioner = SpaceCaptioner(
            engine=self.engine,
            speaker_for_index=session.speaker_for_index,
            space_started_at_ms=started_ms,
            max_backlog_ms=settings.CAPTIONS_MAX_BACKLOG_MS,
        )
        session.tap = _Tap(session, self.arrived)
        session.title, session.topics = selectors.space_words(space_id=space_id)
        with self.lock:
            self.sessions[space_id] = session
        logger.info("captions: %s took space %s (token %s)", self.holder, space_id, token)
        self._attach(session)
        if before == CaptionLease.WAITING:
            self._push(session, Notice(None, None, NOTICE_STARTED, "Live captions are on."))
        self.arrived.set()

    # -- taps and pushes on the relay's loop ---------------------------------------------------

    def relay_loop(self) -> asyncio.AbstractEventLoop | None:
        if self._fixed_loop is not None:
            return self._fixed_loop if not self._fixed_loop.is_closed() else None
        if self._own_loop is not None:
            return self._own_loop
        return media.relay_loop()

    def _attach_all(self) -> None:
        with self.lock:
            sessions = list(self.sessions.values())
        for session in sessions:
            if not session.lost and not session.stop.is_set():
                self._attach(session)

    def _attach(self, session: _Session) -> None:
        """Attach the Space's tap on the relay's loop (again, if the relay moved to a new loop)."""
        loop = self.relay_loop()
        if loop is None or loop is session.loop:
            return
        self._detach(session)
        try:
            asyncio.run_coroutine_threadsafe(media.attach(session.space_id, session.tap), loop).result(10)
            session.loop = loop
        except Exception:
            logger.warning("captions: could not tap space %s; retrying", session.space_id, exc_info=True)

    def _detach(self, session: _Session) -> None:
        loop, session.loop = session.loop, None
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(media.detach(session.space_id, session.tap), loop).result(5)
        except Exception:
            logger.warning("captions: could not detach from space %s cleanly", session.space_id, exc_info=True)

    def _push(self, session: _Session, event: Event | dict, name: str = "") -> None:
        if time.monotonic() >= session.valid_until:
            session.pushed["fenced"] += 1  # our lease may have gone: a newer captioner speaks now
            return
        message = dict(event) if isinstance(event, dict) else event_message(event, name)
        message["epoch"] = session.token
        send = get_channel_layer().group_send(space_group(session.space_id), space_message(session.space_id, message))
        loop = session.loop or self.relay_loop()
        try:
            if loop is not None:
                asyncio.run_coroutine_threadsafe(send, loop).result(5)
            else:  # nobody has connected to this process yet: nothing to reach but other processes
                async_to_sync(_awaited)(send)
            session.pushed[message["type"]] += 1
        except Exception:
            logger.warning("captions: could not push to space %s", session.space_id, exc_info=True)

    # -- the recogniser ---------------------------------------------------------------------

    def _recognise(self) -> None:
        self.ready.wait()
        while not self.closed.is_set():
            self.arrived.wait(0.05)
            self.arrived.clear()
            with self.lock:
                sessions = list(self.sessions.values())
            for session in sessions:
                if time.monotonic() < session.retry_at and not (session.stop.is_set() or session.lost):
                    continue
                try:
                    self._serve(session)
                    session.failures = 0
                except Exception:
                    # The database or the channel layer hiccuped: tell the room, back off, keep going.
                    session.failures += 1
                    logger.exception(
                        "captions: space %s failed %d time(s) in a row", session.space_id, session.failures
                    )
                    if session.failures == 1:
                        self._push(session, Notice(None, None, NOTICE_TROUBLE, "Captions are delayed; retrying."))
                    close_old_connections()
                    session.retry_at = time.monotonic() + min(30.0, 0.5 * 2**session.failures)
        connection.close()

    def _serve(self, session: _Session) -> None:
        captioner = session.captioner
        if session.lost:
            self._finish(session, "lease lost")
            return
        if self.engine is None:
            self._unavailable(session)
            return
        frames = session.frames
        while frames:
            captioner.relay(frames.popleft())
        now = time.monotonic()
        if now >= session.next_check:
            # Before recognising what is queued: a speaker who withdrew consent has none of it recognised.
            session.next_check = now + CHECK_EVERY_S
            state, _ = selectors.space_state(space_id=session.space_id)
            if state != Space.State.LIVE:
                self._finish(session, "space over")
                return
            self._refresh_speakers(session)
        self._handle(session, captioner.pump())
        if session.stop.is_set():
            self._finish(session, "stopped")

    def _finish(self, session: _Session, reason: str) -> None:
        try:
            if not session.lost:
                self._handle(session, session.captioner.close())
        finally:
            self._detach(session)
            with self.lock:
                if self.sessions.get(session.space_id) is session:
                    del self.sessions[session.space_id]
            if not session.lost:
                try:
                    services.caption_lease_release(space_id=session.space_id, holder=self.holder)
                except DatabaseError:
                    logger.warning("captions: could not release space %s", session.space_id, exc_info=True)
            session.reason = reason
            session.done.set()
            logger.info("captions: space %s stopped (%s)", session.space_id, reason)
            self.wake.set()  # a slot is free: take a waiting Space now

    def _unavailable(self, session: _Session) -> None:
        # A missing or broken model: say so in the Space and leave it alone for a long while rather
        # than loading the model in a loop.
        self._push(
            session,
            Notice(None, None, NOTICE_UNAVAILABLE, "Live captions are unavailable right now; the audio goes on."),
        )
        self._detach(session)
        with self.lock:
            self.sessions.pop(session.space_id, None)
        services.caption_lease_release(
            space_id=session.space_id, holder=self.holder, hold_for=ENGINE_RETRY_SECONDS, error=self.engine_error
        )
        session.reason = "engine unavailable"
        session.done.set()

    def _refresh_speakers(self, session: _Session) -> None:
        captioner = session.captioner
        before, session.speakers = session.speakers, selectors.speakers_by_index(space_id=session.space_id)
        session.looked_up_at = time.monotonic()
        session.alert_words = selectors.alert_words_of_host(space_id=session.space_id)
        prompt_for = getattr(self.engine, "prompt_for", None)
        if prompt_for is not None and settings.CAPTIONS_PROMPT:
            names = [s.name for _, s in sorted(session.speakers.items()) if s.consents]
            prompt = prompt_for(title=session.title, topics=session.topics, names=names)
            if prompt != captioner.prompt:
                captioner.set_prompt(prompt)
        for index in set(before) | set(session.speakers):
            old, new = before.get(index), session.speakers.get(index)
            if old == new:
                continue
            if old is not None and new is not None and old.user_id == new.user_id and not new.consents:
                captioner.drop(index)  # consent withdrawn: what is queued is never recognised
                declined = Notice(new.user_id, index, NOTICE_DECLINED, "Not captioned at this speaker's request.")
                self._push(session, declined, new.name)
            else:
                self._handle(session, captioner.forget(index))

    def _handle(self, session: _Session, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Caption) and event.final and event.speaker_id is not None and event.text:
                try:
                    if services.caption_segment_store(
                        space_id=session.space_id,
                        speaker_id=event.speaker_id,
                        start_ms=event.start_ms,
                        end_ms=event.end_ms,
                        text=event.text,
                        holder=self.holder,
                        token=session.token,
                    ):
                        session.stored += 1
                except DatabaseError:
                    logger.exception("captions: could not keep a caption of space %s", session.space_id)
            self._push(session, event, session.captioner.name_of(event))
            if isinstance(event, Caption) and event.final and session.alert_words:
                self._alert(session, event)

    def _alert(self, session: _Session, caption: Caption) -> None:
        """Tell the host and co-hosts when a final caption says one of the host's alert words."""
        said = " " + " ".join(_words(caption.text)) + " "
        for word in session.alert_words:
            if " " + " ".join(_words(word)) + " " in said:
                alert = {
                    "type": "caption_alert",
                    "only_roles": ["host", "cohost"],
                    "word": word,
                    "text": caption.text,
                    "speaker_id": caption.speaker_id,
                    "speaker_name": session.captioner.name_of(caption),
                    "start_ms": caption.start_ms,
                }
                self._push(session, alert)
                return


def _words(text: str) -> list[str]:
    return [w for w in (w.strip(".,!?;:'\"()").lower() for w in text.split()) if w]


async def _awaited(coro: Any) -> Any:
    return await coro


# ---------------------------------------------------------------------------------------------
# The host of this process.

_host: CaptionHost | None = None
_host_lock = threading.Lock()


def host(*, load_now: bool = False) -> CaptionHost:
    """This process's caption host, started on first use."""
    global _host
    with _host_lock:
        if _host is None or _host.closed.is_set() or _host_pid != os.getpid():
            _start_host(load_now)
        return _host


_host_pid = 0


def _start_host(load_now: bool) -> None:
    global _host, _host_pid
    _host = CaptionHost().start(load_now=load_now)
    _host_pid = os.getpid()


def start_worker_host() -> CaptionHost:
    """At captions worker start: load the model now and begin taking Spaces."""
    return host(load_now=True)


def shutdown_host(*, release: bool = True) -> None:
    """Stop this process's host (a worker shutting down, or between tests)."""
    global _host
    with _host_lock:
        running, _host = _host, None
    if running is not None and _host_pid == os.getpid():
        running.close(release=release)


def start_in_process(space_id: int) -> CaptionHost:
    """Caption `space_id` in this process (the embedded default, or a task in a captions worker)."""
    running = host()
    running.offer(space_id)
    return running


def stop_in_process(space_id: int) -> None:
    """Ask this process's host (if any) to flush `space_id` and stop now."""
    if _host is not None and _host_pid == os.getpid():
        _host.stop_space(space_id)


def running_in_process(space_id: int) -> _Session | None:
    """This process's session of `space_id`, while it holds it."""
    if _host is None or _host_pid != os.getpid():
        return None
    return _host.session(space_id)
