"""Go-live to a huge audience: an account with N followers (100,000 by default) goes live.

Drives the production shape on this machine: P uvicorn server processes and one Celery worker (the `celery`
queue, C pool processes, as `make worker` runs it) sharing PostgreSQL and Redis. In a scratch database of its
own (`--database`, dropped and made again; never DATABASE_URL's) it seeds in bulk a host, N accounts that follow
it (a few of them with real Django sessions) and a scheduled Space. Then, while R readers request a follower's
home timeline over HTTP in a loop and O followers hold their /ws/me/ socket open, it

1. measures the timeline for a few seconds before anything happens (the baseline),
2. starts the Space through the real service (`rooms.services.space_start`, what the host's request runs) and
   times how long until the call returns and until a follower's room socket on the servers gets its `welcome`
   (joinable_s, from the start of the call),
3. polls the database every 0.5 s until every follower holds the go-live notice (notified_s, from the same
   start), and counts the notices and live bubbles the online followers' sockets received,

and prints the timeline's p50/p95 before and during (from the start of the call until all were notified).

    python bench/go_live.py
    python bench/go_live.py --followers 20000 --online 100

The last line is `joinable_s=<s> notified_s=<s> timeline_p95_ms=<ms> followers=<N>`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout  # noqa: E402  (servers, Redis, the scratch database, the room-socket client)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/spaces_go_live"


# --- seeding, in bulk ---


def seed(followers: int, with_sessions: int) -> dict:
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Follow, Post, User
    from bench.room_seed import _sessions
    from rooms.models import Space

    began = time.monotonic()
    password = make_password(None)
    host = User.objects.create(username="golive-host", display_name="Famous", password=password)
    batch = 5000
    for start in range(0, followers, batch):
        fans = User.objects.bulk_create(
            [
                User(username=f"golive-fan-{i}", password=password, following_count=1)
                for i in range(start, min(followers, start + batch))
            ],
            batch_size=batch,
        )
        Follow.objects.bulk_create([Follow(follower=fan, followee=host) for fan in fans], batch_size=batch)
    User.objects.filter(pk=host.pk).update(followers_count=followers)
    Post.objects.bulk_create([Post(author=host, body=f"Note number {i} before the show") for i in range(40)])
    space = Space.objects.create(host=host, title="The big one", scheduled_for=timezone.now() + timedelta(minutes=30))
    # Another account goes live first, so that the measured call finds the broker connection open, as a
    # server process that has served requests before would.
    opener = User.objects.create(username="golive-opener", password=password, followers_count=followers)
    warmup = Space.objects.create(host=opener, title="Warm-up", scheduled_for=space.scheduled_for)
    chosen = list(User.objects.filter(username__startswith="golive-fan-").order_by("pk")[:with_sessions])
    sessions = _sessions(chosen)
    print(f"seeded {followers} followers in {time.monotonic() - began:.1f} s", flush=True)
    return {"space": space.pk, "warmup": warmup.pk, "sessions": sessions}


# --- the production shape ---


def start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    command = [
        str(fanout.VENV_BIN / "celery"),
        "-A",
        "spaces_site",
        "worker",
        "-Q",
        "celery",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def wait_for_worker(proc: subprocess.Popen, timeout: float = 60) -> None:
    from spaces_site.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}")
        if app.control.ping(timeout=1.0):
            return
    raise RuntimeError("the worker did not answer")


# --- timeline readers: a process of their own, so that the bench's own work does not slow them ---


def reader_process(pipe, ports: list[int], cookies: list[str]) -> None:
    stop = threading.Event()
    samples: list[tuple[float, float]] = []  # (wall-clock start, seconds)
    errors: list[str] = []

    def read(index: int, cookie: str) -> None:
        port = ports[index % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            began = time.time()
            try:
                conn.request("GET", "/", headers={"Cookie": cookie, "Host": f"127.0.0.1:{port}"})
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or b"Note number" not in body:
                    errors.append(f"{response.status}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc)[:120])
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            samples.append((began, time.time() - began))

    threads = [threading.Thread(target=read, args=(i, c), daemon=True) for i, c in enumerate(cookies)]
    for thread in threads:
        thread.start()
    pipe.recv()  # "stop"
    stop.set()
    for thread in threads:
        thread.join(30)
    pipe.send((samples, errors))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- online followers: /ws/me/ sockets counting what arrives ---


async def hold_user_sockets(ports: list[int], cookies: list[str], counts: dict, ready: asyncio.Event, done):
    from websockets.asyncio.client import connect

    async def hold(index: int, cookie: str) -> None:
        port = ports[index % len(ports)]
        async with connect(
            f"ws://127.0.0.1:{port}/ws/me/",
            additional_headers={"Cookie": cookie},
            origin=f"http://127.0.0.1:{port}",
            compression=None,
        ) as socket:
            counts["open"] += 1
            if counts["open"] == len(cookies):
                ready.set()
            async for raw in socket:
                kind = json.loads(raw).get("type", "?")
                counts[kind] = counts.get(kind, 0) + 1

    tasks = [asyncio.create_task(hold(i, c)) for i, c in enumerate(cookies)]
    await done.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2, help="uvicorn server processes")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="pool processes of the Celery worker")
    parser.add_argument("--readers", type=int, default=4, help="timeline requests in flight")
    parser.add_argument("--online", type=int, default=200, help="followers with their /ws/me/ socket open")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting for the notices after this")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch database, dropped and made again")
    args = parser.parse_args()

    redis_url, redis_proc = fanout.start_redis()
    prefix = f"golive.{os.getpid()}"
    # This process enqueues like a server does: the real broker, no in-process tasks.
    os.environ.update({"REDIS_URL": redis_url, "DJANGO_CHANNELS_PREFIX": prefix, "DJANGO_LOG_LEVEL": "WARNING"})
    fanout.django_setup(args.database)
    from django.db import connections, transaction

    from accounts.models import Notification
    from rooms import services
    from rooms.models import Space
    from spaces_site.celery import app

    assert not app.conf.task_always_eager
    app.control.purge()  # nothing left over from an earlier run on this broker
    print(
        f"followers={args.followers} processes={args.processes} worker_concurrency={args.worker_concurrency} "
        f"readers={args.readers} online={args.online} batch={os.environ.get('SPACES_LIVE_NOTICE_BATCH', 5000)} "
        f"load_average={os.getloadavg()[0]:.1f} cores={os.cpu_count()}",
        flush=True,
    )
    seeded = seed(args.followers, args.readers + args.online + 1)
    connections.close_all()  # the readers are forked next
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": fanout.SETTINGS,
            "DJANGO_CONN_MAX_AGE": "60",
            "DJANGO_CHANNELS_PREFIX": prefix,
            "SPACES_MEDIA_REDIS_PREFIX": f"{prefix}.media",
            "PYTHONPATH": str(ROOT),
        }
    )
    from django.conf import settings

    cookie = [f"{settings.SESSION_COOKIE_NAME}={key}" for key in seeded["sessions"]]
    reader_cookies, online_cookies, joiner_cookie = (
        cookie[: args.readers],
        cookie[args.readers : args.readers + args.online],
        cookie[-1],
    )
    procs, ports = fanout.start_servers("uvicorn", args.processes, env)
    worker = start_worker(env, args.worker_concurrency)
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    reader = None
    counts: dict[str, int] = {"open": 0}
    done = asyncio.Event()
    try:
        wait_for_worker(worker)
        ready = asyncio.Event()
        asyncio.run_coroutine_threadsafe(hold_user_sockets(ports, online_cookies, counts, ready, done), loop)
        if online_cookies:
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(ready.wait(), 60), loop).result()
        time.sleep(2)  # the hubs publish who is online at most once a second: let the last arrivals in
        parent, child = mp.get_context("fork").Pipe()
        reader = mp.get_context("fork").Process(target=reader_process, args=(child, ports, reader_cookies))
        reader.start()
        warmup = Space.objects.select_related("host").get(pk=seeded["warmup"])
        services.space_start(space=warmup, by=warmup.host)
        time.sleep(args.baseline_seconds)

        space = Space.objects.get(pk=seeded["space"])
        host = space.host
        started = time.time()
        began = time.monotonic()
        committed: list[float] = []
        with transaction.atomic():
            # Runs first of the on-commit work: the moment the Space is live for everyone, before the enqueues.
            transaction.on_commit(lambda: committed.append(time.monotonic() - began))
            services.space_start(space=space, by=host)
        returned_s = time.monotonic() - began
        room = asyncio.run_coroutine_threadsafe(
            fanout.connect("127.0.0.1", ports[0], f"/ws/spaces/{space.pk}/", joiner_cookie, None), loop
        ).result()
        joinable_s = time.monotonic() - began
        loop.call_soon_threadsafe(room.transport.close)

        notices = Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE, group_key=f"space_live:{space.pk}")
        written = 0
        while time.monotonic() - began < args.timeout:
            written = notices.count()
            if written >= args.followers:
                break
            time.sleep(0.5)  # counting 100,000 rows is itself load on the database: not too often
        notified_s = time.monotonic() - began
        finished = time.time()
        time.sleep(1.5)  # the last pushes reach the sockets
        parent.send("stop")
        samples, errors = parent.recv()
        reader.join(30)
    finally:
        loop.call_soon_threadsafe(done.set)
        if reader is not None and reader.is_alive():
            reader.kill()
        fanout.stop([worker, *procs])
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(5)
        if redis_proc is not None:
            fanout.stop([redis_proc])
    before = [s for t, s in samples if t < started]
    during = [s for t, s in samples if started <= t <= finished]
    print(
        f"space_start committed in {committed[0] * 1000:.0f} ms and returned in {returned_s * 1000:.0f} ms "
        f"(the enqueues on commit); a follower's room socket got its welcome at "
        f"{joinable_s:.2f} s; {written} of {args.followers} notices written at {notified_s:.1f} s",
        flush=True,
    )
    print(
        f"timeline before: {len(before)} requests p50 {percentile(before, 0.5) * 1000:.0f} ms "
        f"p95 {percentile(before, 0.95) * 1000:.0f} ms; during: {len(during)} requests "
        f"p50 {percentile(during, 0.5) * 1000:.0f} ms p95 {percentile(during, 0.95) * 1000:.0f} ms; "
        f"errors {len(errors)}{' e.g. ' + errors[0] if errors else ''}",
        flush=True,
    )
    print(
        f"online followers: {counts['open']} sockets got {counts.get('notification', 0)} notices and "
        f"{counts.get('live_bubble', 0)} live bubbles; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        f"joinable_s={joinable_s:.2f} notified_s={notified_s:.1f} "
        f"timeline_p95_ms={percentile(during, 0.95) * 1000:.0f} followers={args.followers}"
    )
    if written < args.followers:
        raise SystemExit(f"only {written} of {args.followers} notices were written in {args.timeout:.0f} s")


if __name__ == "__main__":
    main()
