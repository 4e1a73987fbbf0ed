"""Launchers for the deployed shape in tests: a private Redis, ASGI servers, Celery workers and beat, scratch databases.

Every launcher starts a real process with the environment given on top of a clean one (no DJANGO_*, DATABASE_URL
or REDIS_URL inherited from the test run), writes its output to a log file (read with `.logs()`) and can be
stopped, killed with SIGKILL and, for Redis, restarted on the same port. The fault and deployed-shape suites share
them; `production_env` gives the environment the README documents for production.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.daphne import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INHERITED_PREFIXES = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "STRIPE_", "CAPTIONS_", "SPACES_")
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

__all__ = [
    "ManagedProcess",
    "RedisServer",
    "Server",
    "NEEDS_POSTGRES",
    "ScratchDatabase",
    "clean_env",
    "database_url",
    "free_port",
    "production_env",
    "manage",
    "postgres_configured",
    "prepare_production",
    "redis_server",
    "scratch_database",
    "start_all",
    "start_beat",
    "start_daphne",
    "start_uvicorn",
    "start_worker",
    "stop_all",
    "wait_until",
]


def wait_until(
    predicate: Callable[[], object], *, seconds: float = 30.0, interval: float = 0.05, what: str = ""
) -> object:
    """Poll `predicate` until it returns something truthy (returned) or `seconds` pass (TimeoutError)."""
    deadline = time.monotonic() + seconds
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds:.0f} s for {what or predicate}")
        time.sleep(interval)


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without the project's own variables, with `env` on top."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    base.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    base.update(env or {})
    return base


RUN_NAMESPACES = ("SPACES_MEDIA_REDIS_PREFIX", "DJANGO_CHANNELS_PREFIX")


def production_env(
    *,
    database_url: str,
    redis_url: str,
    static_root: str | Path,
    allowed_hosts: str = "127.0.0.1,localhost",
    **extra: str,
) -> dict[str, str]:
    """The production settings as the README runs them: a random secret key, Stripe keys that are not
    placeholders, small connection pools (everyone shares one PostgreSQL here)."""
    return {
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.prod",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": allowed_hosts,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_STATIC_ROOT": str(static_root),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_DB_POOL_MAX_SIZE": "4",
        "DJANGO_LOG_LEVEL": "WARNING",
        "STRIPE_SECRET_KEY": "sk_test_deployed_shape",
        "STRIPE_WEBHOOK_SECRET": "whsec_deployed_shape",
        # This run's audio channels and channel-layer groups (spaces_site/settings/test.py), which the test process
        # itself publishes to and listens on.
        **{name: os.environ[name] for name in RUN_NAMESPACES if name in os.environ},
        **extra,
    }


class ManagedProcess:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="spaces-proc-"))
        self.log_path = self.log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing after we return
        try:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=clean_env(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def logs(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def _signal_group(self, sig: int) -> None:
        # Each child leads its own session: Celery's prefork pool and uvicorn's children go with it.
        with suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if not self.alive:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crashed or killed machine)."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=15)

    def wait_for_log(self, text: str, *, seconds: float = 60.0) -> None:
        def seen() -> bool:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.logs()}")
            return text in self.logs(tail=1_000_000)

        try:
            wait_until(seen, seconds=seconds, interval=0.1, what=f"{self.name} to log {text!r}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.logs()}") from None

    def wait_for_port(self, port: int, *, seconds: float = 60.0) -> None:
        def accepting() -> bool:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        try:
            wait_until(accepting, seconds=seconds, interval=0.05, what=f"{self.name} to listen on {port}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.logs()}") from None

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisServer(ManagedProcess):
    """A private `redis-server` on a port of its own: no persistence, restartable on the same port."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = tempfile.mkdtemp(prefix="spaces-redis-")
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.data_dir,
        ]  # fmt: skip
        super().__init__(f"redis-{self.port}", argv, {}, log_dir)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        super().start()
        try:
            wait_until(self.ping, seconds=20, what=f"redis on {self.port}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.logs()}") from None
        return self

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (SIGTERM), stay down `down_seconds`, start again on the same port (empty: no persistence)."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        wait_until(lambda: not self.ping(), seconds=10, what=f"redis on {self.port} to stop")


@contextmanager
def redis_server(port: int | None = None) -> Iterator[RedisServer]:
    server = RedisServer(port).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


