"""Helpers for replay tests: speech as speakers' Opus frames, and reading a replay file back."""

from __future__ import annotations

import math

import av
import numpy as np

from rooms.replays.trackfile import TrackFrame
from tests.captions.speech import opus_payloads, silence, speak

__all__ = ["silence", "speak"]


def track(pcm16k: bytes, *, at_ms: int, jitter_ms: int = 0, first_seq: int = 0) -> list[TrackFrame]:
    """`pcm16k` as a speaker's 20 ms Opus frames placed from `at_ms`, optionally jittered by a few ms."""
    rng = np.random.default_rng(7)
    frames = []
    for n, payload in enumerate(opus_payloads(pcm16k)):
        wobble = int(rng.integers(-jitter_ms, jitter_ms + 1)) if jitter_ms else 0
        frames.append(TrackFrame(max(0, at_ms + n * 20 + wobble), first_seq + n, 1, payload))
    return frames


def decode_file(path_or_file) -> tuple[np.ndarray, int]:
    """A replay decoded to mono float samples at 16 kHz, and the container's duration in ms."""
    with av.open(path_or_file) as container:
        stream = container.streams.audio[0]
        duration_ms = int(container.duration / 1000) if container.duration else 0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
        parts = []
        for frame in container.decode(stream):
            parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts), duration_ms


def pcm16k_floats(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768


def envelope(samples: np.ndarray, window: int = 160) -> np.ndarray:
    usable = len(samples) // window * window
    return np.sqrt((samples[:usable].reshape(-1, window) ** 2).mean(axis=1))


def best_correlation(decoded: np.ndarray, source: np.ndarray, max_lag: int = 40) -> tuple[float, int]:
    """Highest Pearson correlation of the envelopes over lags up to `max_lag` windows (10 ms each), and its lag."""
    a, b = envelope(decoded), envelope(source)
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        x = a[max(0, lag) :]
        y = b[max(0, -lag) :]
        n = min(len(x), len(y))
        if n < 50:
            continue
        r = float(np.corrcoef(x[:n], y[:n])[0, 1])
        if not math.isnan(r) and r > best:
            best, best_lag = r, lag
    return best, best_lag


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt((samples**2).mean())) if len(samples) else 0.0
