"""What every test shares: the personas (tests/personas.py), the socket helpers' assertions, browser and
server fixtures (a live Daphne on the test database), and a clean slate of background tasks and rate limits
per test."""

import asyncio
import gc
import os
import uuid

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.daphne import daphne_server

pytest_plugins = ["tests.personas"]  # the persona fixtures

# The shared socket helpers assert as they read: rewritten, a failed read shows what it got instead.
pytest.register_assert_rewrite("tests.sockets")

# Whisper runs on CTranslate2, which uses Intel's MKL on this machine. By default MKL picks its code path by
# the data's memory alignment and may change its thread count as it goes, so the same audio could give
# other words after other tests have run in the process (a close call between two words tips). Strict
# conditional numerical reproducibility and fixed threads make recognition in tests bitwise repeatable;
# read when MKL first runs, so set before any engine loads (and inherited by the servers tests start).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
os.environ.setdefault("MKL_DYNAMIC", "FALSE")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's test databases, dropped only after the garbage collector has run: a thread that ended (an
    event loop's executor) can leave its database connection in a reference cycle, open until collected, and
    PostgreSQL refuses to drop a database someone is connected to (the run then ends with a warning and leaves
    the database behind)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def background_tasks_end_with_the_test(request):
    """An async test's event loop ends with the background tasks the room started on it (fan-out hubs, lease
    keepers, watchers) stopped. pytest-asyncio cancels every task of the loop and waits for all of them; a
    hub whose channels-redis receive is left waiting on a lock of an earlier test's loop never finishes, and
    the whole session would wait for it. Whatever has not ended 5 s after its cancellation is let go."""
    if request.node.get_closest_marker("asyncio") is None:
        yield
        return
    loop = request.getfixturevalue("_function_scoped_runner").get_loop()
    yield
    if loop.is_closed() or loop.is_running():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=5))
    for task in pending:
        if not task.done():
            asyncio.tasks._unregister_task(task)


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Each test counts its own rate limits: ids repeat across tests (SQLite reuses them), counters must not."""
    settings.RATE_LIMIT_KEY_PREFIX = uuid.uuid4().hex[:12]


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps its event loop running for the rest of the session,
    and pytest-asyncio tests collected after it could not start their own. A test is a browser test by what it
    uses (Playwright), whether or not its module says so: one that did not ran mid-suite and broke 127 others."""
    for item in items:
        if "playwright" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def playwright(playwright):
    """Django's async-safety check is off exactly while Playwright runs: its sync API keeps an event loop
    running in the test thread from its start to the end of the session (browser tests run last), and
    the tests' own ORM calls (the test database, factories, assertions on stored rows) run beside it.
    Every other test runs with the check on, and so does every live Daphne (a process of its own, see
    tests/daphne.py)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield playwright
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt package chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def browser_pages_close_with_their_test(request):
    """The session's Chromium outlives each test, and so did every page a test opened on it: rooms kept
    reconnecting and playing in the background for the rest of the run, one renderer using half a core."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


@pytest.fixture
def server(db):
    """A running server process: its lease holds (nothing expires it unless a test travels in time)."""
    from rooms.leases import server_process_register

    return server_process_register(name=f"test-server-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def live_daphne(transactional_db, request):
    """A real Daphne process serving the site's sockets on the test database; yields "127.0.0.1:<port>".

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
