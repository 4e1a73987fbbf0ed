"""The shared part of a big Space's welcome: built once for a storm of joins, never older than the room."""

from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async

from rooms import headcount, selectors, welcome_cache
from rooms.welcome_cache import WelcomeCache
from tests.accounts.factories import UserFactory
from tests.rooms.test_consumers import make_live_space
from tests.sockets import joined, next_of

STARTED = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


class Builds:
    """A stand-in for `selectors.room_shared_snapshot` that counts its calls."""

    def __init__(self, complete: bool = False) -> None:
        self.calls = 0
        self.complete = complete

    def __call__(self) -> dict:
        self.calls += 1
        return {"complete": self.complete, "build": self.calls}


def test_a_big_spaces_shared_welcome_is_built_once_until_a_room_event_may_change_it():
    cache, build = WelcomeCache(), Builds()
    assert cache.shared(7, STARTED, build)["build"] == 1
    assert cache.shared(7, STARTED, build)["build"] == 1
    cache.event(7, {"type": "reactions", "counts": {"🔥": 3}})
    cache.event(7, {"type": "caption", "text": "hello"})
    assert cache.shared(7, STARTED, build)["build"] == 1
    cache.event(7, {"type": "role_changed"})
    assert cache.shared(7, STARTED, build)["build"] == 2
    cache.event(8, {"type": "pinned"})  # another Space's event
    assert cache.shared(7, STARTED, build)["build"] == 2
    cache.forget_all()  # Redis lost the room's events for a while
    assert cache.shared(7, STARTED, build)["build"] == 3


def test_a_small_spaces_welcome_is_built_for_every_join_and_an_old_one_is_not_kept(monkeypatch):
    cache, small = WelcomeCache(), Builds(complete=True)
    cache.shared(7, STARTED, small)
    cache.shared(7, STARTED, small)
    assert small.calls == 2

    big, clock = Builds(), [100.0]
    monkeypatch.setattr(welcome_cache.time, "monotonic", lambda: clock[0])
    cache.shared(8, STARTED, big)
    clock[0] += welcome_cache.MAX_AGE_S
    cache.shared(8, STARTED, big)
    cache.shared(8, datetime(2026, 12, 2, tzinfo=UTC), big)  # the same id for a Space started afresh
    assert big.calls == 3


def test_a_shared_welcome_built_while_an_event_arrives_is_not_kept():
    cache = WelcomeCache()

    def build_while_the_stage_changes() -> dict:
        cache.event(7, {"type": "role_changed"})
        return {"complete": False}

    cache.shared(7, STARTED, build_while_the_stage_changes)
    fresh = Builds()
    cache.shared(7, STARTED, fresh)
    assert fresh.calls == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_in_a_big_space_someone_joining_after_a_promotion_and_a_pin_sees_both(monkeypatch):
    # A listener list cut at one makes this a big Space: its joins share their welcome's stage, list and pins.
    monkeypatch.setattr(selectors, "LISTENER_SNAPSHOT_LIMIT", 1)
    space = await database_sync_to_async(make_live_space)()
    headcount.forget(space.pk)
    host = await database_sync_to_async(lambda: space.host)()
    first, second, third, late = [await database_sync_to_async(UserFactory)() for _ in range(4)]
    host_socket, _ = await joined(host, space.pk)
    first_socket, _ = await joined(first, space.pk)
    second_socket, _ = await joined(second, space.pk)
    third_socket, welcome = await joined(third, space.pk)
    assert [p["user_id"] for p in welcome["listeners"]] == [first.pk]
    assert welcome["listener_count"] == 3  # the headcount: everyone but the stage

    await first_socket.send_json_to({"type": "raise_hand"})
    await next_of(host_socket, "hand")
    await host_socket.send_json_to({"type": "approve", "user_id": first.pk})
    await next_of(third_socket, "role_changed")  # the event has reached this process's sockets
    post = await database_sync_to_async(lambda: host.posts.create(body="Read this first"))()
    await host_socket.send_json_to({"type": "pin", "post_id": post.pk})
    await next_of(third_socket, "pinned")

    late_socket, late_welcome = await joined(late, space.pk)
    assert [s["user_id"] for s in late_welcome["speakers"]] == [host.pk, first.pk]
    assert [pin["post_id"] for pin in late_welcome["pins"]] == [post.pk]
    assert [p["user_id"] for p in late_welcome["listeners"]] == [second.pk]
    for communicator in (host_socket, first_socket, second_socket, third_socket, late_socket):
        await communicator.disconnect()
    headcount.forget(space.pk)
