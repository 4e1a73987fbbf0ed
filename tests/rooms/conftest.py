"""Personas for rooms tests: a host with enough followers, a co-host, listeners."""

import pytest

from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host


@pytest.fixture
def host(db):
    return make_host(username="maya", display_name="Maya")


@pytest.fixture
def listener(db):
    return UserFactory(username="sam", display_name="Sam")


@pytest.fixture
def cohost(db):
    return UserFactory(username="ivy", display_name="Ivy")


@pytest.fixture
def live_space(host):
    return LiveSpaceFactory(host=host, title="Synths at night")


def seat(space, user, role=Role.LISTENER, **fields) -> Participant:
    """Put `user` in `space` with `role` as the services would (speaker slots included)."""
    from rooms.services import _free_speaker_index

    index = _free_speaker_index(space) if role in (Role.SPEAKER, Role.COHOST) else None
    return Participant.objects.create(space=space, user=user, role=role, speaker_index=index, **fields)


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Run Celery tasks in the test process even when REDIS_URL points at a real broker."""
    from spaces_site.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def live_daphne(transactional_db):
    """A real Daphne process on a free port, serving the test database; yields its base URL."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.test",
        "DATABASE_URL": database_url,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    root = Path(__file__).resolve().parents[2]
    daphne = Path(sys.executable).with_name("daphne")
    process = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "tests.rooms.live_asgi:application"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Daphne did not start: {process.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("Daphne did not open its port within 20 s") from None
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    # Daphne must let go of the test database before pytest-django drops or flushes it.
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which asyncio-based tests collected after it would trip over."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
