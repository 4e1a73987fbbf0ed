"""One speaker's live captioning session: frames in, timed partial and final captions out.

The caption task owns one `SpeakerStream` per speaker of a Space. `push()` only queues a frame
(it never decodes or recognises, so whoever receives frames is never held up); `pump()` decodes
what is queued, feeds the engine and returns events. The queue is bounded in audio time: when
recognition falls behind, the oldest audio is dropped, never the live audio itself. An engine
failure costs the utterance in flight and a notice; repeated failures pause the stream's
captions for a while instead of looping on a broken recogniser.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rooms.media import FORMAT_OPUS, FORMAT_PCM16, HEADER_BYTES

from .audio import OPUS_FRAME_MS, StreamDecoder
from .engines import Engine, Recogniser, Result

logger = logging.getLogger(__name__)

NOTICE_ENGINE_ERROR = "engine_error"
NOTICE_PAUSED = "captions_paused"
NOTICE_RESUMED = "captions_resumed"
NOTICE_BEHIND = "captions_behind"


@dataclass(frozen=True)
class Caption:
    """Caption text for one speaker; offsets are ms from `base_offset_ms` (e.g. the Space start)."""

    speaker_id: int | None
    speaker_index: int | None
    text: str
    final: bool
    start_ms: int
    end_ms: int
    tentative: str = ""  # a partial's unsettled words after `text`


@dataclass(frozen=True)
class Notice:
    """Something listeners should see about this speaker's captions (they never affect audio)."""

    speaker_id: int | None
    speaker_index: int | None
    code: str
    message: str


Event = Caption | Notice