class Server(ManagedProcess):
    """An ASGI server process on a loopback port."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def _start_server(name: str, argv: list[str], port: int, env: dict[str, str], log_dir: Path | None) -> Server:
    server = Server(name, argv, env, log_dir)
    server.port = port
    server.start().wait_for_port(port)
    return server


def start_daphne(
    env: dict[str, str],
    *,
    port: int | None = None,
    application: str = "spaces_site.asgi:application",
    name: str | None = None,
    log_dir: Path | None = None,
) -> Server:
    """Daphne serving `application` as `make daphne` does; returns once it accepts connections."""
    port = port or free_port()
    argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "1", application]
    return _start_server(name or f"daphne-{port}", argv, port, env, log_dir)


def start_uvicorn(
    env: dict[str, str],
    *,
    port: int | None = None,
    application: str = "spaces_site.asgi:application",
    name: str | None = None,
    log_dir: Path | None = None,
) -> Server:
    """uvicorn with the options of `make uvicorn`; returns once it accepts connections."""
    port = port or free_port()
    argv = [
        str(BIN / "uvicorn"), application,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
        "--ws-per-message-deflate", "false", "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip
    return _start_server(name or f"uvicorn-{port}", argv, port, env, log_dir)


def start_worker(
    env: dict[str, str],
    *,
    queues: Sequence[str] = ("celery",),
    concurrency: int = 1,
    name: str | None = None,
    pool: str = "prefork",
    log_dir: Path | None = None,
    extra_args: Sequence[str] = (),
) -> ManagedProcess:
    """A Celery worker consuming `queues`; returns once it reports ready (its node name is `<name>@%h`)."""
    name = name or f"worker-{'-'.join(queues)}-{uuid.uuid4().hex[:6]}"
    argv = [
        str(BIN / "celery"), "-A", "spaces_site", "worker",
        "-Q", ",".join(queues), "--concurrency", str(concurrency), "--pool", pool,
        "-n", f"{name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        *extra_args,
    ]  # fmt: skip
    worker = ManagedProcess(name, argv, env, log_dir).start()
    worker.wait_for_log(" ready.", seconds=120)
    return worker


def start_beat(env: dict[str, str], *, name: str = "beat", log_dir: Path | None = None) -> ManagedProcess:
    """Celery beat (its schedule file in a temporary folder); returns once it has started."""
    schedule_dir = Path(tempfile.mkdtemp(prefix="spaces-beat-"))
    argv = [
        str(BIN / "celery"), "-A", "spaces_site", "beat", "--loglevel", "INFO",
        "--schedule", str(schedule_dir / "celerybeat-schedule"),
    ]  # fmt: skip
    beat = ManagedProcess(name, argv, env, log_dir).start()
    beat.wait_for_log("beat: Starting", seconds=60)
    return beat


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `manage.py <args>` with `env`; raises with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def stop_all(processes: Sequence[ManagedProcess], timeout: float = 15.0) -> None:
    """Stop several processes at once (SIGTERM, SIGKILL after `timeout`)."""
    if processes:
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            list(pool.map(lambda process: process.stop(timeout), processes))


MIGRATE = ("migrate", "--noinput")
COLLECTSTATIC = ("collectstatic", "--noinput", "-v", "0")


def prepare_production(env: dict[str, str]) -> None:
    """What the README's production shape does before starting processes: migrate and collectstatic (at once)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(manage, env, *command) for command in (MIGRATE, COLLECTSTATIC)]
    for job in jobs:
        job.result()


def start_all(*starters: Callable[[], ManagedProcess]) -> list[ManagedProcess]:
    """Start several processes at once (each starter waits for its own readiness); all or none are left running."""
    with ThreadPoolExecutor(max_workers=len(starters)) as pool:
        jobs = [pool.submit(starter) for starter in starters]
        wait(jobs)
    failures = [job.exception() for job in jobs if job.exception() is not None]
    if failures:
        for job in jobs:
            if job.exception() is None:
                job.result().stop()
        raise failures[0]
    return [job.result() for job in jobs]


NEEDS_POSTGRES = "needs PostgreSQL (DATABASE_URL=postgres://…, as .ci/run sets): it runs several processes"


def postgres_configured() -> bool:
    """True when the test run points at PostgreSQL (DATABASE_URL=postgres://…), as CI does."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def database_url(name: str, server_url: str | None = None) -> str:
    """The URL of database `name` on the PostgreSQL server of DATABASE_URL (e.g. the test run's own database)."""
    parts = urlsplit(server_url or os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


class ScratchDatabase:
    """A PostgreSQL database of its own on the server of DATABASE_URL, dropped (connections and all) at the end."""

    def __init__(self, prefix: str = "spaces_scratch", server_url: str | None = None) -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = database_url(self.name, server_url)
        self._admin_url = database_url("postgres", server_url)

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> ScratchDatabase:
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@contextmanager
def scratch_database(prefix: str = "spaces_scratch") -> Iterator[ScratchDatabase]:
    database = ScratchDatabase(prefix).create()
    try:
        yield database
    finally:
        database.drop()
