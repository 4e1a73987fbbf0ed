"""Decoding speakers' frames to 16 kHz PCM16: the contract header, Opus, gaps, codec switches, garbage."""

from __future__ import annotations

import numpy as np
import pytest

from captions.audio import (
    FORMAT_OPUS,
    FORMAT_PCM16,
    MAX_FILLED_GAP_MS,
    FrameDecodeError,
    StreamDecoder,
    build_frame,
    parse_frame,
)
from rooms.media import pack_frame
from tests.captions.speech import opus_frames, pcm_frames, silence, speak, words_of


def _decode_all(decoder: StreamDecoder, frames, *, relayed: bool = False):
    return [chunk for frame in frames for chunk in decoder.decode(frame, relayed=relayed)]


def _transcribe(engine, pcm16: bytes) -> str:
    recogniser = engine.start()
    results = []
    for i in range(0, len(pcm16), 640):
        results.extend(recogniser.feed(pcm16[i : i + 640]))
    results.extend(recogniser.finish())
    return " ".join(r.text for r in results if r.final)


def test_relayed_frame_header_round_trips_with_its_speaker_index():
    frame = build_frame(FORMAT_OPUS, 41, 1234.5, b"payload", speaker_index=3)

    parsed = parse_frame(frame, relayed=True)

    assert (parsed.speaker_index, parsed.fmt, parsed.seq, parsed.capture_ms, parsed.payload) == (
        3,
        FORMAT_OPUS,
        41,
        1234.5,
        b"payload",
    )
    assert parse_frame(frame[1:]).speaker_index is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\x01\x00\x00", "shorter than the 17-byte header"),
        (pack_frame(9, stream=1, sequence=0, captured_ms=0.0, payload=b"x"), "unknown audio format 9"),
        (pack_frame(2, stream=1, sequence=0, captured_ms=0.0, payload=bytes(5000)), "over the 4096-byte limit"),
    ],
)
def test_malformed_frames_are_refused_with_the_reason(frame, message):
    with pytest.raises(FrameDecodeError, match=message):
        parse_frame(frame)


def test_malformed_frames_are_counted_and_skipped_by_the_stream_decoder():
    decoder = StreamDecoder()
    good = pcm_frames(silence(40))

    chunks = _decode_all(decoder, [good[0], b"\x07junk", b"", good[1]])

    assert decoder.bad_frames == 2
    assert [c.start_ms for c in chunks] == [0, 20]


def test_pcm16_frames_pass_through_unchanged():
    pcm = speak("Hello there.")[: 16_000 * 2]
    pcm = pcm[: len(pcm) - len(pcm) % 640]

    chunks = _decode_all(StreamDecoder(), pcm_frames(pcm))

    assert b"".join(c.pcm16 for c in chunks) == pcm


def test_odd_length_pcm16_payload_loses_only_its_last_byte():
    chunks = StreamDecoder().decode(build_frame(FORMAT_PCM16, 0, 0.0, b"\x01\x02\x03"))

    assert [c.pcm16 for c in chunks] == [b"\x01\x02"]


def test_opus_round_trip_through_the_contract_frames_is_recognised(whisper_engine, english_speech):
    frames = opus_frames(english_speech, speaker_index=4)
    decoder = StreamDecoder()

    pcm = b"".join(c.pcm16 for c in _decode_all(decoder, frames, relayed=True))

    assert decoder.bad_frames == 0
    assert abs(len(pcm) - len(english_speech)) <= 40 * 32  # within two frames of the original length
    words = words_of(_transcribe(whisper_engine, pcm))
    assert {"morning", "gardening", "joining", "space", "tonight"} <= words


def test_lost_frames_become_silence_of_the_same_length():
    tone = (np.sin(np.arange(16_000) * 2 * np.pi * 300 / 16_000) * 8_000).astype(np.int16).tobytes()
    frames = pcm_frames(tone)
    decoder = StreamDecoder()

    chunks = _decode_all(decoder, frames[:10] + frames[15:])

    assert decoder.filled_ms == 100
    gap = next(c for c in chunks if c.start_ms == 200)
    assert gap.pcm16 == silence(100)
    assert chunks[-1].end_ms == 1_000


def test_a_long_gap_gets_capped_silence_and_the_timeline_jumps():
    decoder = StreamDecoder()
    before = pcm_frames(silence(100), origin_ms=10_000.0)
    after = pcm_frames(silence(100), first_seq=500, origin_ms=20_000.0)

    chunks = _decode_all(decoder, before + after)

    filler = next(c for c in chunks if c.start_ms == 100)
    assert len(filler.pcm16) == MAX_FILLED_GAP_MS * 32
    assert chunks[-1].end_ms == 10_100


def test_late_and_repeated_frames_are_dropped():
    frames = pcm_frames(silence(100))
    decoder = StreamDecoder()

    chunks = _decode_all(decoder, [frames[0], frames[1], frames[1], frames[3], frames[2], frames[4]])

    assert decoder.late_frames == 2
    assert chunks[-1].end_ms == 100


def test_sequence_numbers_wrapping_round_are_not_mistaken_for_late_frames():
    frames = [build_frame(FORMAT_PCM16, (0xFFFFFFFE + n) & 0xFFFFFFFF, n * 20.0, silence(20)) for n in range(4)]
    decoder = StreamDecoder()

    _decode_all(decoder, frames)

    assert (decoder.frames, decoder.late_frames) == (4, 0)


def test_a_new_stream_restarting_its_sequence_is_decoded_on_the_same_timeline():
    # The speaker reloaded 500 ms after its last frame: the new stream starts again at sequence 0.
    first = [build_frame(FORMAT_PCM16, 500 + n, n * 20.0, silence(20), stream=11) for n in range(5)]
    second = [build_frame(FORMAT_PCM16, n, 600 + n * 20.0, silence(20), stream=12) for n in range(5)]
    decoder = StreamDecoder()

    chunks = _decode_all(decoder, [*first, *second])

    assert (decoder.frames, decoder.late_frames) == (10, 0)
    assert chunks[-1].end_ms == 700  # the 500 ms between the streams stays on the timeline


def test_garbage_opus_payload_is_skipped_and_decoding_carries_on(english_speech):
    frames = opus_frames(english_speech)
    frames[30] = build_frame(FORMAT_OPUS, 30, 1_700_000_000_000.0 + 600, b"\xff\xfe\xfd not opus at all")
    decoder = StreamDecoder()

    chunks = _decode_all(decoder, frames)

    assert decoder.bad_frames == 1
    assert chunks[-1].end_ms >= len(english_speech) // 32 - 60


def test_codec_switch_mid_stream_keeps_one_timeline_and_both_halves_are_recognised(whisper_engine):
    first = silence(400) + speak("Welcome to the morning show about gardening.") + silence(600)
    second = speak("Thank you everyone for joining this space tonight.") + silence(800)
    first = first + silence(-len(first) // 32 % 20)
    origin = 1_700_000_000_000.0
    frames = opus_frames(first, origin_ms=origin) + pcm_frames(
        second, first_seq=len(first) // 640 + 1, origin_ms=origin + len(first) // 32 + 20
    )
    decoder = StreamDecoder()

    chunks = _decode_all(decoder, frames)

    assert decoder.codec_switches == 1 and decoder.bad_frames == 0
    starts = [c.start_ms for c in chunks]
    assert starts == sorted(starts)
    words = words_of(_transcribe(whisper_engine, b"".join(c.pcm16 for c in chunks)))
    assert {"morning", "gardening"} <= words and {"joining", "space", "tonight"} <= words
