"""Transcript downloads: WebVTT and plain text with speakers and times."""

from __future__ import annotations

from types import SimpleNamespace

from accounts.models import User
from captions.transcripts import Line, to_text, to_webvtt


def _segments():
    # Shaped like CaptionSegment rows with their speakers (saved segments need rooms.Space).
    alice = User(username="alice", display_name="Alice")
    bob = User(username="bob")
    return [
        Line.from_segment(
            SimpleNamespace(speaker=alice, start_ms=1_250, end_ms=3_900, text="Welcome to the morning show.")
        ),
        Line.from_segment(
            SimpleNamespace(speaker=bob, start_ms=3_725_010, end_ms=3_727_000, text="Is <this> on & working?")
        ),
    ]


def test_webvtt_has_timed_cues_with_speaker_voices():
    vtt = to_webvtt(_segments(), title="Gardening hour")

    assert vtt.splitlines() == [
        "WEBVTT - Gardening hour",
        "",
        "1",
        "00:00:01.250 --> 00:00:03.900",
        "<v Alice>Welcome to the morning show.",
        "",
        "2",
        "01:02:05.010 --> 01:02:07.000",
        "<v bob>Is &lt;this&gt; on &amp; working?",
    ]
    assert vtt.endswith("working?\n")


def test_plain_text_lists_time_speaker_and_words():
    assert to_text(_segments()) == (
        "[00:00:01] Alice: Welcome to the morning show.\n[01:02:05] bob: Is <this> on & working?\n"
    )


def test_empty_transcript_is_still_a_valid_webvtt_file():
    assert to_webvtt([]).startswith("WEBVTT\n")
