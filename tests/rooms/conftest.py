"""Rooms tests' servers (a live Daphne on the test database, the media stand-in) and in-process Celery tasks.

The people (Maya the host, Ivy the co-host, Sam, Maya's live Space) are in tests/personas.py."""

import uuid
from pathlib import Path

import pytest

from tests.daphne import daphne_server
from tests.personas import seat as seat  # where tests imported it from before tests/personas.py


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
def live_daphne(transactional_db, request):
    """A real Daphne process serving the room socket on the test database; yields "127.0.0.1:<port>".

    A test module may tune the server's settings with a module-level `LIVE_DAPHNE_ENV` dict."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {"DJANGO_SETTINGS_MODULE": "spaces_site.settings.test", "DATABASE_URL": database_url}
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(getattr(request.module, "LIVE_DAPHNE_ENV", {}))
    with daphne_server("tests.rooms.live_asgi:application", env) as port:
        yield f"127.0.0.1:{port}"


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
