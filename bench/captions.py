"""Caption latency and throughput of one worker process: N speakers talking at once, in real time.

Each stream is real speech (espeak-ng, different sentences, staggered starts) encoded as the
speaker's page does (20 ms Opus frames with the contract header) and pushed at the pace it was
spoken; one loop, as one caption worker would, decodes and recognises every stream. Caption
latency runs from the moment an utterance's last word has been spoken to the moment its final
caption comes out. The last line reads
`caption_p50_s=<x> caption_p95_s=<y> realtime_streams=<k> engine=<name>`.

    /work/main/.venv/bin/python bench/captions.py --streams 4 --seconds 40
    CAPTIONS_ENGINE=vosk VOSK_MODEL_PATH=/srv/vosk-model-small-en-us-0.15 .venv/bin/python bench/captions.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from bench.word_errors import word_errors  # noqa: E402
from captions.audio import FORMAT_OPUS, build_frame  # noqa: E402
from captions.engines import get_engine  # noqa: E402
from captions.streams import Caption, SpeakerStream  # noqa: E402
from tests.captions.speech import opus_payloads  # noqa: E402

SENTENCES = [
    "Welcome to the morning show about gardening.",
    "Thank you everyone for joining this space tonight.",
    "Our guest speaker talks about electric bicycles.",
    "The library opens early on Monday.",
    "Please raise your hand if you want to ask a question.",
    "We will share the recording with all of our listeners.",
    "Tomorrow we discuss music and the history of jazz.",
    "The city council approved a new park near the river.",
    "Remember to drink water and take a short break.",
    "Our next topic is cooking healthy food at home.",
    "The football match starts at seven in the evening.",
    "Thanks for listening and have a wonderful week.",
]
REALTIME_RTF = 0.25


def speak(text: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "--stdout", text], capture_output=True, check=True)
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav.stdout,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.int16)


def speech_end_ms(samples: np.ndarray) -> int:
    """Where the last word ends, ignoring espeak-ng's trailing near-silence."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    return int((loud[-1] + 1) / 16) if loud.size else 0


def build_stream(index: int, seconds: float, spoken: dict[str, np.ndarray]):
    """One speaker's audio: sentences in a rotated order with pauses, and where each one ends."""
    rng = np.random.default_rng(index)
    parts = [np.zeros(int(16 * (300 + (700 * index) % 2_500)), dtype=np.int16)]
    utterances = []  # (text, end ms)
    position = len(parts[0]) / 16
    n = index
    while position < seconds * 1000 - 4_000:
        text = SENTENCES[n % len(SENTENCES)]
        samples = spoken[text]
        utterances.append((text, int(position + speech_end_ms(samples))))
        pause = np.zeros(int(16 * rng.integers(600, 1_400)), dtype=np.int16)
        parts += [samples, pause]
        position += (len(samples) + len(pause)) / 16
        n += 1
    parts.append(np.zeros(16 * 1_500, dtype=np.int16))
    return np.concatenate(parts), utterances


def opus_frames(samples: np.ndarray, origin_ms: float) -> list[bytes]:
    return [build_frame(FORMAT_OPUS, n, origin_ms + n * 20, p) for n, p in enumerate(opus_payloads(samples.tobytes()))]


def rss_mb() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40.0, help="audio per stream (the run lasts about this long)")
    parser.add_argument("--engine", default=None, help="whisper or vosk (default: CAPTIONS_ENGINE)")
    parser.add_argument("--threads", type=int, default=1, help="threads pumping the streams (Vosk uses one core each)")
    args = parser.parse_args()
    engine_name = args.engine or settings.CAPTIONS_ENGINE

    spoken = {text: speak(text) for text in SENTENCES}
    streams_audio = [build_stream(i, args.seconds, spoken) for i in range(args.streams)]
    origin = time.time() * 1000
    frames = [opus_frames(samples, origin) for samples, _ in streams_audio]
    rss_before, _ = rss_mb()

    loaded = time.perf_counter()
    engine = get_engine(engine_name)
    load_s = time.perf_counter() - loaded
    sessions = [SpeakerStream(engine=engine, speaker_id=i, speaker_index=i) for i in range(args.streams)]

    emitted: list[list[tuple[float, Caption]]] = [[] for _ in sessions]
    pool = ThreadPoolExecutor(max_workers=args.threads)

    def pump(stream: SpeakerStream) -> list[tuple[float, object]]:
        return [(time.perf_counter() - t0, e) for e in stream.pump()]

    t0 = time.perf_counter()
    total = max(len(f) for f in frames)
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - t0) * 1000 / 20) + 1)
        for k in range(sent, due):
            for stream, stream_frames in zip(sessions, frames, strict=True):
                if k < len(stream_frames):
                    stream.push(stream_frames[k])
        sent = due
        for i, events in enumerate(pool.map(pump, sessions)):
            emitted[i].extend((t, e) for t, e in events if isinstance(e, Caption))
        sleep = t0 + sent * 0.020 - time.perf_counter()
        if sleep > 0:
            time.sleep(sleep)
    for i, stream in enumerate(sessions):
        emitted[i].extend((time.perf_counter() - t0, e) for e in stream.close() if isinstance(e, Caption))
    wall = time.perf_counter() - t0

    latencies: list[float] = []
    partial_latencies: list[float] = []
    errors = words = missed = 0
    for i, (_, utterances) in enumerate(streams_audio):
        finals = [(t, c) for t, c in emitted[i] if c.final]
        partials = [(t, c) for t, c in emitted[i] if not c.final]
        for text, end_ms in utterances:
            match = [(t, c) for t, c in finals if c.start_ms - 500 <= end_ms <= c.end_ms + 600]
            if not match:
                missed += 1
                e, n = word_errors(text, "")
            else:
                latencies.append(match[0][0] - end_ms / 1000)
                e, n = word_errors(text, " ".join(c.text for _, c in match))
            errors += e
            words += n
        for t, c in partials:
            partial_latencies.append(t - c.end_ms / 1000)

    rss, peak = rss_mb()
    utterance_count = sum(len(u) for _, u in streams_audio)
    print(f"engine={engine.name} model_load_s={load_s:.2f} streams={args.streams} threads={args.threads}")
    print(f"audio_per_stream_s={args.seconds:.0f} wall_s={wall:.1f} utterances={utterance_count}")
    print(f"missed={missed} wer={errors / words:.3f}")
    realtime = 0
    for i, stream in enumerate(sessions):
        audio_s = stream.audio_ms / 1000 or float("nan")
        rtf = stream.processing_s / audio_s
        ok = rtf <= REALTIME_RTF and stream.dropped_frames == 0
        realtime += ok
        print(f"stream={i} rtf={rtf:.3f} dropped_frames={stream.dropped_frames} realtime={'yes' if ok else 'no'}")
    if partial_latencies:
        p50, p95 = percentile(partial_latencies, 50), percentile(partial_latencies, 95)
        print(f"partial_p50_s={p50:.2f} partial_p95_s={p95:.2f}")
    print(f"worker_rss_mb={rss:.0f} worker_peak_rss_mb={peak:.0f} rss_before_model_mb={rss_before:.0f}")
    print(
        f"caption_p50_s={percentile(latencies, 50):.2f} caption_p95_s={percentile(latencies, 95):.2f} "
        f"realtime_streams={realtime} engine={engine.name}"
    )


if __name__ == "__main__":
    main()
