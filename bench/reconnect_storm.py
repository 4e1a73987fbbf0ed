"""Reconnect storm: a server process holding half a Space's listeners is SIGKILLed; they come back on the other.

Two server processes of the production shape (bench/prod_shape.py) share PostgreSQL and a private Redis; a
live Space is seeded (bench/room_seed.py); a speaker talks on the process that survives; N listeners join with
at most C handshakes in flight, every other one on each process. Then the first process is killed with SIGKILL
(no close, no leave: a crashed process or a lost machine). Each listener behaves as the room page
(rooms/static/rooms/room.js): a lost socket waits a random time between half and all of a delay that starts at
1 s and doubles up to 15 s before each new try, the delay going back to 1 s at a `welcome`. Tries go through
what a reverse proxy does with a server that refuses connections (nginx's `proxy_next_upstream`): on to the
next server, so they land on the survivor. A listener is back at its `welcome`.

It prints the time from the kill until every listener is back, the p50/p99 of each listener's own time from
losing its socket to its next `welcome` (and how many tries that took), whether the reconnected listeners hear
the speaker again, and the Space's counts against the truth (the sockets the client holds open): the headcount
the pages see in broadcast mode, the listener count a `welcome` or listeners page gives, and the sockets the
leases still count. They are read before the kill, right after it, once everyone is back and after the killed
process's lease ran out and the presence sweep ran (`SPACES_PRESENCE_LEASE_SECONDS`, shortened for the bench;
beat runs the sweep every 30 s in production).

    python bench/reconnect_storm.py
    python bench/reconnect_storm.py --listeners 1000 --concurrency 100 --lease-seconds 9

The last line is `reconnect_all_s=<s> listeners=<N>`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout, prod_shape  # noqa: E402

FIRST_DELAY_S = 1.0  # room.js: `delay` starts at 1000 ms, doubles per try, at most 15,000 ms, 1000 again at a welcome
MAX_DELAY_S = 15.0
WELCOME_TIMEOUT_S = 60.0  # a try that has no `welcome` by then is given up and the next one waits its turn


def backoff_wait(delay: float) -> float:
    """room.js's wait before a try: half the delay plus up to half again (jittered, so that a dead server's
    sockets do not all come back in the same second)."""
    return delay / 2 + random.random() * delay / 2


class Page:
    """One listener's room page: its socket, and each outage (lost, back, tries) after the bench armed it."""

    def __init__(self, cookie: str, home: int, ports: list[int], path: str, stats: fanout.Stats) -> None:
        self.cookie, self.home, self.ports, self.path, self.stats = cookie, home, ports, path, stats
        self.client: fanout.WsClient | None = None
        self.outages: list[list] = []  # [lost_at, back_at (0 while out), tries, close code, last failed try]
        self.armed = False
        self.welcomed_at = 0.0

    @property
    def open(self) -> bool:
        return self.client is not None and not self.client.lost.done()

    async def _try(self, port: int) -> fanout.WsClient:
        loop = asyncio.get_running_loop()
        _transport, client = await loop.create_connection(
            lambda: fanout.WsClient("127.0.0.1", port, self.path, self.cookie, self.stats), "127.0.0.1", port
        )
        try:
            await asyncio.wait_for(client.open, WELCOME_TIMEOUT_S)
        except BaseException:
            client.transport.close()
            raise
        return client

    async def _through_proxy(self, first: int) -> fanout.WsClient:
        """A try as a reverse proxy makes it: a server that refuses the connection passes it on to the next."""
        order = self.ports[first:] + self.ports[:first]
        for port in order[:-1]:
            try:
                return await self._try(port)
            except ConnectionRefusedError:
                continue
        return await self._try(order[-1])

    async def join(self, gate: asyncio.Semaphore) -> float:
        """The first connect, to the page's home server; returns the seconds to its `welcome`."""
        async with gate:
            began = time.monotonic()
            self.client = await self._try(self.ports[self.home])
            return time.monotonic() - began

    async def live(self) -> None:
        """Reconnect after every loss, as room.js does, for as long as the page lives."""
        while True:
            await self.client.lost
            lost_at = time.time()
            code = f"{self.client.close_code}" + (" refused" if self.client.refused else "")
            outage = [lost_at, 0.0, 0, code, ""] if self.armed else None
            if outage is not None:
                self.outages.append(outage)
            delay = FIRST_DELAY_S
            while True:
                await asyncio.sleep(backoff_wait(delay))
                delay = min(delay * 2, MAX_DELAY_S)
                if outage is not None:
                    outage[2] += 1
                try:
                    self.client = await self._through_proxy(random.randrange(len(self.ports)))
                    break
                except (OSError, ConnectionError, TimeoutError) as exc:
                    if outage is not None:
                        outage[4] = repr(exc)[:120]
                    continue
            self.welcomed_at = time.time()
            if outage is not None:
                outage[1] = self.welcomed_at


