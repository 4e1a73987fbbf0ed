"""The fault suite's processes (tests/processes.py): a private Redis and two Daphne (or uvicorn) servers with
the production settings on the test database, all of which the tests may kill. It runs where PostgreSQL and
Redis are configured (as in CI); the shared Redis is never touched."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.db import connection

from spaces_site.settings.channel_layer import BACKEND, redis_host
from tests.processes import RedisServer, Server, manage, production_env, start_daphne, start_uvicorn

LEASE_SECONDS = 3  # the servers' socket lease: a killed server's sockets stop counting 3 s after its last renewal


def _configured() -> bool:
    return bool(django_settings.REDIS_URL) and connection.vendor == "postgresql"


needs_deployed_services = pytest.mark.skipif(
    not _configured(), reason="the fault suite needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL), as in CI"
)


@pytest.fixture(autouse=True)
def scenarios_read_the_database_from_their_loop(monkeypatch):
    """A fault scenario runs its clients on an event loop in the test thread and checks stored rows from it
    while it waits (nothing else uses the test's connection meanwhile); the servers it starts run with
    Django's async-safety check on, as in production."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def fault_redis():
    redis = RedisServer().start()
    yield redis
    redis.stop()
    shutil.rmtree(redis.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def static_root():
    """collectstatic with the production storage, once for the suite."""
    root = tempfile.mkdtemp(prefix="fault-static-")
    env = production_env(database_url="postgres://unused", redis_url="redis://unused", static_root=root)
    manage(env, "collectstatic", "--noinput", "-v", "0")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def fault_env(fault_redis, static_root, **extra: str) -> dict[str, str]:
    """The production environment of the fault suite's processes: the test database, the private Redis."""
    db = connection.settings_dict
    return production_env(
        database_url=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        redis_url=fault_redis.url(),
        static_root=static_root,
        DJANGO_HTTPS="false",
        **extra,
    )


@contextmanager
def two_servers(start, fault_redis, static_root, settings, **extra: str) -> Iterator[list[Server]]:
    """Two server processes sharing the test database and the private Redis; this process's channel layer
    (which the sweep broadcasts through) points at the same Redis."""
    from spaces_site.celery import app

    env = fault_env(
        fault_redis,
        static_root,
        SPACES_PRESENCE_LEASE_SECONDS=str(LEASE_SECONDS),
        SPACES_REACTION_FLUSH_MS="100",
        **extra,
    )
    # The servers must accept the sessions the tests sign people in with: one key for both, never the
    # development key (the production settings refuse it).
    settings.SECRET_KEY = env["DJANGO_SECRET_KEY"]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": BACKEND,
            "CONFIG": {
                "hosts": [redis_host(fault_redis.url())],
                "prefix": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            },
        }
    }
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the sweep's follow-up tasks run here, not on a broker nobody reads
    started = []
    try:
        for _ in range(2):
            started.append(start(env))
        yield started
    finally:
        for server in started:
            server.stop()
        app.conf.task_always_eager = before


@pytest.fixture
def servers(transactional_db, fault_redis, static_root, settings):
    """Two Daphne processes, the default server."""
    with two_servers(start_daphne, fault_redis, static_root, settings) as started:
        yield started


@pytest.fixture
def uvicorn_servers(transactional_db, fault_redis, static_root, settings):
    """Two uvicorn processes as `make uvicorn` runs them for large Spaces (rooms/PROTOCOL.md); a listener who
    acknowledges no audio for a second is shed."""
    with two_servers(start_uvicorn, fault_redis, static_root, settings, SPACES_MEDIA_ACK_LAG_MS="1000") as started:
        yield started
