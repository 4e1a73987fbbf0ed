"""Join storm: N listeners join one live Space as fast as they can while a speaker talks.

Drives the real application as production runs it: P server processes (uvicorn as `make uvicorn` runs it, or
Daphne) on 127.0.0.1 sharing PostgreSQL and Redis, a live Space seeded in a scratch database (bench/room_seed.py:
accounts with real Django sessions), a speaker sending 20 ms frames at real rate from before the storm to its
end, and W load-client processes that open N sockets with at most C handshakes in flight in all. Each socket
counts as joined at its `welcome`; the time from opening the TCP connection to the `welcome` is its
time-to-welcome. A socket refused or lost counts as failed (and is printed). The audio to those already inside
is the capture-to-receipt latency heard during the storm by S listeners who joined before it, in a client
process of their own that does nothing else; the storm's own clients read the audio too, but their latency
also holds their own loop's work on the handshakes (printed apart, "at the joiners").

    python bench/join_storm.py --listeners 2000
    python bench/join_storm.py --listeners 500,2000,5000 --server uvicorn --processes 2 --concurrency 200

With `--line`, admission runs at its defaults (rooms/admission.py; a famous account's Space as deployed): a socket
is answered by its `welcome` or its place in line, whichever comes first, and those let in from the line count
until it stops moving.

    python bench/join_storm.py --listeners 10000 --line

With `--production`, the servers run in the production shape (bench/prod_shape.py: the production settings, pooled
database connections, static files collected) instead of the base settings with persistent connections.

With `--page`, each joiner first loads the room page (`GET /spaces/<id>/`, read whole) as the person does who
follows the go-live notice, then opens its socket: its time-to-welcome counts from the page's request, and the
page's own times and failures are printed.

The last line is `joins_per_s=<n> welcome_p99_s=<s> listeners=<N>` for the largest N run (let in), with
`in_line=<n> answer_p99_s=<s>` after it with `--line`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout, prod_shape  # noqa: E402  (the lean websocket client, servers, the scratch database)
from tests.processes import COLLECTSTATIC, manage  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/spaces_join_storm"


async def load_page(port: int, path: str, cookie: str) -> None:
    """GET the page as a browser does (one connection, the session cookie) and read it whole; anything but a 200
    is an error."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nAccept: text/html\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        await reader.read()  # to the end: the server closes after the body
        if status != b"200":
            raise RuntimeError(f"page answered {status.decode()}")
    finally:
        writer.close()


def storm_worker(
    pipe, ports: list[int], path: str, cookies: list[str], concurrency: int, line: bool, hold: float, page: str
) -> None:
    import uvloop  # a runtime requirement (the uvicorn shape)

    uvloop.install()
    asyncio.run(_storm_worker(pipe, ports, path, cookies, concurrency, line, hold, page))


