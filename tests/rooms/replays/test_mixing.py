"""Mixing speakers' frames into one replay: timing, silences, sections that join, the chunk format."""

from __future__ import annotations

import pytest

from rooms.replays import mixing, trackfile
from tests.rooms.replays.audio import best_correlation, decode_file, pcm16k_floats, rms, speak, track

HOST = "Welcome to the morning show about gardening and tomatoes."
GUEST = "Seven green boxes arrived on Monday, and nobody could open them."


@pytest.fixture(scope="module")
def voices() -> tuple[bytes, bytes]:
    return speak(HOST), speak(GUEST)


def mixed(tmp_path, tracks, length_ms: int, section_ms: int = mixing.SECTION_MS):
    sections = [
        mixing.mix_section(tracks, start_ms=start, end_ms=min(start + section_ms, length_ms))
        for start in range(0, length_ms, section_ms)
    ]
    path = str(tmp_path / "replay.m4a")
    duration_ms = mixing.assemble(sections, path)
    samples, container_ms = decode_file(path)
    return samples, duration_ms, container_ms


def at(samples, start_ms: int, end_ms: int):
    return samples[start_ms * 16 : end_ms * 16]


def test_speakers_in_turn_are_heard_at_their_moments_with_silence_between(tmp_path, voices):
    host_pcm, guest_pcm = voices
    host_ms, guest_ms = len(host_pcm) // 32, len(guest_pcm) // 32
    guest_at = 1_000 + host_ms + 2_000
    length = guest_at + guest_ms + 1_000
    tracks = [track(host_pcm, at_ms=1_000), track(guest_pcm, at_ms=guest_at, jitter_ms=6)]

    samples, duration_ms, container_ms = mixed(tmp_path, tracks, length)

    assert abs(duration_ms - length) <= 20 and abs(container_ms - length) <= 40
    host_r, host_lag = best_correlation(at(samples, 1_000, 1_000 + host_ms), pcm16k_floats(host_pcm))
    guest_r, guest_lag = best_correlation(at(samples, guest_at, guest_at + guest_ms), pcm16k_floats(guest_pcm))
    wrong_r, _ = best_correlation(at(samples, guest_at, guest_at + guest_ms), pcm16k_floats(host_pcm))
    assert host_r > 0.8 and guest_r > 0.8, (host_r, guest_r)
    assert abs(host_lag) <= 2 and abs(guest_lag) <= 2  # within 20 ms of where they were said
    assert guest_r > wrong_r + 0.3
    assert rms(at(samples, 0, 900)) < 0.002  # before anyone spoke
    assert rms(at(samples, 1_000 + host_ms + 300, guest_at - 300)) < 0.002  # the pause between them


def test_sections_join_without_losing_speech_across_the_boundary(tmp_path, voices):
    host_pcm, _ = voices
    host_ms = len(host_pcm) // 32
    # Speech runs straight through the 2 s section boundary.
    samples, _, _ = mixed(tmp_path, [track(host_pcm, at_ms=500)], host_ms + 1_000, section_ms=2_000)
    r, lag = best_correlation(at(samples, 500, 500 + host_ms), pcm16k_floats(host_pcm))
    assert r > 0.8 and abs(lag) <= 2, (r, lag)


def test_overlapping_speakers_are_summed(tmp_path, voices):
    host_pcm, guest_pcm = voices
    length = max(len(host_pcm), len(guest_pcm)) // 32 + 1_000
    samples, _, _ = mixed(tmp_path, [track(host_pcm, at_ms=200), track(guest_pcm, at_ms=200)], length)
    alone, _, _ = mixed(tmp_path, [track(host_pcm, at_ms=200)], length)
    assert rms(samples) > rms(alone) * 1.2


def test_a_stream_restarting_is_placed_where_it_restarted(tmp_path, voices):
    host_pcm, _ = voices
    host_ms = len(host_pcm) // 32
    # A reload: the sequence starts again from zero three seconds after the first stream ended.
    second_at = 500 + host_ms + 3_000
    frames = track(host_pcm, at_ms=500) + track(host_pcm, at_ms=second_at)
    samples, _, _ = mixed(tmp_path, [frames], second_at + host_ms + 500)
    r, lag = best_correlation(at(samples, second_at, second_at + host_ms), pcm16k_floats(host_pcm))
    assert r > 0.8 and abs(lag) <= 2
    assert rms(at(samples, 500 + host_ms + 300, second_at - 300)) < 0.002


def test_chunk_format_round_trips_and_refuses_truncation():
    frames = [trackfile.TrackFrame(20 * n, n, 1, bytes([n]) * (10 + n)) for n in range(5)]
    data = trackfile.pack(42, frames)
    user_id, unpacked = trackfile.unpack(data)
    assert user_id == 42 and list(unpacked) == frames
    with pytest.raises(trackfile.TrackFileError):
        list(trackfile.unpack(data[:-3])[1])
    with pytest.raises(trackfile.TrackFileError):
        trackfile.unpack(b"nope" + data[4:])
    packets = [b"a", b"bc", b""]
    assert trackfile.unpack_packets(trackfile.pack_packets(packets)) == packets
