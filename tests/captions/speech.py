"""Real speech for the tests: espeak-ng voices resampled to 16 kHz PCM16, and the client frames a speaker's page
would send of it (PCM16, or Opus as WebCodecs encodes it)."""

from __future__ import annotations

import subprocess

import av
import numpy as np

from captions.audio import FORMAT_OPUS, FORMAT_PCM16, build_frame
from rooms.replays.mixing import opus_encoder

SAMPLE_RATE = 16_000


def speak(text: str, voice: str = "en-us") -> bytes:
    """`text` spoken by espeak-ng, as 16 kHz mono PCM16."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True)
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav.stdout,
        capture_output=True,
        check=True,
    )
    return raw.stdout


def silence(ms: int) -> bytes:
    return bytes(ms * 32)


def pcm_frames(pcm16: bytes, *, first_seq: int = 0, origin_ms: float = 1_700_000_000_000.0, frame_ms: int = 20):
    """PCM16 client frames (format 2) of `frame_ms` each, stamped as a real capture clock would."""
    step = frame_ms * 32
    return [
        build_frame(FORMAT_PCM16, first_seq + n, origin_ms + n * frame_ms, pcm16[i : i + step])
        for n, i in enumerate(range(0, len(pcm16), step))
    ]


def opus_payloads(pcm16: bytes, *, application: str = "audio") -> list[bytes]:
    """`pcm16` (16 kHz) encoded the way a speaker's page does: 48 kHz mono Opus in 20 ms packets."""
    encoder = opus_encoder(application)
    upsampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
    mono = np.frombuffer(pcm16, dtype=np.int16).reshape(1, -1)
    source = av.AudioFrame.from_ndarray(mono, format="s16", layout="mono")
    source.sample_rate = SAMPLE_RATE
    samples = np.concatenate(
        [f.to_ndarray().reshape(-1) for f in [*upsampler.resample(source), *upsampler.resample(None)]]
    )
    samples = np.pad(samples, (0, -len(samples) % 960))
    packets = []
    for n, i in enumerate(range(0, len(samples), 960)):
        frame = av.AudioFrame.from_ndarray(samples[i : i + 960].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts = n * 960
        packets.extend(bytes(p) for p in encoder.encode(frame))
    packets.extend(bytes(p) for p in encoder.encode(None))
    return packets


def opus_frames(
    pcm16: bytes,
    *,
    first_seq: int = 0,
    origin_ms: float = 1_700_000_000_000.0,
    speaker_index=None,
    stream: int = 0,
    application: str = "audio",
):
    return [
        build_frame(FORMAT_OPUS, first_seq + n, origin_ms + n * 20, payload, speaker_index=speaker_index, stream=stream)
        for n, payload in enumerate(opus_payloads(pcm16, application=application))
    ]


def words_of(text: str) -> set[str]:
    return {w.strip(".,!?;:'\"").lower() for w in text.split()}
