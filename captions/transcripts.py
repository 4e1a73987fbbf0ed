"""A kept transcript as WebVTT and as plain text, from its segments in time order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    speaker_name: str
    start_ms: int
    end_ms: int
    text: str

    @classmethod
    def from_segment(cls, segment) -> Line:
        """From a CaptionSegment fetched with select_related("speaker")."""
        return cls(segment.speaker.name, segment.start_ms, segment.end_ms, segment.text)


def _speaker_name(line: Line) -> str:
    return line.speaker_name or "Speaker"


def clock(ms: int, *, vtt: bool) -> str:
    ms = max(0, int(ms))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1_000)
    if vtt:
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _vtt_escape(text: str) -> str:
    # WebVTT cue text may not hold "-->" and treats & and < as markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def to_webvtt(lines: Iterable[Line], *, title: str = "") -> str:
    """A WebVTT file: one cue per segment, the speaker as a voice span (`<v Name>`)."""
    header = "WEBVTT" + (f" - {title}".replace("\n", " ") if title else "")
    out = [header, ""]
    for n, line in enumerate(lines, 1):
        end_ms = max(line.end_ms, line.start_ms + 1)
        out += [
            str(n),
            f"{clock(line.start_ms, vtt=True)} --> {clock(end_ms, vtt=True)}",
            f"<v {_vtt_escape(_speaker_name(line))}>{_vtt_escape(line.text)}",
            "",
        ]
    return "\n".join(out)


def to_text(lines: Iterable[Line], *, title: str = "") -> str:
    """Plain text: `[hh:mm:ss] Name: text`, one line per segment."""
    out = [title, ""] if title else []
    out += [f"[{clock(line.start_ms, vtt=False)}] {_speaker_name(line)}: {line.text}" for line in lines]
    return "\n".join(out) + "\n"
