"""A Space's captions in one worker: speakers kept apart, consent honoured, idle streams flushed."""

from __future__ import annotations

import numpy as np

from captions.pipeline import SpaceCaptioner, Speaker, event_message
from captions.streams import Caption, Notice
from tests.captions.speech import opus_frames, silence, speak, words_of

SPACE_START_MS = 1_700_000_000_000.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _captioner(engine, speakers: dict[int, Speaker], **kwargs) -> tuple[SpaceCaptioner, list[int]]:
    lookups: list[int] = []

    def speaker_for_index(index: int) -> Speaker | None:
        lookups.append(index)
        return speakers.get(index)

    captioner = SpaceCaptioner(
        engine=engine,
        speaker_for_index=speaker_for_index,
        space_started_at_ms=SPACE_START_MS,
        wall_clock=lambda: (SPACE_START_MS + 120_000) / 1000,
        **kwargs,
    )
    return captioner, lookups


def _interleave(*streams):
    for group in zip(*streams, strict=False):
        yield from group


def _finals(events):
    return [e for e in events if isinstance(e, Caption) and e.final]


def test_each_speaker_is_captioned_separately_with_their_name(whisper_engine):
    alice_pcm = silence(300) + speak("Welcome to the morning show about gardening.") + silence(800)
    bob_pcm = silence(1_200) + speak("Our guest speaker talks about electric bicycles.") + silence(800)
    bob_pcm = bob_pcm + silence(max(0, len(alice_pcm) - len(bob_pcm)) // 32)
    alice_pcm = alice_pcm + silence(max(0, len(bob_pcm) - len(alice_pcm)) // 32)
    captioner, _ = _captioner(whisper_engine, {0: Speaker(1, "Alice"), 3: Speaker(2, "Bob")})

    events = []
    for frame in _interleave(opus_frames(alice_pcm, speaker_index=0), opus_frames(bob_pcm, speaker_index=3)):
        captioner.relay(frame)
        events += captioner.pump()
    events += captioner.close()

    by_speaker = {captioner.name_of(e): words_of(e.text) for e in _finals(events)}
    assert {"morning", "gardening"} <= by_speaker["Alice"]
    assert {"speaker", "electric"} <= by_speaker["Bob"]
    assert all(120_000 <= e.start_ms < e.end_ms < 130_000 for e in _finals(events))


def test_a_speaker_who_declines_captions_is_never_recognised(whisper_engine):
    pcm = silence(300) + speak("Thank you everyone for joining this space tonight.") + silence(800)
    captioner, lookups = _captioner(whisper_engine, {5: Speaker(9, "Dora", consents=False)})
    frames = opus_frames(pcm, speaker_index=5)

    events = []
    for frame in frames:
        captioner.relay(frame)
        events += captioner.pump()
    events += captioner.close()

    assert events == []
    assert captioner.declined_frames == len(frames)
    assert lookups == [5]  # asked once, not per frame


def test_frames_from_an_index_with_nobody_on_stage_are_dropped(whisper_engine):
    captioner, _ = _captioner(whisper_engine, {})

    frames = opus_frames(silence(200), speaker_index=7)
    for frame in frames:
        captioner.relay(frame)

    assert captioner.pump() == []
    assert captioner.declined_frames == len(frames)


def test_a_speaker_who_goes_quiet_mid_sentence_is_flushed_after_the_idle_timeout(whisper_engine):
    clock = FakeClock(100.0)
    captioner, _ = _captioner(whisper_engine, {0: Speaker(1, "Alice")}, idle_close_s=5.0, clock=clock)
    spoken = np.frombuffer(speak("Welcome to the morning show about gardening."), dtype=np.int16)
    last_sound = np.flatnonzero(np.abs(spoken.astype(np.int32)) > 300)[-1]
    cut_off = silence(300) + spoken[: last_sound + 1].tobytes()  # the connection drops right after the last word

    events = []
    for frame in opus_frames(cut_off, speaker_index=0):
        captioner.relay(frame)
        events += captioner.pump()
    assert _finals(events) == []

    clock.now += 6
    events += captioner.pump()

    assert {"morning", "gardening"} <= words_of(" ".join(e.text for e in _finals(events)))


def test_an_index_that_changes_hands_is_looked_up_again_after_forget(whisper_engine):
    speakers = {2: Speaker(1, "Alice", consents=False)}
    captioner, lookups = _captioner(whisper_engine, speakers)
    captioner.relay(opus_frames(silence(20), speaker_index=2)[0])

    captioner.forget(2)
    speakers[2] = Speaker(3, "Carol")
    pcm = silence(300) + speak("Thank you everyone for joining this space tonight.") + silence(800)
    events = []
    for frame in opus_frames(pcm, speaker_index=2):
        captioner.relay(frame)
        events += captioner.pump()

    assert lookups == [2, 2]
    assert [captioner.name_of(e) for e in _finals(events)] == ["Carol"]


def test_event_messages_carry_what_the_listener_page_shows():
    caption = Caption(speaker_id=1, speaker_index=0, text="hello", final=True, start_ms=10, end_ms=900)
    notice = Notice(speaker_id=1, speaker_index=0, code="captions_paused", message="Captions are paused.")

    assert event_message(caption, "Alice") == {
        "type": "caption",
        "speaker_id": 1,
        "speaker_index": 0,
        "speaker_name": "Alice",
        "text": "hello",
        "tentative": "",
        "final": True,
        "start_ms": 10,
        "end_ms": 900,
    }
    assert event_message(notice, "Alice")["type"] == "caption_notice"
    assert event_message(notice, "Alice")["code"] == "captions_paused"
