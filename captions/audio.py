"""Turning one speaker's media frames into 16 kHz mono PCM16 for the recogniser.

Frame format: the media contract of rooms/media.py (`HEADER`: format, stream id, sequence number,
capture time in ms, then the payload). Relayed frames carry one more leading byte, the speaker index.
A new stream id (the speaker reloaded, reconnected, switched device or unmuted) restarts the sequence.

Decoding degrades instead of failing: a malformed frame or undecodable payload is counted and
skipped, a short gap is filled with silence so timing stays true, a long gap is filled with
just enough silence to close the utterance in flight, late and repeated frames are dropped, and
a switch of codec mid-stream starts a fresh decoder.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import av
import numpy as np

from rooms.media import FORMAT_OPUS, FORMAT_PCM16, HEADER_BYTES, MAX_FRAME_BYTES, pack_frame, unpack_header

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
OPUS_FRAME_MS = 20

# Missing audio up to this long is replaced by silence of the same length; a longer gap gets
# this much silence (enough to end the utterance in flight) and the timeline jumps.
MAX_FILLED_GAP_MS = 1_000
# Disagreement with the capture clock below this is jitter (or decoder delay), not a lost frame.
GAP_TOLERANCE_MS = 10


class FrameDecodeError(ValueError):
    """A frame that does not follow the media contract."""


@dataclass(frozen=True)
class Frame:
    speaker_index: int | None
    fmt: int
    seq: int
    capture_ms: float
    payload: bytes
    stream: int = 0


@dataclass(frozen=True)
class Chunk:
    """Decoded audio placed on the stream's timeline (ms since the stream's first frame)."""

    pcm16: bytes
    start_ms: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + len(self.pcm16) // 32


def parse_frame(frame: bytes, *, relayed: bool = False) -> Frame:
    """Split a client frame (or a relayed one, with its speaker byte) into header and payload."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise FrameDecodeError("a frame is bytes")
    frame = bytes(frame)
    speaker_index = None
    if relayed:
        if not frame:
            raise FrameDecodeError("empty relayed frame")
        speaker_index, frame = frame[0], frame[1:]
    if len(frame) < HEADER_BYTES:
        raise FrameDecodeError(f"frame of {len(frame)} bytes is shorter than the {HEADER_BYTES}-byte header")
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameDecodeError(f"frame of {len(frame)} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    fmt, stream, seq, capture_ms = unpack_header(frame)
    if fmt not in (FORMAT_OPUS, FORMAT_PCM16):
        raise FrameDecodeError(f"unknown audio format {fmt}")
    return Frame(speaker_index, fmt, seq, capture_ms, frame[HEADER_BYTES:], stream)


def build_frame(
    fmt: int, seq: int, capture_ms: float, payload: bytes, *, speaker_index: int | None = None, stream: int = 0
) -> bytes:
    """The inverse of parse_frame: what a speaker's page sends (and the relay forwards)."""
    frame = pack_frame(fmt, stream=stream, sequence=seq, captured_ms=capture_ms, payload=payload)
    prefix = bytes([speaker_index]) if speaker_index is not None else b""
    return prefix + frame


class _OpusDecoder:
    def __init__(self) -> None:
        self._codec = av.CodecContext.create("opus", "r")
        self._codec.sample_rate = 48_000
        self._codec.layout = "mono"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def decode(self, payload: bytes) -> bytes:
        out = []
        for frame in self._codec.decode(av.Packet(payload)):
            for resampled in self._resampler.resample(frame):
                out.append(resampled.to_ndarray().astype(np.int16, copy=False).tobytes())
        return b"".join(out)


class StreamDecoder:
    """Decodes one speaker's frames, in arrival order, into timed 16 kHz PCM16 chunks."""

    def __init__(self) -> None:
        self._opus: _OpusDecoder | None = None
        self._fmt: int | None = None
        self._last_seq: int | None = None
        self._stream: int | None = None
        self._origin_ms: float | None = None
        self._next_ms = 0  # where the next chunk starts on the stream's timeline
        self._last_frame_ms = OPUS_FRAME_MS
        self.frames = 0
        self.bad_frames = 0
        self.late_frames = 0
        self.codec_switches = 0
        self.filled_ms = 0
        self._last_capture_ms = math.nan

    def decode(self, frame: bytes | Frame, *, relayed: bool = False) -> list[Chunk]:
        """Decoded audio for one frame (a silence chunk first if frames went missing); never raises."""
        try:
            parsed = frame if isinstance(frame, Frame) else parse_frame(frame, relayed=relayed)
        except FrameDecodeError as exc:
            self.bad_frames += 1
            logger.debug("captions: skipping a frame: %s", exc)
            return []
        new_stream = self._last_seq is not None and parsed.stream != self._stream
        self._stream = parsed.stream
        if new_stream:
            # The speaker started a new capture session: its sequence starts again, from a new encoder.
            self._opus = None
        elif self._last_seq is not None and _seq_not_after(parsed.seq, self._last_seq):
            self.late_frames += 1
            return []

        pcm = self._decode_payload(parsed)
        if pcm is None:
            self.bad_frames += 1
            self._last_seq = parsed.seq
            return []
        self.frames += 1
        chunks = self._place(parsed, new_stream=new_stream)
        self._last_seq = parsed.seq
        self._last_capture_ms = parsed.capture_ms
        if pcm:
            chunks.append(Chunk(pcm, self._next_ms))
            self._next_ms += len(pcm) // 32
            self._last_frame_ms = OPUS_FRAME_MS if parsed.fmt == FORMAT_OPUS else max(1, len(pcm) // 32)
        return chunks

    def _decode_payload(self, frame: Frame) -> bytes | None:
        if frame.fmt != self._fmt:
            if self._fmt is not None:
                self.codec_switches += 1
            self._fmt = frame.fmt
            self._opus = None
        if frame.fmt == FORMAT_PCM16:
            payload = frame.payload
            return payload[: len(payload) - len(payload) % 2]
        try:
            if self._opus is None:
                self._opus = _OpusDecoder()
            return self._opus.decode(frame.payload)
        except (av.FFmpegError, ValueError) as exc:
            logger.debug("captions: undecodable Opus payload: %s", exc)
            # The decoder state after garbage is unknown; the next frame gets a fresh one.
            self._opus = None
            return None

    def _place(self, frame: Frame, *, new_stream: bool = False) -> list[Chunk]:
        """Silence for the frames that never arrived, judged by the capture clock (else the sequence)."""
        if self._last_seq is None:
            self._origin_ms = frame.capture_ms if math.isfinite(frame.capture_ms) else None
            return []
        if self._origin_ms is not None and math.isfinite(frame.capture_ms):
            # The capture clock knows how long the gap really was, whatever the frame sizes.
            missing_ms = int(frame.capture_ms - self._origin_ms - self._next_ms)
        elif new_stream:
            missing_ms = 0  # sequences of two streams say nothing about the time between them
        else:
            missing_ms = ((frame.seq - self._last_seq - 1) & 0xFFFFFFFF) * self._last_frame_ms
        if missing_ms <= GAP_TOLERANCE_MS:
            return []
        filled = min(missing_ms, MAX_FILLED_GAP_MS)
        chunk = Chunk(bytes(filled * 32), self._next_ms)
        self.filled_ms += filled
        self._next_ms += missing_ms  # the timeline keeps true time even where silence was capped
        return [chunk]


def _seq_not_after(seq: int, last: int) -> bool:
    """Sequence comparison that survives the uint32 wrapping round."""
    return ((seq - last) & 0xFFFFFFFF) == 0 or ((seq - last) & 0xFFFFFFFF) > 0x7FFFFFFF