def storm_worker(pipe, ports: list[int], homes: list[int], path: str, cookies: list[str], concurrency: int) -> None:
    import uvloop  # a runtime requirement (the uvicorn shape)

    uvloop.install()
    asyncio.run(_storm_worker(pipe, ports, homes, path, cookies, concurrency))


async def _storm_worker(pipe, ports, homes, path, cookies, concurrency) -> None:
    loop = asyncio.get_running_loop()
    stats = fanout.Stats()
    pages = [Page(cookie, home, ports, path, stats) for cookie, home in zip(cookies, homes, strict=True)]
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    tasks: list[asyncio.Task] = []

    async def acknowledge() -> None:
        # Every page reports the audio it read once a second (the count starts again on each new socket).
        turn = 0
        while True:
            await asyncio.sleep(0.1)
            for page in pages[turn::10]:
                if page.open:
                    page.client.acknowledge()
            turn = (turn + 1) % 10

    tasks.append(loop.create_task(acknowledge()))
    while True:
        command, *args = await commands.get()
        if command == "join":
            gate = asyncio.Semaphore(concurrency)
            began = time.monotonic()
            results = await asyncio.gather(*(page.join(gate) for page in pages), return_exceptions=True)
            welcome = [r for r in results if isinstance(r, float)]
            failures = [repr(r)[:200] for r in results if not isinstance(r, float)]
            tasks.extend(loop.create_task(page.live()) for page in pages if page.client is not None)
            pipe.send((len(welcome), failures, time.monotonic() - began, welcome))
        elif command == "arm":
            for page in pages:
                page.armed = True
            pipe.send(True)
        elif command == "status":
            pipe.send((sum(page.open for page in pages), sum(1 for p in pages for o in p.outages if not o[1])))
        elif command == "outages":
            pipe.send([(page.home, *outage) for page in pages for outage in page.outages])
        elif command == "reset":
            for page in pages:
                if page.client is not None:
                    page.client.received = 0
            pipe.send(True)
        elif command == "hearing":
            pipe.send(sum(1 for page in pages if page.open and page.client.received > 0))
        elif command == "quit":
            for task in tasks:
                task.cancel()
            for page in pages:
                if page.client is not None and page.client.transport is not None:
                    page.client.transport.close()
            pipe.send(True)
            return


def counts(space_id: int, stage: int, redis_url: str) -> dict:
    """The Space's figures as the servers keep them (read from the bench process, on the same database and cache)."""
    import redis
    from django.db import connections

    from rooms import headcount, selectors
    from rooms.models import RoomSocket, Space

    space = Space.objects.get(pk=space_id)
    sockets = RoomSocket.objects.filter(participant__space_id=space_id)
    row = {
        "headcount": headcount.of(space_id) - stage,  # what broadcast-mode pages show, less the stage
        "listener_count": selectors.listener_count(space=space, speakers=selectors.stage_present(space=space)),
        "present": sockets.live().values("participant_id").distinct().count() - stage,
        "socket_rows": sockets.count(),
    }
    connections.close_all()
    client = redis.Redis.from_url(redis_url)
    try:
        row["redis_clients"] = client.info("clients")["connected_clients"]
    finally:
        client.close()
    return row


