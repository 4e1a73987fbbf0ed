"""One Space's captions inside one worker: relayed frames in, per-speaker captions and notices out.

The caption task (which needs the rooms app for its frame source, the speakers and the push to
the Space) drives a `SpaceCaptioner`: `relay()` for every relayed frame (speaker byte first),
`pump()` in its loop, `forget()` when a speaker leaves the stage, `close()` when the Space ends.
Only speakers who consent to captioning are ever recognised; everyone else's frames are dropped
here, before decoding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .engines import Engine
from .streams import Caption, Event, Notice, SpeakerStream

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Speaker:
    user_id: int
    name: str
    consents: bool = True


class SpaceCaptioner:
    def __init__(
        self,
        *,
        engine: Engine,
        speaker_for_index: Callable[[int], Speaker | None],
        space_started_at_ms: float,
        idle_close_s: float = 5.0,
        max_backlog_ms: int = 2_000,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.speaker_for_index = speaker_for_index
        self.space_started_at_ms = space_started_at_ms
        self.idle_close_s = idle_close_s
        self.max_backlog_ms = max_backlog_ms
        self._wall_clock = wall_clock
        self._clock = clock
        self._streams: dict[int, SpeakerStream] = {}
        self._last_frame_at: dict[int, float] = {}
        self._declined: dict[int, Speaker | None] = {}  # index -> who was refused (None: nobody there)
        self.speakers: dict[int, Speaker] = {}  # user id -> speaker, for names on captions
        self.declined_frames = 0
        self._busy_s = 0.0  # time spent recognising, which never counts as a speaker's silence
        self.prompt = ""  # words the recogniser is primed with (the Space's title, topics, names)

    def set_prompt(self, prompt: str) -> None:
        """Prime every speaker's recogniser, open or to come, with `prompt` (engines that take one)."""
        self.prompt = prompt
        for stream in self._streams.values():
            stream.set_prompt(prompt)

    def relay(self, frame: bytes) -> None:
        """Queue one relayed frame for its speaker's stream; cheap, never recognises."""
        if not frame:
            return
        index = frame[0]
        stream = self._streams.get(index)
        if stream is None:
            if index in self._declined:
                self.declined_frames += 1
                return
            stream = self._open(index)
            if stream is None:
                self.declined_frames += 1
                return
        stream.push(frame)
        self._last_frame_at[index] = self._clock() - self._busy_s

    def pump(self) -> list[Event]:
        """Recognise what every stream has queued; streams silent for a while are flushed and closed."""
        events: list[Event] = []
        for index, stream in list(self._streams.items()):
            started = self._clock()
            events += stream.pump()
            self._busy_s += self._clock() - started
            # Idle time is time without frames while we were not busy recognising: a long decode of
            # another stream (a loaded machine) must not close a stream whose speaker is mid-sentence.
            now = self._clock() - self._busy_s
            if now - self._last_frame_at.get(index, now) > self.idle_close_s:
                events += self.forget(index)
        return events

    def forget(self, index: int) -> list[Event]:
        """The speaker at `index` left the stage (or the index changed hands): flush and drop its stream."""
        self._declined.pop(index, None)
        self._last_frame_at.pop(index, None)
        stream = self._streams.pop(index, None)
        return stream.close() if stream is not None else []

    def drop(self, index: int) -> None:
        """Discard the stream at `index` unrecognised (its speaker withdrew consent)."""
        self._declined.pop(index, None)
        self._last_frame_at.pop(index, None)
        self._streams.pop(index, None)

    def close(self) -> list[Event]:
        events: list[Event] = []
        for index in list(self._streams):
            events += self.forget(index)
        return events

    def name_of(self, event: Event) -> str:
        speaker = self.speakers.get(event.speaker_id) if event.speaker_id is not None else None
        return speaker.name if speaker else ""

    def _open(self, index: int) -> SpeakerStream | None:
        speaker = self.speaker_for_index(index)
        if speaker is None or not speaker.consents:
            self._declined[index] = speaker
            return None
        self.speakers[speaker.user_id] = speaker
        # The stream's clock starts at its first frame; captions count from the Space's start.
        base = max(0, int(self._wall_clock() * 1000 - self.space_started_at_ms))
        stream = SpeakerStream(
            engine=self.engine,
            speaker_id=speaker.user_id,
            speaker_index=index,
            relayed=True,
            base_offset_ms=base,
            max_backlog_ms=self.max_backlog_ms,
            clock=self._clock,
        )
        stream.set_prompt(self.prompt)
        self._streams[index] = stream
        return stream


def event_message(event: Event, speaker_name: str) -> dict:
    """The JSON a listener's page receives for a caption or a caption notice."""
    if isinstance(event, Caption):
        return {
            "type": "caption",
            "speaker_id": event.speaker_id,
            "speaker_index": event.speaker_index,
            "speaker_name": speaker_name,
            "text": event.text,
            "tentative": event.tentative,
            "final": event.final,
            "start_ms": event.start_ms,
            "end_ms": event.end_ms,
        }
    if isinstance(event, Notice):
        return {
            "type": "caption_notice",
            "speaker_id": event.speaker_id,
            "speaker_index": event.speaker_index,
            "speaker_name": speaker_name,
            "code": event.code,
            "message": event.message,
        }
    raise TypeError(f"not a caption event: {event!r}")
