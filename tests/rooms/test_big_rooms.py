"""A Space of thousands: joins that cost the same in any Space, the headcount, broadcast mode's pieces."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import headcount, selectors, services
from rooms.leases import presence_sweep
from rooms.models import Role, RoomSocket, Space
from rooms.presence import _Pending
from tests.accounts.factories import UserFactory
from tests.rooms.factories import fill

pytestmark = pytest.mark.django_db


def join_with_welcome(space: Space, server, django_capture_on_commit_callbacks) -> tuple[dict, list[str]]:
    """What a socket's join does (rooms.consumers `_join`): the join, its commit, the welcome."""
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=True):
            space = Space.objects.get(pk=space.pk)
            participant = services.participant_join(space=space, user=user, process_id=server.pk)
        participant.space = space
        welcome = selectors.room_snapshot(space=space, me=participant)
    return welcome, [q["sql"] for q in queries.captured_queries]


@pytest.fixture
def fresh_headcount(live_space):
    headcount.forget(live_space.pk)
    yield
    headcount.forget(live_space.pk)


@pytest.mark.usefixtures("fresh_headcount")
def test_a_join_and_its_welcome_cost_the_same_queries_at_10_and_at_5000_listeners(
    live_space, server, django_capture_on_commit_callbacks
):
    fill(live_space, server, 10)
    small_welcome, small = join_with_welcome(live_space, server, django_capture_on_commit_callbacks)
    assert small_welcome["listener_count"] == 11

    fill(live_space, server, 4990)
    presence_sweep()  # the periodic aggregate: the headcount is now exact
    big_welcome, big = join_with_welcome(live_space, server, django_capture_on_commit_callbacks)

    assert len(big) == len(small)
    assert not [sql for sql in big if "FOR UPDATE" in sql]
    # Every count stops at the threshold: none walks the Space's thousands of rows.
    assert all("LIMIT" in sql for sql in big if "COUNT(" in sql)
    assert big_welcome["listener_count"] == 5002  # the sweep counted 5,001; this join added one
    assert len(big_welcome["listeners"]) == selectors.LISTENER_SNAPSHOT_LIMIT


@pytest.mark.usefixtures("fresh_headcount")
def test_the_headcount_follows_first_sockets_and_last_closes_and_the_sweep_corrects_its_drift(
    live_space, listener, server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        second = services.participant_join(space=live_space, user=listener, process_id=server.pk)
    assert headcount.of(live_space.pk) == 1  # one person, two tabs
    with django_capture_on_commit_callbacks(execute=True):
        services.participant_leave(socket_id=first.socket_id)
    assert headcount.of(live_space.pk) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.participant_leave(socket_id=second.socket_id)
    assert headcount.of(live_space.pk) == 0

    headcount.record({live_space.pk: 42})  # e.g. a killed server's listeners, or a lost increment
    fill(live_space, server, 3)
    presence_sweep()
    assert headcount.of(live_space.pk) == 3


def test_listener_pages_walk_everyone_with_a_socket_once_at_the_same_cost(live_space, server, monkeypatch):
    monkeypatch.setattr(selectors, "LISTENER_SNAPSHOT_LIMIT", 2)
    crowd = fill(live_space, server, 5)
    RoomSocket.objects.filter(participant=crowd[2]).delete()  # gone: not listed
    seen, after, costs = [], 0, set()
    while after is not None:
        with CaptureQueriesContext(connection) as queries:
            page = selectors.listeners_page(space=live_space, after=after)
        costs.add(len(queries))
        seen += [p["user_id"] for p in page["listeners"]]
        after = page["next"]
    assert seen == [p.user_id for p in crowd if p != crowd[2]]
    assert costs == {1}


def test_broadcast_mode_keeps_only_the_stages_comings_and_goings():
    batch = _Pending()
    batch.joined = {1: {"user_id": 1, "role": Role.LISTENER}, 2: {"user_id": 2, "role": Role.SPEAKER}}
    batch.left = {3, 4}
    batch.left_stage = {4}
    assert batch.presence(broadcast_mode=False)["left"] == [3, 4]
    assert batch.presence(broadcast_mode=True) == {
        "type": "presence",
        "joined": [{"user_id": 2, "role": Role.SPEAKER}],
        "left": [4],
    }
    listeners_only = _Pending(joined={1: {"user_id": 1, "role": Role.LISTENER}}, left={3})
    assert listeners_only.presence(broadcast_mode=True) is None
