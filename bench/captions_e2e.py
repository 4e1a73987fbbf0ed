"""End-to-end caption benchmark: speakers' Opus frames through a server, the relay and a captions worker
in its own process, to listeners' sockets, with N Spaces live on one worker.

The production shape: one Daphne process and one `celery worker -Q captions --pool=solo` on PostgreSQL
and Redis. Each Space (seeded live, bench/room_seed.py) gets a speaker socket that sends espeak-ng
sentences encoded as the browser encodes them (48 kHz mono Opus in 20 ms frames with the contract
header) at real time, with pauses between sentences (each pass at another alignment within a frame), and
a listener socket that times every caption it receives. It prints, over all Spaces: p50/p95 from the end
of each sentence to its final at the listener, time from the first word to the first partial, WER of the
finals against what was said (bench/word_errors.py), seconds of speech that got no final, and the worker's
CPU per stream (cores). Last line:
`caption_e2e_p50_s=<> caption_e2e_p95_s=<> first_partial_p50_s=<> wer=<> spaces=<N>`.

Prerequisites as bench/fanout.py: a PostgreSQL server (`--server`), on which it makes a scratch
database of its own; REDIS_URL when set, otherwise its own redis-server on a free port.

    .venv/bin/python bench/captions_e2e.py --spaces 4 --seconds 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fanout import django_setup, free_port, server_command, start_redis, stop, wait_port  # noqa: E402
from word_errors import word_errors  # noqa: E402

# Sentences no test and no other bench uses.
SENTENCES = [
    "The lighthouse keeper painted the harbour wall bright orange.",
    "Our bakery sells warm cinnamon bread every Tuesday morning.",
    "The orchestra rehearsed the symphony twice before the concert.",
    "A narrow bridge crosses the canal near the old mill.",
    "Farmers expect heavy rain across the valley this weekend.",
    "She parked the red bicycle outside the public library.",
    "The museum opens a new exhibition about ancient maps.",
    "Please bring a sandwich and a bottle of water tomorrow.",
    "The train to the coast leaves from platform seven.",
    "Our neighbours planted apple trees along the fence.",
]
PAUSE_MS = 900
# Where a word falls within a 20 ms frame changes what the encoder and the model make of it (WER moves by
# several hundredths between alignments): each pass over the sentences, and each Space, speaks them at another
# of ALIGNMENTS offsets within a frame, so that a run measures many alignments rather than one many times.
ALIGNMENTS = 8
LEAD_MS = 300


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Spoken = tuple[str, list[bytes], int, float]  # text, Opus payloads, speech ms, first word's offset in seconds


async def run_space(port: int, room, index: int, aligned: list[list[Spoken]], seconds: float, out: dict) -> None:
    import websockets

    from captions.audio import FORMAT_OPUS, build_frame

    headers = {"Origin": f"http://127.0.0.1:{port}"}
    url = f"ws://127.0.0.1:{port}/ws/spaces/{room.space_id}/"
    async with (
        websockets.connect(
            url, additional_headers={**headers, "Cookie": room.cookie(room.speaker_sessions[0])}, open_timeout=120
        ) as sp,
        websockets.connect(
            url, additional_headers={**headers, "Cookie": room.cookie(room.listener_sessions[0])}, open_timeout=120
        ) as ls,
    ):
        captions: list[tuple[float, dict]] = []
        said: list[tuple[str, float, float]] = []  # text, first word at, last word at

        async def listen() -> None:
            received = 0
            async for message in ls:
                if isinstance(message, bytes):
                    received += 1
                    if received % 50 == 0:
                        await ls.send(json.dumps({"type": "media_ack", "received": received}))
                    continue
                event = json.loads(message)
                if event["type"] == "caption":
                    captions.append((time.monotonic(), event))

        async def drain(socket) -> None:
            received = 0
            async for message in socket:
                if isinstance(message, bytes):
                    received += 1
                    if received % 50 == 0:
                        await socket.send(json.dumps({"type": "media_ack", "received": received}))

        reader, drainer = asyncio.ensure_future(listen()), asyncio.ensure_future(drain(sp))
        seq, started = 0, time.monotonic()
        clock = started
        silence_frames = PAUSE_MS // 20
        passes = 0
        while time.monotonic() - started < seconds:
            sentences = aligned[(passes + 2 * index) % len(aligned)]
            passes += 1
            for text, payloads, speech_ms, lead_s in sentences:
                first_word = clock + lead_s
                for payload in payloads:
                    await sp.send(build_frame(FORMAT_OPUS, seq, time.time() * 1000, payload))
                    seq += 1
                    clock += 0.02
                    await asyncio.sleep(max(0.0, clock - time.monotonic()))
                said.append((text, first_word, first_word + speech_ms / 1000))
                for _ in range(silence_frames):  # the microphone stays open: silence frames go on
                    await sp.send(build_frame(FORMAT_OPUS, seq, time.time() * 1000, out["silence"]))
                    seq += 1
                    clock += 0.02
                    await asyncio.sleep(max(0.0, clock - time.monotonic()))
                if time.monotonic() - started >= seconds:
                    break
        await asyncio.sleep(3)
        reader.cancel()
        drainer.cancel()
        out["spaces"].append((said, captions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="spaces_bench_captions")
    parser.add_argument("--show", action="store_true", help="print what was said and every final received")
    args = parser.parse_args()

    database_url = f"{args.server}/{args.database}"
    redis_url, redis_proc = start_redis()
    os.environ["REDIS_URL"] = redis_url
    django_setup(database_url)

    import numpy as np

    from bench.room_seed import seed_room
    from tests.captions.speech import opus_payloads, speak

    rooms = [seed_room(listeners=1, speakers=1, prefix=f"cap{i}") for i in range(args.spaces)]
    aligned: list[list[Spoken]] = [[] for _ in range(ALIGNMENTS)]
    for text in SENTENCES:
        pcm = speak(text)
        loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype=np.int16).astype(np.int32)) > 300)
        speech_ms = int((loud[-1] + 1) / 16) - int(loud[0] / 16) if loud.size else 0
        for n, sentences in enumerate(aligned):
            lead = 2 * int(16 * (LEAD_MS + 20 * n / ALIGNMENTS))  # PCM16 bytes at 16 kHz
            sentences.append((text, opus_payloads(bytes(lead) + pcm), speech_ms, lead / 32_000))
    silence_payload = opus_payloads(bytes(20 * 32 * 5))[2]

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.base",
        "CAPTIONS_LIVE": "1",
        "CAPTIONS_SPACES_PER_WORKER": str(max(4, args.spaces)),
        # This bench measures captions, not fan-out: a bench client slowed by the loaded machine stays.
        "SPACES_MEDIA_ACK_LAG_MS": "120000",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    server = subprocess.Popen(server_command("daphne", port), cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    log = Path(tempfile.mkstemp(prefix="captions-e2e-", suffix=".log")[1])
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "spaces_site", "worker", "-Q", "captions", "--pool=solo",
             "-n", f"bench-captions-{port}@%h", "--loglevel=info", "--without-heartbeat", "--without-gossip",
             "--without-mingle"],  # fmt: skip
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_port(port, server, timeout=180)
        deadline = time.monotonic() + 120
        while "engine ready" not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the captions worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        from captions.models import CaptionLease

        while CaptionLease.objects.filter(holder__contains=f":{worker.pid}:").count() < args.spaces:
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not take every Space")
            time.sleep(0.2)

        out = {"spaces": [], "silence": silence_payload}
        cpu_before, wall_before = process_cpu_seconds(worker.pid), time.monotonic()

        async def all_spaces() -> None:
            await asyncio.gather(
                *(run_space(port, room, i, aligned, args.seconds, out) for i, room in enumerate(rooms))
            )

        asyncio.run(all_spaces())
        cpu = process_cpu_seconds(worker.pid) - cpu_before
        wall = time.monotonic() - wall_before
    finally:
        stop([server])
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        if redis_proc is not None:
            stop([redis_proc])

    finals_latency, first_partials, dropped_s = [], [], 0.0
    errors = words = 0
    for said, captions in out["spaces"]:
        finals = [(t, e) for t, e in captions if e["final"]]
        partials = [(t, e) for t, e in captions if not e["final"]]
        for i, (_text, first_word, last_word) in enumerate(said):
            next_last = said[i + 1][2] if i + 1 < len(said) else float("inf")
            final = next((t for t, _ in finals if last_word <= t < next_last), None)
            if final is None:
                dropped_s += last_word - first_word
            else:
                finals_latency.append(final - last_word)
            partial = next((t for t, _ in partials if first_word <= t < last_word + 1), None)
            if partial is not None:
                first_partials.append(partial - first_word)
        e, n = word_errors(" ".join(t for t, _, _ in said), " ".join(e["text"] for _, e in finals))
        errors, words = errors + e, words + n

    if args.show:
        for said, captions in out["spaces"]:
            print("said:  ", " | ".join(text for text, _, _ in said))
            print("finals:", " | ".join(e["text"] for _, e in captions if e["final"]))
    print(f"spaces={args.spaces} seconds={args.seconds:.0f} sentences={sum(len(s) for s, _ in out['spaces'])}")
    print(
        f"final after end of sentence: p50={percentile(finals_latency, 0.5):.2f}s "
        f"p95={percentile(finals_latency, 0.95):.2f}s (n={len(finals_latency)})"
    )
    print(f"first partial after first word: p50={percentile(first_partials, 0.5):.2f}s (n={len(first_partials)})")
    print(f"wer={errors / max(1, words):.3f} dropped_speech_s={dropped_s:.1f}")
    print(f"worker cpu={cpu:.1f}s over {wall:.1f}s: {cpu / wall / args.spaces:.2f} cores per stream")
    p50, p95, partial_p50 = (percentile(finals_latency, 0.5), percentile(finals_latency, 0.95),
                             percentile(first_partials, 0.5))  # fmt: skip
    wer = errors / max(1, words)
    print(
        f"caption_e2e_p50_s={p50:.2f} caption_e2e_p95_s={p95:.2f} first_partial_p50_s={partial_p50:.2f} "
        f"wer={wer:.3f} spaces={args.spaces}"
    )


if __name__ == "__main__":
    main()