class SpeakerStream:
    def __init__(
        self,
        *,
        engine: Engine,
        speaker_id: int | None = None,
        speaker_index: int | None = None,
        relayed: bool = False,
        base_offset_ms: int = 0,
        grammar: list[str] | None = None,
        max_backlog_ms: int = 2_000,
        max_failures: int = 3,
        failure_window_s: float = 60.0,
        pause_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.speaker_id = speaker_id
        self.speaker_index = speaker_index
        self.relayed = relayed
        self.base_offset_ms = base_offset_ms
        self.grammar = grammar
        self.max_backlog_ms = max_backlog_ms
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        self.pause_s = pause_s
        self._clock = clock

        self._recogniser: Recogniser = engine.start(grammar=grammar)
        self._decoder = StreamDecoder()
        self._queue: deque[tuple[bytes, int]] = deque()
        self._queued_ms = 0
        self._fed_ms = 0
        # (fed ms, timeline ms) pairs: where the audio given to the engine jumps on the timeline.
        self._anchors: deque[tuple[int, int]] = deque([(0, 0)], maxlen=256)
        self._failures: deque[float] = deque()
        self._paused_until: float | None = None
        self._behind_notified = False
        self._prompt = ""

        self.dropped_frames = 0
        self.processing_s = 0.0

    # -- input ------------------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """Queue one frame; drops the oldest queued audio once the backlog is over its bound."""
        duration = _frame_ms(frame, relayed=self.relayed)
        self._queue.append((frame, duration))
        self._queued_ms += duration
        while self._queued_ms > self.max_backlog_ms and len(self._queue) > 1:
            _, dropped = self._queue.popleft()
            self._queued_ms -= dropped
            self.dropped_frames += 1

    def set_prompt(self, prompt: str) -> None:
        """Prime the recogniser with the Space's words (kept across restarts; engines without one ignore it)."""
        self._prompt = prompt
        if hasattr(self._recogniser, "prompt"):
            self._recogniser.prompt = prompt

    @property
    def backlog_ms(self) -> int:
        return self._queued_ms

    @property
    def audio_ms(self) -> int:
        """Audio given to the engine so far."""
        return self._fed_ms

    @property
    def paused(self) -> bool:
        return self._paused_until is not None

    # -- work -------------------------------------------------------------------------------

    def pump(self) -> list[Event]:
        """Decode and recognise everything queued; returns finals in order and the newest partial."""
        started = time.perf_counter()
        events: list[Event] = []
        if self.dropped_frames and not self._behind_notified:
            self._behind_notified = True
            events.append(self._notice(NOTICE_BEHIND, "Captions fell behind; some words were skipped."))
        while self._queue:
            frame, duration = self._queue.popleft()
            self._queued_ms -= duration
            if self._check_paused(events):
                continue
            for chunk in self._decoder.decode(frame, relayed=self.relayed):
                if self._fed_ms - self._anchors[-1][0] != chunk.start_ms - self._anchors[-1][1]:
                    self._anchors.append((self._fed_ms, chunk.start_ms))
                self._fed_ms += len(chunk.pcm16) // 32
                if hasattr(self._recogniser, "behind_ms"):
                    self._recogniser.behind_ms = self._queued_ms  # partials wait while we catch up
                self._run(lambda pcm=chunk.pcm16: self._recogniser.feed(pcm), events)
                if self.paused:
                    break
        self.processing_s += time.perf_counter() - started
        return _collapse_partials(events)

    def close(self) -> list[Event]:
        """Recognise what is queued, then flush the recogniser: the end of this speaker's stream."""
        events = self.pump()
        if not self.paused:
            started = time.perf_counter()
            self._run(self._recogniser.finish, events)
            self.processing_s += time.perf_counter() - started
        return _collapse_partials(events)

    # -- internals --------------------------------------------------------------------------

    def _run(self, call: Callable[[], list[Result]], events: list[Event]) -> None:
        try:
            results = call()
        except Exception:
            logger.exception("captions: the %s engine failed on speaker %s", self.engine.name, self.speaker_id)
            self._failed(events)
            return
        for result in results:
            events.append(
                Caption(
                    speaker_id=self.speaker_id,
                    speaker_index=self.speaker_index,
                    text=result.text,
                    final=result.final,
                    start_ms=self.base_offset_ms + self._timeline_ms(result.start_ms),
                    end_ms=self.base_offset_ms + self._timeline_ms(result.end_ms),
                    tentative=result.tentative,
                )
            )

    def _failed(self, events: list[Event]) -> None:
        now = self._clock()
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.failure_window_s:
            self._failures.popleft()
        if len(self._failures) >= self.max_failures:
            self._paused_until = now + self.pause_s
            self._failures.clear()
            events.append(self._notice(NOTICE_PAUSED, "Captions are paused for this speaker after repeated errors."))
            return
        events.append(self._notice(NOTICE_ENGINE_ERROR, "Captions missed a few words."))
        self._restart(events)

    def _restart(self, events: list[Event]) -> None:
        try:
            self._recogniser = self.engine.start(grammar=self.grammar)
            self.set_prompt(self._prompt)
        except Exception:
            logger.exception("captions: could not restart the %s recogniser", self.engine.name)
            self._paused_until = self._clock() + self.pause_s
            events.append(self._notice(NOTICE_PAUSED, "Captions are paused for this speaker after repeated errors."))
            return
        self._anchors.append((0, self._decoder_next_ms()))
        self._fed_ms = 0

    def _check_paused(self, events: list[Event]) -> bool:
        if self._paused_until is None:
            return False
        if self._clock() < self._paused_until:
            return True
        self._paused_until = None
        self._restart(events)
        if self._paused_until is None:
            events.append(self._notice(NOTICE_RESUMED, "Captions are back for this speaker."))
        return self._paused_until is not None

    def _decoder_next_ms(self) -> int:
        # A new recogniser counts from zero; the timeline carries on from the last decoded audio.
        last_fed, last_timeline = self._anchors[-1]
        return last_timeline + (self._fed_ms - last_fed)

    def _timeline_ms(self, fed_ms: int) -> int:
        for anchor_fed, anchor_timeline in reversed(self._anchors):
            if anchor_fed <= fed_ms:
                return anchor_timeline + (fed_ms - anchor_fed)
        return fed_ms

    def _notice(self, code: str, message: str) -> Notice:
        return Notice(speaker_id=self.speaker_id, speaker_index=self.speaker_index, code=code, message=message)


def _frame_ms(frame: bytes, *, relayed: bool) -> int:
    offset = 1 if relayed else 0
    if len(frame) <= offset + HEADER_BYTES:
        return 0
    fmt = frame[offset]
    if fmt == FORMAT_OPUS:
        return OPUS_FRAME_MS
    if fmt == FORMAT_PCM16:
        return (len(frame) - offset - HEADER_BYTES) // 32
    return 0


def _collapse_partials(events: list[Event]) -> list[Event]:
    """Keep every final and notice; of the partials keep only the newest, and only after the last final."""
    last_final = max((i for i, e in enumerate(events) if isinstance(e, Caption) and e.final), default=-1)
    last_partial = max((i for i, e in enumerate(events) if isinstance(e, Caption) and not e.final), default=-1)
    return [
        e
        for i, e in enumerate(events)
        if not (isinstance(e, Caption) and not e.final) or (i == last_partial and i > last_final)
    ]
