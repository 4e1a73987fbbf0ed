"""Admission under a storm: N listeners arrive at one server process that takes C sockets and R joins a second.

Drives the real application under uvicorn (as `make uvicorn` runs it) on a scratch PostgreSQL database with
Redis, a live Space seeded with real Django sessions (bench/room_seed.py), the host inside first. N listeners
then open their sockets with at most H handshakes in flight. Each socket is let in (its `welcome`), told its
place in line (`waiting`, rooms/PROTOCOL.md "Admission"), or lost before the consumer ran (the handshake
failed). Then L listeners inside leave at once, and the bench times how long the line takes to let L more in,
and checks they were the first L in line.

    python bench/admission_line.py --listeners 600 --capacity 300 --rate 30 --leave 100

The last line is `let_in=<n> waiting=<n> lost=<n> line_moved_s=<s> in_order=<bool>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fanout  # noqa: E402  (servers, the scratch database)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/spaces_admission_line"


class Socket:
    """One listener's socket: when it heard its first message, of what type, and when it was let in."""

    def __init__(self, url: str, cookie: str, origin: str) -> None:
        self.url, self.headers = url, {"Cookie": cookie, "Origin": origin}
        self.first: float | None = None
        self.first_type = ""
        self.welcome_at: float | None = None
        self.ws = None
        self.failure = ""

    async def run(self, started: float, handshakes: asyncio.Semaphore) -> None:
        try:
            async with handshakes:
                self.ws = await websockets.connect(
                    self.url, additional_headers=self.headers, compression=None, max_size=None, open_timeout=120
                )
            async for message in self.ws:
                if isinstance(message, bytes):
                    continue
                event = json.loads(message)
                now = time.monotonic() - started
                if self.first is None:
                    self.first, self.first_type = now, event["type"]
                if event["type"] == "welcome":
                    self.welcome_at = now
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
            self.failure = self.failure or type(exc).__name__


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def storm(args, room, port: int) -> dict:
    url = f"ws://127.0.0.1:{port}/ws/spaces/{room.space_id}/"
    origin = f"http://127.0.0.1:{port}"
    host = Socket(url, room.cookie(room.speaker_sessions[0]), origin)
    host_task = asyncio.create_task(host.run(time.monotonic(), asyncio.Semaphore(1)))
    await until(lambda: host.welcome_at is not None, 60)
    sockets = [Socket(url, room.cookie(session), origin) for session in room.listener_sessions]
    handshakes = asyncio.Semaphore(args.in_flight)
    started = time.monotonic()
    tasks = [asyncio.create_task(s.run(started, handshakes)) for s in sockets]
    await until(lambda: all(s.first is not None or s.failure for s in sockets), args.settle)
    await asyncio.sleep(2 * args.update_seconds)  # the last welcomes of the storm
    inside = [s for s in sockets if s.welcome_at is not None]
    waiting = sorted(
        (s for s in sockets if s.welcome_at is None and s.first_type == "waiting"), key=lambda s: s.first or 0
    )
    lost = [s for s in sockets if s.first is None]
    figures = {
        "let_in": len(inside),
        "waiting": len(waiting),
        "lost": len(lost),
        "why": dict(Counter(s.failure or "no answer" for s in lost)),
        "first_p50_s": percentile([s.first for s in sockets if s.first is not None], 0.5),
        "first_p99_s": percentile([s.first for s in sockets if s.first is not None], 0.99),
        "welcome_p99_s": percentile([s.welcome_at for s in inside], 0.99),
    }
    leaving = inside[: min(args.leave, len(waiting))]
    left_at = time.monotonic() - started
    await asyncio.gather(*(s.ws.close() for s in leaving))
    await until(lambda: sum(s.welcome_at is not None for s in waiting) >= len(leaving), args.settle)
    let_in = [s for s in waiting if s.welcome_at is not None]
    figures["line_moved_s"] = max((s.welcome_at - left_at for s in let_in), default=float("nan"))
    figures["line_let_in"] = len(let_in)
    # First in, first out: the sockets let in are the ones that heard `waiting` first (ties within 50 ms aside).
    cut = waiting[len(let_in) - 1].first + 0.05 if let_in else 0
    figures["in_order"] = all(s.first <= cut for s in let_in)
    for task in [*tasks, host_task]:
        task.cancel()
    await asyncio.gather(*tasks, host_task, return_exceptions=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=600)
    parser.add_argument("--capacity", type=int, default=300, help="SPACES_LISTENERS_PER_PROCESS of the server")
    parser.add_argument("--rate", type=int, default=30, help="SPACES_JOINS_PER_SECOND of the server")
    parser.add_argument("--leave", type=int, default=100, help="listeners inside who leave once the storm settled")
    parser.add_argument("--in-flight", type=int, default=200, help="handshakes in flight")
    parser.add_argument("--update-seconds", type=int, default=1, help="SPACES_WAITING_UPDATE_SECONDS")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for each phase")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch database, dropped and made again")
    args = parser.parse_args()

    redis_url, redis_proc = fanout.start_redis()
    fanout.django_setup(args.database)
    from django.db import connections

    from bench.room_seed import seed_room

    room = seed_room(listeners=args.listeners, speakers=1, prefix=f"line{os.getpid()}")
    connections.close_all()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": fanout.SETTINGS,
            "DJANGO_CONN_MAX_AGE": "60",
            "SPACES_LISTENERS_PER_PROCESS": str(args.capacity),
            "SPACES_JOINS_PER_SECOND": str(args.rate),
            "SPACES_WAITING_UPDATE_SECONDS": str(args.update_seconds),
            "SPACES_MEDIA_REDIS_PREFIX": f"line.{os.getpid()}",
            "DJANGO_CHANNELS_PREFIX": f"line.{os.getpid()}",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    procs, ports = fanout.start_servers("uvicorn", 1, env)
    print(
        f"listeners={args.listeners} capacity={args.capacity} rate={args.rate} in_flight={args.in_flight} "
        f"load_average={os.getloadavg()[0]:.1f} cores={os.cpu_count()}",
        flush=True,
    )
    try:
        figures = asyncio.run(storm(args, room, ports[0]))
    finally:
        fanout.stop(procs)
        if redis_proc is not None:
            fanout.stop([redis_proc])
    print(
        f"storm: {figures['let_in']} let in (welcome p99 {figures['welcome_p99_s']:.2f} s), {figures['waiting']} "
        f"told their place, {figures['lost']} lost before the consumer ran {figures['why']}; first answer p50 "
        f"{figures['first_p50_s']:.2f} s p99 {figures['first_p99_s']:.2f} s; {args.leave} leave: "
        f"{figures['line_let_in']} let in from the line within {figures['line_moved_s']:.2f} s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"let_in={figures['let_in']} waiting={figures['waiting']} lost={figures['lost']} "
        f"line_moved_s={figures['line_moved_s']:.2f} in_order={figures['in_order']}"
    )


if __name__ == "__main__":
    main()
