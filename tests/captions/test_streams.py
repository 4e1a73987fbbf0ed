"""Speaker streams on bad input: silence, noise, clipping, falling behind and a failing engine."""

from __future__ import annotations

import numpy as np

from captions.streams import (
    NOTICE_BEHIND,
    NOTICE_ENGINE_ERROR,
    NOTICE_PAUSED,
    NOTICE_RESUMED,
    Caption,
    Notice,
    SpeakerStream,
)
from tests.captions.speech import opus_frames, pcm_frames, silence, speak, words_of


def _run(stream: SpeakerStream, frames) -> list:
    events = []
    for frame in frames:
        stream.push(frame)
        events.extend(stream.pump())
    return events + stream.close()


def _finals(events) -> list[Caption]:
    return [e for e in events if isinstance(e, Caption) and e.final]


def _notices(events) -> list[str]:
    return [e.code for e in events if isinstance(e, Notice)]


class FailingEngine:
    """The real default engine, except that chosen calls to `feed` raise as a broken recogniser would."""

    gives_partials = False

    def __init__(self, engine, fail_on: set[int]) -> None:
        self.name = engine.name
        self._engine = engine
        self.fail_on = fail_on
        self.calls = 0
        self.starts = 0

    def start(self, *, grammar=None):
        self.starts += 1
        return _FailingRecogniser(self, self._engine.start(grammar=grammar))


class _FailingRecogniser:
    def __init__(self, owner: FailingEngine, inner) -> None:
        self._owner = owner
        self._inner = inner

    def feed(self, pcm16: bytes):
        self._owner.calls += 1
        if self._owner.calls in self._owner.fail_on:
            raise RuntimeError("recogniser state corrupted")
        return self._inner.feed(pcm16)

    def finish(self):
        return self._inner.finish()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_silence_gives_no_captions_and_no_notices(whisper_engine):
    events = _run(SpeakerStream(engine=whisper_engine), pcm_frames(silence(5_000)))

    assert events == []


def test_steady_noise_gives_no_captions(whisper_engine):
    noise = np.random.default_rng(5).normal(0, 2_500, 16_000 * 6).astype(np.int16).tobytes()

    events = _run(SpeakerStream(engine=whisper_engine), pcm_frames(noise))

    assert _finals(events) == []
    assert _notices(events) == []


def test_clipped_speech_is_still_captioned(whisper_engine, english_speech):
    loud = np.frombuffer(english_speech, dtype=np.int16).astype(np.int32) * 6
    clipped = np.clip(loud, -32768, 32767).astype(np.int16)
    assert np.mean(np.abs(clipped) == 32767) > 0.01  # really clipped

    finals = _finals(_run(SpeakerStream(engine=whisper_engine), opus_frames(clipped.tobytes())))

    assert {"gardening", "tonight"} <= words_of(" ".join(f.text for f in finals))


def test_captions_carry_speaker_and_offsets_from_the_space_start(whisper_engine, english_speech):
    stream = SpeakerStream(engine=whisper_engine, speaker_id=11, speaker_index=1, base_offset_ms=90_000, relayed=True)

    finals = _finals(_run(stream, opus_frames(english_speech, speaker_index=1)))

    assert [(f.speaker_id, f.speaker_index) for f in finals] == [(11, 1), (11, 1)]
    assert 90_000 < finals[0].start_ms < finals[0].end_ms < finals[1].start_ms
    assert finals[1].end_ms <= 90_000 + len(english_speech) // 32


def test_offsets_after_a_long_network_gap_follow_the_capture_clock(whisper_engine):
    speech = silence(300) + speak("Welcome to the morning show about gardening.") + silence(800)
    origin = 1_700_000_000_000.0
    frames = pcm_frames(silence(1_000), origin_ms=origin) + pcm_frames(
        speech, first_seq=5_000, origin_ms=origin + 60_000
    )

    finals = _finals(_run(SpeakerStream(engine=whisper_engine), frames))

    assert len(finals) == 1
    assert 60_000 <= finals[0].start_ms < 60_000 + 700


def test_engine_exception_costs_one_utterance_then_captions_carry_on(whisper_engine, english_speech):
    engine = FailingEngine(whisper_engine, fail_on={40})  # 800 ms in: inside the first sentence
    stream = SpeakerStream(engine=engine, speaker_id=3)

    events = _run(stream, pcm_frames(english_speech))

    assert _notices(events) == [NOTICE_ENGINE_ERROR]
    assert engine.starts == 2
    finals = _finals(events)
    assert "welcome" not in words_of(" ".join(f.text for f in finals))  # lost with the failed recogniser
    assert all(f.start_ms >= 800 for f in finals)  # offsets stay on the stream's timeline after the restart
    assert {"joining", "space", "tonight"} <= words_of(finals[-1].text)


def test_repeated_engine_exceptions_pause_captions_then_they_resume(whisper_engine, english_speech):
    clock = FakeClock()
    engine = FailingEngine(whisper_engine, fail_on={1, 2, 3})
    stream = SpeakerStream(engine=engine, max_failures=3, pause_s=30, clock=clock)
    frames = pcm_frames(english_speech)

    events = []
    for frame in frames[:50]:
        stream.push(frame)
        events.extend(stream.pump())
    assert _notices(events) == [NOTICE_ENGINE_ERROR, NOTICE_ENGINE_ERROR, NOTICE_PAUSED]
    assert stream.paused
    calls_when_paused = engine.calls

    for frame in frames[50:80]:
        stream.push(frame)
        events.extend(stream.pump())
    assert engine.calls == calls_when_paused  # a paused stream does not touch the engine

    clock.now += 31
    events.extend(_run(stream, frames[80:]))

    assert not stream.paused
    assert _notices(events)[3:] == [NOTICE_RESUMED]
    assert {"joining", "space", "tonight"} <= words_of(" ".join(f.text for f in _finals(events)))


def test_backlog_is_bounded_and_the_oldest_audio_is_dropped(whisper_engine, english_speech):
    stream = SpeakerStream(engine=whisper_engine, max_backlog_ms=1_000)
    frames = pcm_frames(english_speech)

    for frame in frames:
        stream.push(frame)
    assert stream.backlog_ms <= 1_000
    assert stream.dropped_frames == len(frames) - 50

    events = stream.pump() + stream.close()

    assert _notices(events) == [NOTICE_BEHIND]
    assert stream.audio_ms <= 1_000 + 1_000  # the kept second plus at most the capped gap silence
    assert all(isinstance(e, Notice) or e.end_ms <= len(english_speech) // 32 for e in events)
