"""Joins on threads of their own (PostgreSQL): off Channels' database thread, and no connection left behind."""

import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from rooms import services
from tests.accounts.factories import UserFactory
from tests.rooms.test_consumers import make_live_space
from tests.sockets import joined

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
