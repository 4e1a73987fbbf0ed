"""How many control messages per second one Space's control plane sustains with 1,000 listeners.

Starts a real Daphne (the project's ASGI app) on a free port against PostgreSQL and Redis,
connects N listeners to one live Space over real websockets, has every listener react at a
steady rate for a fixed time, and counts what the server took in (reactions) and sent out
(control events, mostly the aggregated `reactions` batches). Bounded in time: each phase has a
deadline and Daphne is always stopped.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/spaces_bench REDIS_URL=redis://127.0.0.1:6379/15 \\
        python bench/control_plane.py [--listeners 1000] [--seconds 10] [--rate 2.0]

Without DATABASE_URL / REDIS_URL it uses those defaults (the database is created if missing).
The last line is `control_msgs_per_s=<n> listeners=<n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/spaces_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
EMOJI = ["💯", "👏", "😂", "❤️", "🔥", "🎉"]


def prepare_environment() -> dict[str, str]:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS)
    os.environ["DJANGO_SETTINGS_MODULE"] = "spaces_site.settings.test"
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_CHANNELS_PREFIX", "spaces-bench")
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    return dict(os.environ)


def seed(listeners: int):
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from rooms import services
    from rooms.models import Space

    call_command("migrate", verbosity=0)
    host, _ = User.objects.get_or_create(username="bench_host", defaults={"email": "bench_host@bench.local"})
    User.objects.filter(pk=host.pk).update(followers_count=settings.SPACES_MIN_FOLLOWERS_TO_HOST)
    host.refresh_from_db()
    for space in Space.objects.filter(host=host, state=Space.State.LIVE):
        services.space_end(space=space, by=host)
    names = [f"bench_l{i:05d}" for i in range(listeners)]
    User.objects.bulk_create(
        [User(username=n, email=f"{n}@bench.local", password="!") for n in names], ignore_conflicts=True
    )
    users = list(User.objects.filter(username__in=names).order_by("username"))
    space = services.space_create(host=host, title="Control plane bench", topics="bench")
    store = SessionStore()
    expiry = timezone.now() + timezone.timedelta(hours=2)
    keys, rows = [], []
    for user in [host, *users]:
        key = store._get_new_session_key()
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0]}
        data[HASH_SESSION_KEY] = user.get_session_auth_hash()
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expiry))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=1000)
    return space.pk, host.pk, keys


def start_daphne(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daphne = Path(sys.executable).with_name("daphne")
    process = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "spaces_site.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("Daphne exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("Daphne did not open its port in 30 s")


class Listener:
    def __init__(self, key: str) -> None:
        self.key = key
        self.socket = None
        self.received = 0
        self.reaction_batches = 0
        self.reactions_seen = 0
        self.sent = 0
        self.errors = 0

    async def join(self, address: str, space_id: int) -> None:
        from websockets.asyncio.client import connect

        self.socket = await connect(
            f"ws://{address}/ws/spaces/{space_id}/",
            additional_headers={"Cookie": f"sessionid={self.key}"},
            origin=f"http://{address}",
            max_queue=None,
        )
        while True:
            event = json.loads(await self.socket.recv())
            if event["type"] == "welcome":
                return
            if event["type"] == "error":
                raise RuntimeError(event["message"])

    async def read(self) -> None:
        try:
            async for message in self.socket:
                if isinstance(message, bytes):
                    continue
                event = json.loads(message)
                self.received += 1
                if event["type"] == "reactions":
                    self.reaction_batches += 1
                    self.reactions_seen += sum(event["counts"].values())
                elif event["type"] == "error":
                    self.errors += 1
        except Exception:  # the socket closing at the end of the run
            return

    async def react(self, rate: float, until: float) -> None:
        interval = 1 / rate
        await asyncio.sleep(random.random() * interval)
        while time.monotonic() < until:
            await self.socket.send(json.dumps({"type": "react", "emoji": random.choice(EMOJI)}))
            self.sent += 1
            await asyncio.sleep(min(interval, max(0.0, until - time.monotonic())))


async def run(address: str, space_id: int, keys: list[str], seconds: float, rate: float) -> dict:
    listeners = [Listener(key) for key in keys]
    started = time.monotonic()
    for batch in range(0, len(listeners), 50):
        await asyncio.wait_for(
            asyncio.gather(*(lst.join(address, space_id) for lst in listeners[batch : batch + 50])), 120
        )
    joined_in = time.monotonic() - started
    readers = [asyncio.create_task(lst.read()) for lst in listeners]
    await asyncio.sleep(2)  # let the join batches drain before counting
    for lst in listeners:
        lst.received = lst.reaction_batches = lst.reactions_seen = lst.errors = 0
    begin = time.monotonic()
    until = begin + seconds
    await asyncio.wait_for(asyncio.gather(*(lst.react(rate, until) for lst in listeners)), seconds + 30)
    await asyncio.sleep(0.6)  # the last batch flushes within SPACES_REACTION_FLUSH_MS (500 ms)
    elapsed = time.monotonic() - begin
    for lst in listeners:
        await lst.socket.close()
    for task in readers:
        task.cancel()
    sent = sum(lst.sent for lst in listeners)
    delivered = sum(lst.received for lst in listeners)
    return {
        "joined_in_s": joined_in,
        "elapsed_s": elapsed,
        "reactions_sent": sent,
        "messages_delivered": delivered,
        "reaction_batches": sum(lst.reaction_batches for lst in listeners),
        "reactions_seen_per_listener": sum(lst.reactions_seen for lst in listeners) / len(listeners),
        "errors": sum(lst.errors for lst in listeners),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, default=2.0, help="reactions per listener per second (the per-user limit is 2)"
    )
    args = parser.parse_args()

    env = prepare_environment()
    space_id, _host_id, keys = seed(args.listeners)
    daphne, port = start_daphne(env)
    try:
        result = asyncio.run(run(f"127.0.0.1:{port}", space_id, keys[1:], args.seconds, args.rate))
    finally:
        daphne.terminate()
        try:
            daphne.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daphne.kill()
    from rooms import services
    from rooms.models import Space

    space = Space.objects.get(pk=space_id)
    services.space_end(space=space, by=space.host)

    inbound = result["reactions_sent"] / result["elapsed_s"]
    outbound = result["messages_delivered"] / result["elapsed_s"]
    print(f"listeners joined: {args.listeners} in {result['joined_in_s']:.1f} s")
    print(f"reactions sent: {result['reactions_sent']} over {result['elapsed_s']:.1f} s ({inbound:.0f}/s in)")
    print(
        f"control messages delivered to sockets: {result['messages_delivered']} ({outbound:.0f}/s out), "
        f"of which reaction batches: {result['reaction_batches']}"
    )
    print(
        f"reactions represented per listener: {result['reactions_seen_per_listener']:.0f} of "
        f"{result['reactions_sent']} sent (aggregation keeps the count, drops the per-reaction messages)"
    )
    print(f"errors received: {result['errors']}")
    print(f"(one message per reaction per socket would have been {inbound * args.listeners:,.0f} deliveries/s)")
    print(f"control_msgs_per_s={inbound + outbound:.0f} listeners={args.listeners}")


if __name__ == "__main__":
    main()
