"""Mixing a recording with PyAV: decode each speaker's Opus frames, lay them on the Space's timeline, sum,
encode Opus, and put the packets of the whole Space in one MP4 file.

The timeline is cut into sections (SECTION_MS). `mix_section` turns the speakers' frames of one section
into its 20 ms Opus packets (a second of decoder warm-up before it and a few encoder frames, thrown away,
so sections join without a click); a recording mixes its sections while the Space is still live, so
after the end only the last section and `assemble` (a remux, no encoding) remain. Each speaker's
frames go where the recorder placed them; consecutive frames of a stream are laid end to end (network
jitter or a busy capture clock never clicks nor overlaps), a pause or a new stream (a reconnect, a
reload) starts afresh at the recorded place. Silences stay silences.

Why Opus in MP4: one hour of speech is 14 MB at 32 kbit/s (AAC-LC needs about twice the rate for the
same speech), the speakers' own codec means no resampling, and MP4 (`audio/mp4; codecs=opus`, moov at
the front) plays and seeks in Chromium, Firefox and Safari 17+; bench/replay_mix.py has the figures.
The mix is encoded as Chromium encodes the speakers' pages (capture.js): Opus's `audio` mode held to the bit
rate by constrained VBR, 32.4 kbps as on Chromium's frames (libopus's plain VBR spends 45-57 kbps on speech in
that mode); `opus_encoder` is that encoder, for the tests and benches too. A second pass costs no words either
way (Whisper tiny.en on bench/captions_wer.py's thirty sentences, 4 alignments: 0.095 WER after the page's
encoding, mixed again in `voip` 0.099, in `audio` 0.090).
"""

from __future__ import annotations

import fractions
from collections.abc import Iterable, Sequence

import av
import numpy as np

from .trackfile import TrackFrame

RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000  # 960
SECTION_MS = 60_000
DECODER_WARMUP_MS = 1_000
ENCODER_WARMUP_FRAMES = 10
BIT_RATE = 32_000
CONTENT_TYPE = "audio/mp4"
EXTENSION = "m4a"
FORMAT_OPUS, FORMAT_PCM16 = 1, 2
MAX_SEQUENCE_STEP = 50  # more frames missing than this (a second) is treated as a new stream
PAUSE_SAMPLES = RATE // 4  # a stream resuming this much later than its last frame ended paused there
DRIFT_SAMPLES = RATE  # laid end to end but a second ahead of the recorded place: go back to the record