def show(when: str, row: dict, truth: int) -> None:
    print(
        f"counts {when}: truth={truth} listener_count={row['listener_count']} headcount={row['headcount']} "
        f"present_by_leases={row['present']} socket_rows={row['socket_rows']} redis_clients={row['redis_clients']}",
        flush=True,
    )


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(args, stack: ExitStack) -> dict:
    redis_url, redis_proc = fanout.start_redis()
    if redis_proc is not None:
        stack.callback(fanout.stop, [redis_proc])
    static_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="spaces-bench-static-"))
    env = prod_shape.environment(
        database_url=args.database,
        redis_url=redis_url,
        allowed_hosts="127.0.0.1",
        static_root=static_root,
        SPACES_PRESENCE_LEASE_SECONDS=str(args.lease_seconds),
        SPACES_LISTENERS_PER_PROCESS=str(args.listeners_per_process),
        DJANGO_LOG_LEVEL=args.server_log_level,
    )
    # The bench reads the headcount from the servers' cache and runs the sweep, whose events go through Redis.
    prod_shape.setup_django(args.database, env, REDIS_URL=redis_url)
    from django.db import connections

    from bench.room_seed import seed_room
    from rooms.leases import presence_sweep
    from rooms.models import ServerProcess

    room = seed_room(listeners=args.listeners, speakers=1, prefix=f"reconnect{os.getpid()}")
    connections.close_all()  # the load-client workers are forked next
    path = f"/ws/spaces/{room.space_id}/"
    servers, ports = prod_shape.start_local_servers(args.server, env, 2)
    for server in servers:
        stack.callback(server.kill)  # a bench needs no graceful stop (uvicorn waits for its sockets)
    victim, survivor = servers
    print(
        f"server={args.server} processes=2 ports={ports} lease_seconds={args.lease_seconds} "
        f"logs={[server.log_path for server in servers]}",
        flush=True,
    )

    # The load-client workers are forked before this process starts a thread.
    ctx = mp.get_context("fork")
    pipes = []
    for i in range(args.workers):
        parent, child = ctx.Pipe()
        mine = range(i, args.listeners, args.workers)
        cookies = [room.cookie(room.listener_sessions[j]) for j in mine]
        homes = [j % 2 for j in mine]  # every other listener on the process that will be killed
        share = max(1, args.concurrency // args.workers)
        worker = ctx.Process(target=storm_worker, args=(child, ports, homes, path, cookies, share), daemon=True)
        worker.start()
        stack.callback(worker.kill)
        pipes.append(parent)

    background = prod_shape.BackgroundLoop()
    stack.callback(background.close)
    speaker = background.run(fanout.connect("127.0.0.1", ports[1], path, room.cookie(room.speaker_sessions[0]), None))
    background.spawn(fanout.speak([speaker], 3600))
    background.spawn(fanout.acknowledge_every_second([speaker]))

    joins = fanout.ask(pipes, "join")
    joined = sum(j[0] for j in joins)
    failures = [f for j in joins for f in j[1]]
    join_s = max(j[2] for j in joins)
    welcome = [s for j in joins for s in j[3]]
    print(
        f"joined {joined}/{args.listeners} in {join_s:.1f} s ({joined / join_s:.0f} joins/s, {args.concurrency} in "
        f"flight), welcome p50 {percentile(welcome, 0.5):.2f} s p99 {percentile(welcome, 0.99):.2f} s"
        + (f", failed {len(failures)} e.g. {failures[:2]}" if failures else ""),
        flush=True,
    )
    fanout.ask(pipes, "arm")
    time.sleep(4.0)  # the joins' presence batches and headcount increments settle
    show("before the kill", counts(room.space_id, 1, redis_url), joined)

    victim_pid = victim.pid
    killed_at = time.time()
    victim.kill()  # SIGKILL to its process group
    time.sleep(0.3)
    show("0.3 s after the kill", counts(room.space_id, 1, redis_url), sum(s[0] for s in fanout.ask(pipes, "status")))

    deadline = time.monotonic() + args.timeout
    all_back_seen = None
    while time.monotonic() < deadline:
        status = fanout.ask(pipes, "status")
        if sum(s[0] for s in status) >= joined and not sum(s[1] for s in status):
            all_back_seen = time.time()
            break
        time.sleep(0.2)
    # (home, lost_at, back_at or 0, tries, close code, last failed try) per outage, in order per page
    outages = [o for reply in fanout.ask(pipes, "outages") for o in reply]
    storm = [o for o in outages if o[1] < killed_at + 2]  # the sockets the kill took
    later = [o for o in outages if o[1] >= killed_at + 2]  # sockets lost again afterwards (or survivors')
    back = [o for o in storm if o[2]]
    reconnect_s = [o[2] - o[1] for o in back]
    tries = [o[3] for o in back]
    ended = [o[2] for o in outages if o[2]]
    all_s = (max(ended) - killed_at) if all_back_seen is not None and ended else float("nan")
    print(
        f"killed pid {victim_pid} (SIGKILL): it held {len(storm)} listeners, {len(back)} came back on the survivor"
        f"{'' if all_back_seen else f' ({len(storm) - len(back)} NOT back after {args.timeout:.0f} s)'}; "
        f"its sockets were seen lost p99 {percentile([o[1] - killed_at for o in storm], 0.99) * 1000:.0f} ms "
        f"after the kill",
        flush=True,
    )
    print(
        f"all back {all_s:.1f} s after the kill; each listener's loss-to-welcome p50 "
        f"{percentile(reconnect_s, 0.5):.2f} s p99 {percentile(reconnect_s, 0.99):.2f} s max "
        f"{max(reconnect_s, default=float('nan')):.2f} s; tries p50 {percentile(tries, 0.5):.0f} "
        f"max {max(tries, default=0):.0f}",
        flush=True,
    )
    if later:
        codes = Counter(o[4] for o in later)
        errors = Counter(o[5] for o in later + storm if o[5])
        print(
            f"sockets lost again after the storm: {len(later)} ({sum(1 for o in later if o[2])} back), "
            f"close codes {dict(codes)}; failed tries e.g. {errors.most_common(3)}",
            flush=True,
        )
    truth = sum(s[0] for s in fanout.ask(pipes, "status"))
    show("when all were back", counts(room.space_id, 1, redis_url), truth)

    fanout.ask(pipes, "reset")
    time.sleep(2.0)
    hearing = sum(fanout.ask(pipes, "hearing"))
    print(
        f"hearing the speaker in the 2 s after: {hearing} of {truth} listeners (the speaker's socket "
        f"{'open' if not speaker.lost.done() else f'closed, code {speaker.close_code}'})",
        flush=True,
    )

    # The killed process's sockets count until its lease runs out; then the sweep forgets them.
    expires = ServerProcess.objects.filter(name__contains=f":{victim_pid}:").values_list("expires_at", flat=True)
    expires_at = max(expires, default=None)
    connections.close_all()
    if expires_at is not None:
        time.sleep(max(0.0, expires_at.timestamp() - time.time()) + 0.5)
    forgotten = presence_sweep()
    connections.close_all()
    truth = sum(s[0] for s in fanout.ask(pipes, "status"))
    show(
        f"after the lease ran out and the sweep ({forgotten} sockets forgotten)",
        counts(room.space_id, 1, redis_url),
        truth,
    )
    if not survivor.alive:
        raise RuntimeError(f"the surviving server died:\n{survivor.logs()}")
    background.loop.call_soon_threadsafe(speaker.transport.close)
    with suppress(BrokenPipeError, EOFError, OSError):
        fanout.ask(pipes, "quit")
    return {"all_s": all_s, "listeners": joined}


def stop_once(*_: object) -> None:
    """SIGTERM: clean up as on any failure; a second one must not cut that short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight for the first joins")
    parser.add_argument("--workers", type=int, default=2, help="load-client processes")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "daphne"])
    parser.add_argument(
        "--lease-seconds", type=int, default=30, help="SPACES_PRESENCE_LEASE_SECONDS (30 in production)"
    )
    parser.add_argument("--server-log-level", default="WARNING", help="DJANGO_LOG_LEVEL of the servers")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for everyone to be back")
    parser.add_argument(
        "--listeners-per-process",
        type=int,
        default=1000,
        help="SPACES_LISTENERS_PER_PROCESS (1000 by default): beyond it the survivor keeps newcomers in line",
    )
    parser.add_argument(
        "--database",
        default="postgres://postgres@127.0.0.1:5432/spaces_bench_reconnect",
        help="a scratch database, dropped and made again",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop_once)
    print(f"machine cpus={os.cpu_count()} loadavg_before={prod_shape.load_average()}", flush=True)
    with ExitStack() as stack:
        result = run(args, stack)
    print(f"load average after: {prod_shape.load_average()}", flush=True)
    print(f"reconnect_all_s={result['all_s']:.1f} listeners={result['listeners']}")


if __name__ == "__main__":
    main()