async def _storm_worker(
    pipe, ports: list[int], path: str, cookies: list[str], concurrency: int, line: bool, hold: float, page: str
) -> None:
    """Open every socket, `concurrency` handshakes at a time; each is done at its `welcome`, or with `line` at its
    first answer, the `welcome` or its place in line (it stays in line, as the room page does)."""
    loop = asyncio.get_running_loop()
    stats = fanout.Stats()
    clients: list[fanout.WsClient] = []
    acks = loop.create_task(fanout.acknowledge_every_second(clients))
    gate = asyncio.Semaphore(concurrency)
    welcome_s: list[float] = []
    answer_s: list[float] = []
    page_s: list[float] = []
    failures: list[str] = []
    last_let_in = 0.0

    def let_in(began: float) -> None:
        nonlocal last_let_in
        last_let_in = time.monotonic()
        welcome_s.append(last_let_in - began)

    async def join(index: int, cookie: str) -> None:
        async with gate:
            began = time.monotonic()
            try:
                if page:
                    await asyncio.wait_for(load_page(ports[index % len(ports)], page, cookie), 120)
                    page_s.append(time.monotonic() - began)
                _transport, client = await loop.create_connection(
                    lambda: fanout.WsClient("127.0.0.1", ports[index % len(ports)], path, cookie, stats),
                    "127.0.0.1",
                    ports[index % len(ports)],
                )
                await asyncio.wait_for(client.answered if line else client.open, 120)
            except Exception as exc:  # noqa: BLE001 - a lost join is a figure of the run, not its end
                failures.append(repr(exc)[:200])
                return
            answer_s.append(time.monotonic() - began)
            clients.append(client)
            if client.open.done():
                let_in(began)
            else:
                client.open.add_done_callback(lambda opened: opened.exception() or let_in(began))

    pipe.recv()  # "go"
    started = time.monotonic()
    await asyncio.gather(*(join(i, cookie) for i, cookie in enumerate(cookies)))
    answered = time.monotonic()
    if line:
        # Everyone has an answer; those let in from the line meanwhile count until it stops moving for 3 s.
        seen = -1
        while seen != len(welcome_s):
            seen = len(welcome_s)
            await asyncio.sleep(3)
    await asyncio.sleep(hold)  # everyone stays: the audio to those inside is measured on, the line waiting
    in_line = sum(1 for client in clients if not client.open.done())
    pipe.send(
        (
            started,
            max(answered, last_let_in) if line else answered,
            welcome_s,
            failures,
            stats.hist,
            answer_s,
            in_line,
            page_s,
        )
    )
    pipe.recv()  # "quit"
    acks.cancel()
    for client in clients:
        client.transport.close()


def sentinel_worker(pipe, ports: list[int], path: str, cookies: list[str]) -> None:
    import uvloop

    uvloop.install()
    asyncio.run(_sentinel_worker(pipe, ports, path, cookies))


async def _sentinel_worker(pipe, ports: list[int], path: str, cookies: list[str]) -> None:
    """Listeners inside before the storm, on every server process, doing nothing but listen through it."""
    loop = asyncio.get_running_loop()
    stats = fanout.Stats()
    clients: list[fanout.WsClient] = []
    acks = loop.create_task(fanout.acknowledge_every_second(clients))
    for index, cookie in enumerate(cookies):
        port = ports[index % len(ports)]
        _transport, client = await loop.create_connection(
            lambda port=port, cookie=cookie: fanout.WsClient("127.0.0.1", port, path, cookie, stats), "127.0.0.1", port
        )
        await asyncio.wait_for(client.open, 60)
        clients.append(client)
    pipe.send("inside")
    await loop.run_in_executor(None, pipe.recv)  # "go"
    stats.reset()
    await loop.run_in_executor(None, pipe.recv)  # "over"
    pipe.send(stats.hist)
    acks.cancel()
    for client in clients:
        client.transport.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def daphne_with_timeout(seconds: int):
    """fanout's server command, with Daphne's handshake timeout as `make daphne` sets it."""
    plain = fanout.server_command

    def command(kind: str, port: int) -> list[str]:
        line = plain(kind, port)
        if kind == "daphne":
            line[-1:-1] = ["--websocket_connect_timeout", str(seconds)]
        return line

    return command


def start_servers(args, env: dict) -> tuple[list, list[int], Callable[[], None]]:
    """The storm's server processes, their ports, and how to stop them."""
    if not args.production:
        procs, ports = fanout.start_servers(args.server, args.processes, env)
        return procs, ports, lambda: fanout.stop(procs)
    servers, ports = prod_shape.start_local_servers(args.server, env, args.processes)
    return servers, ports, lambda: [server.kill() for server in servers]