class _SpeakerTrack:
    """One speaker's frames in time order, decoded into a buffer that starts at `origin` (a sample index)."""

    def __init__(self, frames: Iterable[TrackFrame]) -> None:
        self.frames = sorted(frames, key=lambda f: f.at_ms)
        self.decoder = None
        self.decoded = 0
        self.errors = 0

    def _decode(self, frame: TrackFrame) -> np.ndarray | None:
        if frame.fmt == FORMAT_PCM16:
            pcm = np.frombuffer(frame.payload[: len(frame.payload) // 2 * 2], dtype="<i2").astype(np.float32) / 32768
            return np.repeat(pcm, 3)  # 16 kHz to 48 kHz: the fallback path, where speech stays intelligible
        if frame.fmt != FORMAT_OPUS:
            return None
        if self.decoder is None:
            self.decoder = av.CodecContext.create("opus", "r")
            self.decoder.sample_rate = RATE
            self.decoder.layout = "mono"
        out = [f.to_ndarray().reshape(-1) for f in self.decoder.decode(av.Packet(frame.payload))]
        return np.concatenate(out).astype(np.float32, copy=False) if out else None

    def add_to(self, buffer: np.ndarray, origin: int) -> None:
        next_sample, last_seq = None, None
        for frame in self.frames:
            target = frame.at_ms * RATE // 1000
            step = (frame.seq - last_seq) & 0xFFFFFFFF if last_seq is not None else None
            if step is None or step == 0 or step > MAX_SEQUENCE_STEP:
                self.decoder = None  # a fresh stream: a fresh decoder, at its recorded place
                start = target
            else:
                # The same stream: its frames are contiguous audio, so they go end to end (a capture
                # clock that stamped a busy moment's frames close together never makes them overlap);
                # lost frames leave their room, and only a real pause (muted, say) moves it to `target`.
                start = next_sample + (step - 1) * FRAME_SAMPLES
                if target - start > PAUSE_SAMPLES or start - target > DRIFT_SAMPLES:
                    start = target
            last_seq = frame.seq
            try:
                samples = self._decode(frame)
            except (av.FFmpegError, ValueError):
                self.errors += 1
                self.decoder = None
                samples = None
            if samples is None or not len(samples):
                next_sample = start + FRAME_SAMPLES
                continue
            self.decoded += 1
            next_sample = start + len(samples)
            begin, end = max(start, origin), min(start + len(samples), origin + len(buffer))
            if end > begin:
                buffer[begin - origin : end - origin] += samples[begin - start : end - start]


def opus_options(application: str = "audio") -> dict[str, str]:
    """libopus's options for the Opus a speaker's page sends (capture.js); "voip" only to compare against."""
    return {"application": application, "vbr": "constrained", "frame_duration": str(FRAME_MS), "compression_level": "5"}


def opus_encoder(application: str = "audio") -> av.CodecContext:
    """An encoder of 20 ms mono 48 kHz Opus packets as a speaker's page makes them."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = BIT_RATE
    encoder.options = opus_options(application)
    encoder.open()
    return encoder


def mix_section(tracks: Iterable[Iterable[TrackFrame]], *, start_ms: int, end_ms: int) -> list[bytes]:
    """The 20 ms Opus packets of the mix of [start_ms, end_ms) (multiples of 20 ms), one per frame.

    `tracks` are the speakers' frames from DECODER_WARMUP_MS before `start_ms` (earlier ones are fine,
    later ones are ignored)."""
    frames_out = (end_ms - start_ms) // FRAME_MS
    origin = (start_ms // FRAME_MS - ENCODER_WARMUP_FRAMES) * FRAME_SAMPLES
    buffer = np.zeros((frames_out + ENCODER_WARMUP_FRAMES) * FRAME_SAMPLES, dtype=np.float32)
    for frames in tracks:
        wanted = [f for f in frames if start_ms - DECODER_WARMUP_MS <= f.at_ms < end_ms]
        if wanted:
            _SpeakerTrack(wanted).add_to(buffer, origin)
    pcm = (np.clip(buffer, -1.0, 1.0) * 32767).astype(np.int16)
    encoder = opus_encoder()
    packets: list[bytes] = []
    for n in range(frames_out + ENCODER_WARMUP_FRAMES):
        frame = av.AudioFrame.from_ndarray(
            pcm[n * FRAME_SAMPLES : (n + 1) * FRAME_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = n * FRAME_SAMPLES
        packets.extend(bytes(p) for p in encoder.encode(frame))
    packets.extend(bytes(p) for p in encoder.encode(None))
    packets = packets[ENCODER_WARMUP_FRAMES : ENCODER_WARMUP_FRAMES + frames_out]
    if len(packets) < frames_out:
        packets += [silence_packet()] * (frames_out - len(packets))
    return packets


_silence: bytes | None = None


def silence_packet() -> bytes:
    """A 20 ms Opus packet of silence (a few bytes), for stretches nobody spoke in."""
    global _silence
    if _silence is None:
        encoder = opus_encoder()
        packets = []
        for n in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, FRAME_SAMPLES), dtype=np.int16), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = RATE, n * FRAME_SAMPLES
            packets.extend(bytes(p) for p in encoder.encode(frame))
        _silence = packets[-1]
    return _silence


def assemble(sections: Sequence[Sequence[bytes]], path: str) -> int:
    """Write the sections' packets, in order, as one Opus-in-MP4 file at `path`; returns its length in ms."""
    time_base = fractions.Fraction(1, RATE)
    at = 0
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libopus", rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = BIT_RATE
        stream.codec_context.options = opus_options()
        stream.codec_context.open()  # the muxer takes the Opus header from the opened encoder
        for packets in sections:
            for payload in packets:
                packet = av.Packet(payload)
                packet.stream = stream
                packet.pts = packet.dts = at
                packet.duration = FRAME_SAMPLES
                packet.time_base = time_base
                container.mux(packet)
                at += FRAME_SAMPLES
    return at * 1000 // RATE
