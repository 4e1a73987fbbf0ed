"""The room socket in a big Space: broadcast mode, listener pages, and sockets that go in the middle of a join."""

import asyncio
import contextlib
import threading

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from rooms import headcount, selectors, services
from rooms.models import RoomSocket
from tests.accounts.factories import UserFactory
from tests.rooms.test_consumers import make_live_space
from tests.sockets import joined, next_matching, next_of, room_application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_batches(settings):
    settings.SPACES_REACTION_FLUSH_MS = 20


class HeldJoin:
    """Holds the first batch of joins after its rows are committed, until released: the moment a socket may go,
    or the others arrive (rooms.join_batches). `sizes` counts the people of every batch."""

    def __init__(self, monkeypatch) -> None:
        self.written = threading.Event()
        self.release = threading.Event()
        self.sizes: list[int] = []
        original = services.participants_join

        def held(**kwargs):
            outcomes = original(**kwargs)
            self.sizes.append(len(kwargs["users"]))
            if len(self.sizes) == 1:
                self.written.set()
                self.release.wait(30)
            return outcomes

        monkeypatch.setattr(services, "participants_join", held)


async def sockets_of(user) -> int:
    return await database_sync_to_async(RoomSocket.objects.filter(participant__user=user).count)()


@pytest.mark.parametrize("how", ["closed by the client", "cancelled by the server"])
async def test_a_socket_that_goes_in_the_middle_of_its_join_is_not_counted_afterwards(monkeypatch, how):
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    headcount.forget(space.pk)
    held = HeldJoin(monkeypatch)
    communicator = WebsocketCommunicator(room_application, f"/ws/spaces/{space.pk}/")
    communicator.scope["user"] = listener
    connected, _ = await communicator.connect()
    assert connected  # accepted at once; the join runs after
    assert await asyncio.to_thread(held.written.wait, 30)
    if how == "closed by the client":
        await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    else:
        communicator.future.cancel()
    held.release.set()
    with contextlib.suppress(asyncio.CancelledError):  # the cancelled one ends cancelled
        await communicator.wait(timeout=30)
    assert await sockets_of(listener) == 0
    assert headcount.of(space.pk) == 0


async def test_above_the_threshold_the_room_gets_counts_and_pages_and_hosts_still_get_hands_at_once(
    settings, monkeypatch
):
    settings.SPACES_BROADCAST_FROM_LISTENERS = 1
    settings.SPACES_BROADCAST_COUNT_SECONDS = 1
    monkeypatch.setattr(selectors, "LISTENER_SNAPSHOT_LIMIT", 1)
    space = await database_sync_to_async(make_live_space)()
    headcount.forget(space.pk)
    host = await database_sync_to_async(lambda: space.host)()
    first, second = [await database_sync_to_async(UserFactory)() for _ in range(2)]
    host_socket, _ = await joined(host, space.pk)
    first_socket, _ = await joined(first, space.pk)
    second_socket, welcome = await joined(second, space.pk)
    assert welcome["listener_count"] == 2

    count = await next_matching(host_socket, "listener_count", lambda e: e["count"] == 3)
    assert count == {"type": "listener_count", "count": 3}

    await second_socket.send_json_to({"type": "raise_hand"})
    hand = await next_of(host_socket, "hand")
    assert (hand["user_id"], hand["raised"]) == (second.pk, True)

    await first_socket.send_json_to({"type": "listeners"})
    page = await next_of(first_socket, "listeners_page")
    assert [p["user_id"] for p in page["listeners"]] == [first.pk]
    await first_socket.send_json_to({"type": "listeners", "after": page["next"]})
    page = await next_of(first_socket, "listeners_page")
    assert ([p["user_id"] for p in page["listeners"]], page["next"]) == ([second.pk], None)
    await first_socket.send_json_to({"type": "listeners", "after": "me"})
    error = await next_of(first_socket, "error")
    assert (error["code"], error["ref"]) == ("invalid", "listeners")

    # The second listener goes: in broadcast mode no `presence` names them; the next count does.
    await second_socket.disconnect()
    events = []
    while not events or events[-1]["type"] != "listener_count" or events[-1]["count"] != 2:
        events.append(await host_socket.receive_json_from(timeout=5))
    assert not [e for e in events if e["type"] == "presence" and second.pk in e["left"]]
    for communicator in (host_socket, first_socket):
        await communicator.disconnect()
    headcount.forget(space.pk)


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL (the shared cache's connections)")
async def test_joins_count_through_one_cache_connection_not_one_per_socket():
    """Each socket runs in its own async context, and Django's `cache` is one client per context: the
    headcount must not open a Redis connection per listener (a Space of 10,000 would hit Redis's limit)."""
    space = await database_sync_to_async(make_live_space)()
    listeners = [await database_sync_to_async(UserFactory)() for _ in range(12)]

    def redis_clients() -> int:
        """Connections to the test's Redis database (CI runs nothing else on it)."""
        client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
        db = client.connection_pool.connection_kwargs.get("db", 0)
        return sum(1 for c in client.client_list() if int(c["db"]) == db)

    sockets = [(await joined(listener, space.pk))[0] for listener in listeners[:2]]
    before = await asyncio.to_thread(redis_clients)
    sockets += [(await joined(listener, space.pk))[0] for listener in listeners[2:]]
    after = await asyncio.to_thread(redis_clients)

    assert await database_sync_to_async(headcount.of)(space.pk) == 12
    assert after - before < 5, (before, after)  # 10 more listeners: 10 more connections before the fix
    for socket in sockets:
        await socket.disconnect()
