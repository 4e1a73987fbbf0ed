"""The sockets' database work on threads of their own (PostgreSQL): off the thread Django draws pages on, and no
connection left behind."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from rooms import leases, services
from tests.accounts.factories import UserFactory
from tests.rooms.test_consumers import make_live_space
from tests.sockets import WAIT, joined, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite joins stay on Channels' thread"),
]


def other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


async def test_joins_run_on_their_own_threads_and_close_their_connections(monkeypatch):
    threads = []
    original = services.participants_join

    def recording_thread(**kwargs):
        threads.append(threading.current_thread().name)
        return original(**kwargs)

    monkeypatch.setattr(services, "participants_join", recording_thread)
    space = await database_sync_to_async(make_live_space)()
    listeners = [await database_sync_to_async(UserFactory)() for _ in range(3)]
    before = await database_sync_to_async(other_sessions)()
    sockets = [(await joined(listener, space.pk))[0] for listener in listeners]

    assert threads and all(name.startswith("room-join") for name in threads), threads
    # Without a persistent connection each join gives its connection back (a leak would keep one per thread
    # open, and then one per socket's context).
    assert await database_sync_to_async(other_sessions)() <= before
    for socket in sockets:
        await socket.disconnect()


async def test_a_socket_is_welcomed_while_the_thread_the_pages_are_drawn_on_is_busy():
    """Django draws a process's pages on Channels' database thread: in a rush of followers a socket's handshake
    (its session and account) used to wait there behind every room page in the queue. Held here until the socket
    is in, that thread would keep the socket out for good."""
    from spaces_site.asgi import application

    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    cookie = await database_sync_to_async(session_cookie)(listener)
    await leases.process_id()  # registered with the process's first socket, long before a rush
    headers = [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    socket = WebsocketCommunicator(application, f"/ws/spaces/{space.pk}/", headers=headers)
    pages_drawn = threading.Event()
    pages = asyncio.ensure_future(database_sync_to_async(pages_drawn.wait)(30))
    try:
        connected, _ = await socket.connect(timeout=WAIT)
        assert connected
        welcome = await socket.receive_json_from(timeout=WAIT)
        assert (welcome["type"], welcome["me"]["user_id"]) == ("welcome", listener.pk)
        assert not pages.done()  # the pages' thread was busy all along
    finally:
        pages_drawn.set()
    await pages
    await socket.disconnect()
