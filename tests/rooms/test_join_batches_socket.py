"""Joins written in batches, through the room socket: a burst of sockets goes in batches, each welcomed as
itself, and a join abandoned while its batch is written leaves nothing behind."""

import asyncio

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from django.db import DatabaseError, connection

from rooms import headcount, join_batches, leases, selectors
from rooms.models import Role, RoomSocket
from tests.accounts.factories import UserFactory
from tests.rooms.test_big_rooms_socket import HeldJoin
from tests.rooms.test_consumers import make_live_space
from tests.sockets import joined, open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    # A held batch holds the thread it is written on: on SQLite that is Channels' one database thread.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite joins run on Channels' one database thread"),
]


@pytest_asyncio.fixture
async def space_and_listener():
    """A live Space whose headcount starts from nothing, and a listener who is not in it yet."""
    space = await database_sync_to_async(make_live_space)()
    headcount.forget(space.pk)
    yield space, await database_sync_to_async(UserFactory)()
    headcount.forget(space.pk)


async def test_a_burst_of_sockets_is_written_in_batches_and_each_is_welcomed_as_itself(monkeypatch):
    space = await database_sync_to_async(make_live_space)()
    headcount.forget(space.pk)
    people = [await database_sync_to_async(UserFactory)() for _ in range(12)]
    held = HeldJoin(monkeypatch)
    first = await open_socket(people[0], space.pk)
    assert await asyncio.to_thread(held.written.wait, 30)
    # The rest, and a second tab of the last person, open meanwhile.
    others = [await open_socket(person, space.pk) for person in [*people[1:], people[-1]]]
    batches = join_batches.for_this_loop()
    while batches.waiting(space.pk) < len(others):
        await asyncio.sleep(0.01)
    held.release.set()

    welcomes = [await socket.receive_json_from(timeout=15) for socket in [first, *others]]
    assert [w["me"]["user_id"] for w in welcomes] == [p.pk for p in [*people, people[-1]]]
    # The first alone; the rest in one batch but the second tab, which waits for the next.
    assert held.sizes == [1, 11, 1]
    assert headcount.of(space.pk) == 12
    count = await database_sync_to_async(RoomSocket.objects.filter(participant__space=space).count)()
    assert count == 13
    # And a join after the burst goes at once, alone.
    late, welcome = await joined(await database_sync_to_async(UserFactory)(), space.pk)
    assert held.sizes[-1] == 1 and welcome["me"]["role"] == Role.LISTENER
    for socket in [first, *others, late]:
        await socket.disconnect()
    assert headcount.of(space.pk) == 0
    headcount.forget(space.pk)


async def test_a_join_abandoned_while_its_batch_is_written_leaves_no_socket_behind(monkeypatch, space_and_listener):
    space, listener = space_and_listener
    held = HeldJoin(monkeypatch)
    join = asyncio.ensure_future(join_batches.for_this_loop().join(space.pk, listener, await leases.process_id()))
    assert await asyncio.to_thread(held.written.wait, 30)
    join.cancel()  # e.g. the server shutting the socket's task down
    held.release.set()
    sockets = database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).count)
    for _ in range(300):
        if await sockets() == 0:
            break
        await asyncio.sleep(0.05)
    assert await sockets() == 0
    assert headcount.of(space.pk) == 0


async def test_a_join_whose_welcome_cannot_be_made_is_closed_and_leaves_no_socket_behind(
    monkeypatch, space_and_listener
):
    space, listener = space_and_listener

    def database_gone(**kwargs):
        raise DatabaseError("the connection was lost")

    monkeypatch.setattr(selectors, "block_lists", database_gone)  # after the socket's row is written
    communicator = await open_socket(listener, space.pk)
    error = await communicator.receive_json_from(timeout=15)
    assert (error["type"], error["message"], error["close_code"]) == ("error", "Joining failed; reconnecting.", 1011)
    closed = await communicator.receive_output(timeout=15)
    assert (closed["type"], closed["code"]) == ("websocket.close", 1011)
    assert not await database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).exists)()
    assert headcount.of(space.pk) == 0
