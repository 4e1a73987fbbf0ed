"""Rooms tests' media stand-in server and in-process Celery tasks.

The people (Maya the host, Ivy the co-host, Sam, Maya's live Space) are in tests/personas.py; the live Daphne
(`live_daphne`) is in tests/conftest.py."""

import uuid
from pathlib import Path

import pytest

from tests.daphne import daphne_server, free_port


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
def shared_cache_away():
    """The shared cache as a process sees it while Redis restarts: a real client of a port nobody listens on."""
    from django.core.cache.backends.redis import RedisCache

    return RedisCache(f"redis://127.0.0.1:{free_port()}/0", {})


@pytest.fixture(scope="module")
def media_server():
    """Daphne serving tests/rooms/media_asgi.py (the media contract's stand-in); yields "http://127.0.0.1:<port>"."""
    env = {
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.base",
        "SPACES_MEDIA_REDIS_PREFIX": f"test.{uuid.uuid4().hex}",
        "SPACES_BENCH_PAGES": str(Path(__file__).resolve().parent / "pages"),
    }
    with daphne_server("tests.rooms.media_asgi:application", env) as port:
        yield f"http://127.0.0.1:{port}"
