"""Past one machine: the production shape on two hosts that share PostgreSQL and Redis, one Space heard on both.

The hosts are network namespaces on this machine, each linked to it by a veth pair (this machine's side
<subnet>.<i>.1/24, the host's <subnet>.<i>.2/24), so every byte between a server and Redis or PostgreSQL
crosses a network link. This machine runs the shared services: a private redis-server bound to the links'
addresses, and PostgreSQL (which listens on 127.0.0.1 only) reached through a TCP forward on each link (socat
when installed, otherwise a small forwarder in a child process). Each host runs P server processes with the
production settings (bench/prod_shape.py); a speaker talks on host A, N listeners listen on each host.

It prints, per host: listeners joined, delivery (%), p50/p99 latency from the frame's capture to its receipt,
the host's server CPU, and the host's connections to Redis, read from CLIENT LIST while the Space is live: every
server process holds one pub/sub connection subscribed to one channel (this Space's), whatever its number of
listeners; PUBSUB NUMSUB and the channel layer's group give the same count from Redis's side.

Needs root (`ip netns`, veth links). Namespaces, links, forwards and servers go at the end, also on failure
and on SIGTERM; a run killed with SIGKILL leaves them for the next run to remove first.

    python bench/two_hosts.py
    python bench/two_hosts.py --listeners 250 --processes 2 --speakers 1 --seconds 10

The last line is `hosts=2 processes=<n> delivered_pct=<lowest host> p99_ms=<highest host> numsub=<n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout, prod_shape  # noqa: E402
from tests.processes import ManagedProcess  # noqa: E402

MEDIA_PREFIX = "spaces.media"  # SPACES_MEDIA_REDIS_PREFIX: the audio channel of Space n is "<prefix>.<n>"
CHANNELS_PREFIX = "spaces"  # DJANGO_CHANNELS_PREFIX: the Space's group is "<prefix>:group:space.<n>"
POSTGRES = ("127.0.0.1", 5432)


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


class Hosts:
    """Machines made as network namespaces, each on a veth link of its own to this one."""

    def __init__(self, count: int, subnet: str) -> None:
        letters = [chr(ord("a") + i) for i in range(count)]
        self.names = [f"spaces-host-{x}" for x in letters]
        self.links = [f"spaces-{x}" for x in letters]  # this machine's end; the host's end is its eth0
        self.gateways = [f"{subnet}.{i}.1" for i in range(count)]  # Redis and the PostgreSQL forward listen here
        self.addresses = [f"{subnet}.{i}.2" for i in range(count)]

    def up(self) -> None:
        self.down()  # whatever a killed run left
        for name, link, gateway, address in zip(self.names, self.links, self.gateways, self.addresses, strict=True):
            ip("netns", "add", name)
            ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
            ip("addr", "add", f"{gateway}/24", "dev", link)
            ip("link", "set", link, "up")
            ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            ip("-n", name, "link", "set", "lo", "up")

    def down(self) -> None:
        for name, link in zip(self.names, self.links, strict=True):
            ip("link", "del", link, check=False)  # takes the host's end with it
            ip("netns", "del", name, check=False)

    def run_in(self, index: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[index]]


def forward_forever(listen: tuple[str, int], target: tuple[str, int]) -> None:
    """A TCP forward for machines without socat: each connection to `listen` is piped to `target`."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def serve() -> None:
        server = await asyncio.start_server(handle, *listen, reuse_address=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_forward(listen: tuple[str, int], target: tuple[str, int]) -> ManagedProcess:
    socat = shutil.which("socat")
    if socat:
        argv = [socat, f"TCP-LISTEN:{listen[1]},bind={listen[0]},reuseaddr,fork", f"TCP:{target[0]}:{target[1]}"]
    else:
        argv = [
            sys.executable, "-c",
            f"from bench.two_hosts import forward_forever; forward_forever({listen!r}, {target!r})",
        ]  # fmt: skip
    forward = ManagedProcess(f"forward-{listen[0]}", argv, {}).start()
    prod_shape.wait_accepting(forward, *listen, seconds=20)
    return forward


def start_redis(bind: list[str], port: int) -> ManagedProcess:
    argv = [
        shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", *bind,
        "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir(),
    ]  # fmt: skip
    redis = ManagedProcess(f"redis-{port}", argv, {}).start()
    prod_shape.wait_accepting(redis, bind[0], port, seconds=20)
    return redis


def redis_view(redis_url: str, space_id: int, hosts: Hosts) -> dict:
    """Who is connected to Redis from each host, and what Redis says about the Space's audio channel and group."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        channel = f"{MEDIA_PREFIX}.{space_id}"
        numsub = dict(client.pubsub_numsub(channel))[channel.encode()]
        group = client.zcard(f"{CHANNELS_PREFIX}:group:space.{space_id}")
        per_host = {}
        clients = client.client_list()
        for index, address in enumerate(hosts.addresses):
            mine = [c for c in clients if c["addr"].rsplit(":", 1)[0] == address]
            subscribed = [c for c in mine if int(c.get("sub", 0)) or int(c.get("ssub", 0) or 0)]
            per_host[index] = {
                "connections": len(mine),
                "by_command": Counter(c["cmd"] for c in mine).most_common(4),
                "pubsub_connections": len(subscribed),
                "channels": sum(int(c["sub"]) for c in subscribed),
            }
        return {"numsub": numsub, "group": group, "hosts": per_host}
    finally:
        client.close()


def run(args, hosts: Hosts, stack: ExitStack) -> dict:
    redis_port = prod_shape.free_port()
    redis = start_redis([*hosts.gateways, "127.0.0.1"], redis_port)
    stack.callback(redis.stop)
    for gateway in hosts.gateways:
        stack.callback(start_forward((gateway, POSTGRES[1]), POSTGRES).stop)
    static_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="spaces-bench-static-"))
    server, name = args.database.rsplit("/", 1)
    base_env = prod_shape.environment(
        database_url=args.database,
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        allowed_hosts=",".join([*hosts.addresses, "127.0.0.1"]),
        static_root=static_root,
        SPACES_MEDIA_REDIS_PREFIX=MEDIA_PREFIX,
        DJANGO_CHANNELS_PREFIX=CHANNELS_PREFIX,
    )
    prod_shape.setup_django(args.database, base_env)
    from django.db import connections

    from bench.room_seed import seed_room

    count = len(hosts.names)
    room = seed_room(listeners=args.listeners * count, speakers=args.speakers, prefix=f"hosts{os.getpid()}")
    connections.close_all()  # the load-client workers are forked next
    path = f"/ws/spaces/{room.space_id}/"

    # Each host's servers reach this machine's services over their link, as another machine would.
    servers: list[list[ManagedProcess]] = []
    ports: list[list[int]] = []
    for index in range(count):
        env = {
            **base_env,
            "DATABASE_URL": f"postgres://postgres@{hosts.gateways[index]}:{POSTGRES[1]}/{name}",
            "REDIS_URL": f"redis://{hosts.gateways[index]}:{redis_port}/0",
        }
        host_ports = [8001 + p for p in range(args.processes)]  # every host has its own addresses
        started = []
        for port in host_ports:
            process = prod_shape.start_server(
                args.server,
                env,
                host=hosts.addresses[index],
                port=port,
                name=f"{hosts.names[index]}-{port}",
                prefix=hosts.run_in(index),
            )
            stack.callback(process.kill)  # a bench needs no graceful stop (uvicorn waits for its sockets)
            started.append(process)
        servers.append(started)
        ports.append(host_ports)
    print(
        f"hosts={count} processes_per_host={args.processes} server={args.server} "
        f"redis=redis://<gateway>:{redis_port} postgres=forwarded to {POSTGRES[0]}:{POSTGRES[1]} "
        f"({'socat' if shutil.which('socat') else 'python forwarder'})",
        flush=True,
    )

    # The load-client workers are forked before this process starts a thread.
    ctx = mp.get_context("fork")
    pipes = []
    for index in range(count):
        parent, child = ctx.Pipe()
        cookies = [room.cookie(key) for key in room.listener_sessions[index::count]]
        worker = ctx.Process(
            target=fanout.listener_worker,
            args=(child, hosts.addresses[index], ports[index], path, cookies, "lean"),
            daemon=True,
        )
        worker.start()
        stack.callback(worker.kill)
        pipes.append(parent)

    background = prod_shape.BackgroundLoop()
    stack.callback(background.close)
    speakers = [
        background.run(fanout.connect(hosts.addresses[0], ports[0][i % args.processes], path, room.cookie(key), None))
        for i, key in enumerate(room.speaker_sessions)
    ]
    background.spawn(fanout.acknowledge_every_second(speakers))

    joining = time.monotonic()
    grown = fanout.ask(pipes, "grow", args.listeners)
    join_s = time.monotonic() - joining
    for index, (joined, failed, why) in enumerate(grown):
        print(
            f"host={hosts.names[index]} listeners_joined={joined} failed={failed}"
            + (f" first_error={why}" if why else ""),
            flush=True,
        )
    print(f"joined {sum(g[0] for g in grown)} sockets in {join_s:.1f} s", flush=True)
    time.sleep(4.0)  # let the joins' presence batches go out before measuring

    view = redis_view(base_env["REDIS_URL"], room.space_id, hosts)
    fanout.ask(pipes, "reset")
    cpu_before = [fanout.cpu_seconds([s.popen for s in host]) for host in servers]
    wall_before = time.monotonic()
    frames = background.run(fanout.speak(speakers, args.seconds))
    expected = [frames * args.speakers * g[0] for g in grown]
    deadline, last, still = time.monotonic() + 10, -1, 0
    while time.monotonic() < deadline:
        time.sleep(0.25)
        got = sum(fanout.ask(pipes, "count"))
        if got >= sum(expected):
            break
        still = still + 1 if got == last else 0
        if still >= 8:
            break
        last = got
    wall = time.monotonic() - wall_before
    cpu = [
        fanout.cpu_seconds([s.popen for s in host]) - before for host, before in zip(servers, cpu_before, strict=True)
    ]
    reports = fanout.ask(pipes, "report")
    for index in range(count):
        if not all(s.alive for s in servers[index]):
            raise RuntimeError(f"a server of {hosts.names[index]} died:\n{servers[index][0].logs()}")

    rows = []
    for index, (received, hist, closes, _messages) in enumerate(reports):
        row = {
            "host": hosts.names[index],
            "listeners": grown[index][0],
            "delivered_pct": 100 * sum(received) / expected[index] if expected[index] else 0.0,
            "p50": fanout.percentile(hist, 0.50),
            "p99": fanout.percentile(hist, 0.99),
            "closed": closes,
            "cpu_pct": 100 * cpu[index] / wall,
            **view["hosts"][index],
        }
        rows.append(row)
        print(
            f"host={row['host']} address={hosts.addresses[index]} speaker={'here' if index == 0 else 'on host A'} "
            f"listeners={row['listeners']} delivered={row['delivered_pct']:.2f}% p50_ms={row['p50']:.1f} "
            f"p99_ms={row['p99']:.1f} closed={closes} server_cpu={row['cpu_pct']:.0f}% (of one core, "
            f"{args.processes} processes) redis_connections={row['connections']} "
            f"pubsub_connections={row['pubsub_connections']} subscribed_channels={row['channels']} "
            f"(connections by last command: {', '.join(f'{cmd} {n}' for cmd, n in row['by_command'])})",
            flush=True,
        )
    print(
        f"redis: PUBSUB NUMSUB {MEDIA_PREFIX}.{room.space_id} = {view['numsub']} "
        f"(server processes: {count * args.processes}); channel-layer group space.{room.space_id} has "
        f"{view['group']} members (one channel per process); {frames} frames x {args.speakers} speaker(s) "
        f"in {args.seconds:.0f} s; load average {prod_shape.load_average()}",
        flush=True,
    )
    for speaker in speakers:
        background.loop.call_soon_threadsafe(speaker.transport.close)
    with suppress(BrokenPipeError, EOFError, OSError):
        fanout.ask(pipes, "quit")
    return {"rows": rows, "numsub": view["numsub"], "processes": count * args.processes}


def stop_once(*_: object) -> None:
    """SIGTERM: clean up as on any failure; a second one must not cut that short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="server processes per host")
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "daphne"])
    parser.add_argument("--listeners", type=int, default=250, help="listeners per host")
    parser.add_argument("--speakers", type=int, default=1, help="speakers talking at once, all on host A")
    parser.add_argument("--seconds", type=float, default=10.0, help="speaking time measured")
    parser.add_argument("--subnet", default="10.77", help="the links' addresses: <subnet>.<host>.1 and .2, /24")
    parser.add_argument(
        "--database",
        default="postgres://postgres@127.0.0.1:5432/spaces_bench_two_hosts",
        help="a scratch database, dropped and made again",
    )
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("two_hosts: needs root and iproute2 (`ip netns`) to make the hosts; not run")
        return
    # A plain `kill` must still take the namespaces, links and servers down.
    signal.signal(signal.SIGTERM, stop_once)
    print(f"machine cpus={os.cpu_count()} loadavg_before={prod_shape.load_average()}", flush=True)
    hosts = Hosts(args.hosts, args.subnet)
    with ExitStack() as stack:
        stack.callback(hosts.down)
        hosts.up()
        result = run(args, hosts, stack)
    rows = result["rows"]
    print(
        f"hosts={len(rows)} processes={result['processes']} "
        f"delivered_pct={min(r['delivered_pct'] for r in rows):.2f} p99_ms={max(r['p99'] for r in rows):.1f} "
        f"numsub={result['numsub']}"
    )


if __name__ == "__main__":
    main()