def storm(n: int, args, database_url: str, redis_url: str, production_env: dict | None) -> dict:
    from django.db import connections

    from bench.room_seed import seed_room

    prefix = f"storm{os.getpid()}n{n}"
    room = seed_room(listeners=n + args.sentinels, speakers=1, prefix=prefix)
    connections.close_all()  # the load-client workers are forked next
    env = dict(production_env or os.environ)
    env.update(
        {
            "SPACES_MEDIA_REDIS_PREFIX": f"storm.{os.getpid()}.{n}",
            "DJANGO_CHANNELS_PREFIX": f"storm.{os.getpid()}.{n}",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    if production_env is None:
        env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "DJANGO_SETTINGS_MODULE": fanout.SETTINGS,
                "DJANGO_CONN_MAX_AGE": str(args.conn_max_age),
                "PYTHONPATH": str(ROOT),
            }
        )
    if not args.line:
        # Measured past admission (rooms/admission.py), which would make the sockets beyond a process's
        # capacity or join rate wait in line; --line measures with it, at its defaults or these variables.
        env.setdefault("SPACES_LISTENERS_PER_PROCESS", "1000000")
        env.setdefault("SPACES_JOINS_PER_SECOND", "1000000")
    path = f"/ws/spaces/{room.space_id}/"
    page = f"/spaces/{room.space_id}/" if args.page else ""
    procs, ports, stop_servers = start_servers(args, env)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    ctx = mp.get_context("fork")
    pipes, workers = [], []
    inside_sessions, storm_sessions = room.listener_sessions[: args.sentinels], room.listener_sessions[args.sentinels :]
    try:
        speaker = on_loop(fanout.connect("127.0.0.1", ports[0], path, room.cookie(room.speaker_sessions[0]), None))
        talking = asyncio.run_coroutine_threadsafe(fanout.speak([speaker], 3600), loop)
        inside, inside_child = ctx.Pipe()
        sentinels = ctx.Process(
            target=sentinel_worker,
            args=(inside_child, ports, path, [room.cookie(key) for key in inside_sessions]),
            daemon=True,
        )
        sentinels.start()
        workers.append(sentinels)
        inside.recv()  # "inside"
        for i in range(args.workers):
            parent, child = ctx.Pipe()
            cookies = [room.cookie(key) for key in storm_sessions[i :: args.workers]]
            share = max(1, args.concurrency // args.workers)
            worker = ctx.Process(
                target=storm_worker,
                args=(child, ports, path, cookies, share, args.line, args.hold, page),
                daemon=True,
            )
            worker.start()
            pipes.append(parent)
            workers.append(worker)
        cpu_before = fanout.cpu_seconds(procs)
        for pipe in [inside, *pipes]:
            pipe.send("go")
        reports = [pipe.recv() for pipe in pipes]
        cpu = fanout.cpu_seconds(procs) - cpu_before
        inside.send("over")
        inside_hist = inside.recv()
        for pipe in pipes:
            pipe.send("quit")
        talking.cancel()
        loop.call_soon_threadsafe(speaker.transport.close)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        stop_servers()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    started = min(r[0] for r in reports)
    ended = max(r[1] for r in reports)
    welcome = [s for r in reports for s in r[2]]
    failures = [f for r in reports for f in r[3]]
    hist = [sum(column) for column in zip(*(r[4] for r in reports), strict=True)]
    answers = [s for r in reports for s in r[5]]
    pages = [s for r in reports for s in r[7]]
    elapsed = ended - started
    return {
        "n": n,
        "joined": len(welcome),
        "in_line": sum(r[6] for r in reports),
        "answer_p99_s": percentile(answers, 0.99),
        "failed": len(failures),
        "why": failures[:3],
        "elapsed_s": elapsed,
        "joins_per_s": len(welcome) / elapsed if elapsed else float("nan"),
        "welcome_p50_s": percentile(welcome, 0.50),
        "welcome_p99_s": percentile(welcome, 0.99),
        "inside_p99_ms": fanout.percentile(inside_hist, 0.99),
        "joiners_p99_ms": fanout.percentile(hist, 0.99),
        "server_cpu_s": cpu,
        "page_p50_s": percentile(pages, 0.50),
        "page_p99_s": percentile(pages, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", default="2000", help="comma-separated Space sizes, one storm each")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "daphne"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="load-client processes")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight, over all workers")
    parser.add_argument("--sentinels", type=int, default=50, help="listeners inside before the storm, listening")
    parser.add_argument(
        "--daphne-connect-timeout", type=int, default=60, help="Daphne's --websocket_connect_timeout (its default: 5)"
    )
    parser.add_argument(
        "--line",
        action="store_true",
        help="admission at its defaults (or SPACES_LISTENERS_PER_PROCESS / SPACES_JOINS_PER_SECOND): a socket is "
        "answered by its welcome or its place in line, and those let in from the line count until it stops moving",
    )
    parser.add_argument(
        "--hold", type=float, default=0, help="seconds everyone stays after the storm, the audio measured on"
    )
    parser.add_argument(
        "--page", action="store_true", help="each joiner loads the room page first, then opens its socket"
    )
    parser.add_argument(
        "--production", action="store_true", help="the servers in the production shape (bench/prod_shape.py)"
    )
    parser.add_argument(
        "--conn-max-age", type=int, default=60, help="DJANGO_CONN_MAX_AGE of the servers (not with --production)"
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch database, dropped and made again")
    args = parser.parse_args()
    sizes = [int(n) for n in args.listeners.split(",")]
    fanout.server_command = daphne_with_timeout(args.daphne_connect_timeout)

    redis_url, redis_proc = fanout.start_redis()
    production_env = None
    try:
        with tempfile.TemporaryDirectory(prefix="spaces-bench-static-") as static_root:
            if args.production:
                production_env = prod_shape.environment(
                    database_url=args.database, redis_url=redis_url, allowed_hosts="127.0.0.1", static_root=static_root
                )
                manage(production_env, *COLLECTSTATIC)  # the pages' static files, as the production shape has them
                prod_shape.setup_django(args.database, production_env)
            else:
                fanout.django_setup(args.database)
            run_storms(sizes, args, redis_url, production_env)
    finally:
        if redis_proc is not None:
            fanout.stop([redis_proc])


def run_storms(sizes: list[int], args, redis_url: str, production_env: dict | None) -> None:
    print(
        f"server={args.server} processes={args.processes} concurrency={args.concurrency} "
        f"load_average={os.getloadavg()[0]:.1f} cores={os.cpu_count()}",
        flush=True,
    )
    result = None
    for n in sizes:
        result = storm(n, args, args.database, redis_url, production_env)
        print(
            f"N={n}: joined {result['joined']} failed {result['failed']} in {result['elapsed_s']:.1f} s "
            f"({result['joins_per_s']:.0f} joins/s), "
            + (f"in line {result['in_line']}, answer p99 {result['answer_p99_s']:.2f} s, " if args.line else "")
            + (f"page p50 {result['page_p50_s']:.2f} s p99 {result['page_p99_s']:.2f} s, " if args.page else "")
            + f"welcome p50 {result['welcome_p50_s']:.2f} s "
            f"p99 {result['welcome_p99_s']:.2f} s, audio p99 to those inside {result['inside_p99_ms']:.0f} ms "
            f"(at the joiners {result['joiners_p99_ms']:.0f} ms), "
            f"server CPU {result['server_cpu_s']:.1f} s, load average {os.getloadavg()[0]:.1f}"
            + (f", failures e.g. {result['why']}" if result["failed"] else ""),
            flush=True,
        )
    print(
        f"joins_per_s={result['joins_per_s']:.0f} welcome_p99_s={result['welcome_p99_s']:.2f} "
        f"listeners={result['joined']}"
        + (f" in_line={result['in_line']} answer_p99_s={result['answer_p99_s']:.2f}" if args.line else "")
    )


if __name__ == "__main__":
    main()
