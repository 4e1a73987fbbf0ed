"""The production shape for benches: servers as the README runs them, bound to any address, on a seeded database.

The servers get the production settings' environment (`tests/processes.py` `production_env`: a random secret key,
pooled database connections, DJANGO_HTTPS=false as on a laptop, no live captions) and the command lines of
`make uvicorn` / `make daphne`. The bench process seeds the Space with the servers' secret key, since a session
cookie only verifies under the key it was made with. Not a bench itself (`make bench` skips it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout  # noqa: E402  (the scratch database and Django in the bench process)
from tests.processes import ManagedProcess, production_env  # noqa: E402

BIN = Path(sys.executable).parent
APPLICATION = "spaces_site.asgi:application"


def environment(*, database_url: str, redis_url: str, allowed_hosts: str, static_root: str, **extra: str) -> dict:
    """What every server process of the shape reads (the same secret key for all of them)."""
    return production_env(
        database_url=database_url,
        redis_url=redis_url,
        static_root=static_root,  # an empty folder: the benches render no page
        allowed_hosts=allowed_hosts,
        DJANGO_HTTPS="false",
        CAPTIONS_LIVE="0",
        **extra,
    )


def server_command(kind: str, host: str, port: int) -> list[str]:
    """`make uvicorn` or `make daphne`, bound to `host` (uvicorn with a listen backlog sized for a storm)."""
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"), APPLICATION, "--host", host, "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--ws-max-size", "1048576",
            "--ws-per-message-deflate", "false", "--lifespan", "off", "--no-access-log",
            "--log-level", "warning", "--backlog", "8192",
        ]  # fmt: skip
    if kind == "daphne":
        return [
            str(BIN / "daphne"),
            "-b",
            host,
            "-p",
            str(port),
            "-v",
            "0",
            "--websocket_connect_timeout",
            "60",
            APPLICATION,
        ]
    raise ValueError(f"unknown server {kind!r}; use uvicorn or daphne")


def start_server(
    kind: str, env: dict, *, host: str, port: int, name: str, prefix: list[str] | None = None
) -> ManagedProcess:
    """A server process (run under `prefix`, e.g. `ip netns exec <host>`), once it accepts connections on host:port.
    Its output goes to a log file (`.logs()`); it leads a process group of its own (`.kill()` is SIGKILL)."""
    server = ManagedProcess(name, [*(prefix or []), *server_command(kind, host, port)], env).start()
    wait_accepting(server, host, port)
    return server


def start_local_servers(kind: str, env: dict, count: int) -> tuple[list[ManagedProcess], list[int]]:
    """`count` server processes on free ports of 127.0.0.1, once each accepts connections, and their ports."""
    ports = [free_port() for _ in range(count)]
    servers: list[ManagedProcess] = []
    try:
        for port in ports:
            servers.append(start_server(kind, env, host="127.0.0.1", port=port, name=f"{kind}-{port}"))
    except BaseException:
        for server in servers:
            server.kill()
        raise
    return servers, ports


def wait_accepting(process: ManagedProcess, host: str, port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if not process.alive:
            raise RuntimeError(f"{process.name} exited:\n{process.logs()}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not listen on {host}:{port}:\n{process.logs()}") from None
            time.sleep(0.1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def setup_django(database_url: str, env: dict, **extra: str) -> None:
    """Django in the bench process on a fresh scratch database, under the servers' secret key (plus `extra`
    variables, e.g. REDIS_URL to read the shared cache the servers write)."""
    os.environ["DJANGO_SECRET_KEY"] = env["DJANGO_SECRET_KEY"]
    os.environ.update(extra)
    fanout.django_setup(database_url)


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


class BackgroundLoop:
    """An event loop on a thread of the bench process, for the speakers' sockets: they keep reading what the Space
    sends them between the bench's steps, as a speaker's page does."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[asyncio.Task] = []

    def run(self, coro):
        """Run `coro` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def spawn(self, coro) -> None:
        """Run `coro` on the loop until `close`."""

        async def start() -> None:
            self.tasks.append(asyncio.get_running_loop().create_task(coro))

        self.run(start())

    def close(self) -> None:
        async def cancel() -> None:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        self.run(cancel())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
