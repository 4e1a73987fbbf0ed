"""How long mixing a one-hour recorded Space takes, and how big the replay is per hour.

Two speakers talk in turn (about 30 s each, a second of silence between turns) for an hour of
espeak-ng speech encoded as the speaker's page does (20 ms Opus at 32 kbit/s); the recorder's chunk
format is written and read back, then `rooms.replays.mixing` decodes, mixes and encodes it. Prints the
wall time of the mix (all of it, and what is left after the Space ends), the sizes, and AAC for
comparison. Needs espeak-ng and sox (as the tests do).

    .venv/bin/python bench/replay_mix.py [--minutes 60] [--aac-minutes 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")

import av  # noqa: E402
import numpy as np  # noqa: E402

from rooms.replays import mixing, trackfile  # noqa: E402

SENTENCES = (
    "Welcome back to the show. Today we talk about gardens, tomatoes and the long summer evenings.",
    "Thanks for having me. I think the most important thing is good soil and a little patience.",
)


def speech_48k(text: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-s", "160", "--stdout", text], capture_output=True, check=True).stdout
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.int16)


def opus_packets(samples: np.ndarray) -> list[bytes]:
    encoder = mixing.opus_encoder()  # as the speakers' pages encode
    samples = np.pad(samples, (0, -len(samples) % 960))
    packets = []
    for n, at in enumerate(range(0, len(samples), 960)):
        frame = av.AudioFrame.from_ndarray(samples[at : at + 960].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48_000, n * 960
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets + [bytes(p) for p in encoder.encode(None)]


def one_hour(minutes: float) -> tuple[list[bytes], int]:
    """Each speaker's chunks (as the recorder stores them, 5 s each) and the Space's length in ms."""
    turn_packets = [opus_packets(np.tile(speech_48k(text), 6)) for text in SENTENCES]
    length_ms = int(minutes * 60_000)
    frames: list[list[trackfile.TrackFrame]] = [[], []]
    seq, at_ms, who = [0, 0], 1000, 0
    while at_ms < length_ms:
        for payload in turn_packets[who]:
            if at_ms >= length_ms:
                break
            frames[who].append(trackfile.TrackFrame(at_ms, seq[who], 1, payload))
            seq[who] += 1
            at_ms += 20
        at_ms += 1000
        who = 1 - who
    chunks = []
    for user_id, track in enumerate(frames, 1):
        for at in range(0, len(track), 250):
            chunks.append(trackfile.pack(user_id, track[at : at + 250]))
    return chunks, length_ms


def transcode_aac(tracks, length_ms: int, path: str) -> None:
    """The alternative measured: decode and mix the same way, then encode AAC-LC (64 kbit/s) in MP4."""
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("aac", rate=48_000)
        stream.layout, stream.bit_rate = "mono", 64_000
        pts = 0
        for start in range(0, length_ms, mixing.SECTION_MS):
            end = min(start + mixing.SECTION_MS, length_ms)
            buffer = np.zeros((end - start) * 48, dtype=np.float32)
            for frames in tracks:
                wanted = [f for f in frames if start - 1000 <= f.at_ms < end]
                mixing._SpeakerTrack(wanted).add_to(buffer, start * 48)
            for at in range(0, len(buffer), 1024):
                frame = av.AudioFrame.from_ndarray(buffer[at : at + 1024].reshape(1, -1), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48_000, pts
                pts += frame.samples
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def sections_of(tracks, length_ms: int):
    for start in range(0, length_ms, mixing.SECTION_MS):
        end = min(start + mixing.SECTION_MS, length_ms)
        yield mixing.mix_section(tracks, start_ms=start, end_ms=end - end % 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--aac-minutes", type=float, default=5, help="AAC is slow: measured on this much")
    args = parser.parse_args()
    started = time.monotonic()
    chunks, length_ms = one_hour(args.minutes)
    stored = sum(len(c) for c in chunks)
    hours = args.minutes / 60
    print(f"synthesised {args.minutes:g} min of two speakers in turn in {time.monotonic() - started:.1f} s")
    print(f"per-speaker chunks: {len(chunks)} files, {stored / 1e6:.1f} MB ({stored / 1e6 / hours:.1f} MB/hour)")
    tracks: dict[int, list] = {}
    for chunk in chunks:
        user_id, frames = trackfile.unpack(chunk)
        tracks.setdefault(user_id, []).extend(frames)
    tracks = list(tracks.values())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "replay.m4a")
        started, cpu = time.monotonic(), time.process_time()
        sections = list(sections_of(tracks, length_ms))
        mixed, mixed_cpu = time.monotonic() - started, time.process_time() - cpu
        stored_sections = [trackfile.pack_packets(s) for s in sections]
        started, cpu = time.monotonic(), time.process_time()
        last = mixing.mix_section(
            tracks, start_ms=(len(sections) - 1) * mixing.SECTION_MS, end_ms=length_ms - length_ms % 20
        )
        last_took = time.monotonic() - started
        duration_ms = mixing.assemble([*(trackfile.unpack_packets(s) for s in stored_sections[:-1]), last], path)
        after_end, after_end_cpu = time.monotonic() - started, time.process_time() - cpu
        size = os.path.getsize(path)
        aac_ms = int(min(args.aac_minutes, args.minutes) * 60_000)
        started, cpu = time.monotonic(), time.process_time()
        transcode_aac(tracks, aac_ms, os.path.join(folder, "replay-aac.m4a"))
        took = time.process_time() - cpu
        aac_size = os.path.getsize(os.path.join(folder, "replay-aac.m4a"))
        per_hour = took * 3_600_000 / aac_ms
        print(
            f"aac/mp4 (the alternative): {aac_ms / 60_000:g} min in {took:.1f} CPU s, so about {per_hour:.0f} CPU s "
            f"for an hour in one pass; {aac_size / 1e6 * 3_600_000 / aac_ms:.1f} MB/hour"
        )
        print(
            f"opus/mp4: every section decoded, mixed and encoded in {mixed_cpu:.1f} CPU s ({mixed:.1f} s wall; "
            f"{length_ms / 1000 / mixed_cpu:.0f}x real time per core; spread over the Space while it is live)"
        )
        print(
            f"opus/mp4: ready after the end in {after_end_cpu:.1f} CPU s ({after_end:.1f} s wall: last section "
            f"{last_took:.1f} s, then assembling {duration_ms / 60_000:.1f} min); "
            f"{size / 1e6:.1f} MB ({size / 1e6 / hours:.1f} MB/hour)"
        )


if __name__ == "__main__":
    main()
