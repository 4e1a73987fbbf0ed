"""Joins written in batches (rooms.join_batches): the same statements for a batch of 2 or of 50, and each person
refused or admitted as a join alone would be (the sockets' side: test_join_batches_socket.py)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Block, User
from rooms import headcount, join_batches, services
from rooms.models import Invitation, Participant, Role, RoomSocket, Space
from rooms.welcome_cache import WelcomeCache
from spaces_site.close_codes import CloseCode


def crowd(how_many: int, prefix: str) -> list[User]:
    return User.objects.bulk_create(
        User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(how_many)
    )


def write(space: Space, users: list[User], server, django_capture_on_commit_callbacks):
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        outcomes = join_batches.write_batch(space.pk, users, server.pk, WelcomeCache())
    return outcomes, len(queries)


@pytest.mark.django_db
def test_a_batch_of_50_joins_costs_the_statements_of_a_batch_of_2(
    live_space, server, django_capture_on_commit_callbacks
):
    headcount.forget(live_space.pk)
    two, small = write(live_space, crowd(2, "pair"), server, django_capture_on_commit_callbacks)
    fifty, big = write(live_space, crowd(50, "crowd"), server, django_capture_on_commit_callbacks)

    print(f"statements for a batch of 2: {small}, of 50: {big}")
    assert big == small
    assert [joined.welcome["me"]["user_id"] for joined in fifty] == [joined.participant.user_id for joined in fifty]
    assert all(json.loads(joined.text) == joined.welcome for joined in two + fifty)  # what the socket is sent
    assert all(joined.participant.first_connection for joined in two + fifty)
    assert RoomSocket.objects.filter(participant__space=live_space).count() == 1 + 52 - 1  # the host has none yet
    assert headcount.of(live_space.pk) == 52
    assert fifty[-1].welcome["listener_count"] == 52
    headcount.forget(live_space.pk)


@pytest.mark.django_db
def test_a_batch_refuses_whom_a_join_alone_refuses_and_admits_the_others(
    live_space, server, django_capture_on_commit_callbacks
):
    headcount.forget(live_space.pk)
    blocked, removed, second_tab, newcomer, blocker = crowd(5, "mixed")
    Block.objects.create(blocker=live_space.host, blocked=blocked)
    Participant.objects.create(space=live_space, user=removed, removed_at=live_space.started_at)
    with django_capture_on_commit_callbacks(execute=True):  # a first tab, open
        services.participant_join(space=live_space, user=second_tab, process_id=server.pk)
    Block.objects.create(blocker=blocker, blocked=live_space.host)
    Block.objects.bulk_create(Block(blocker=blocker, blocked=user) for user in crowd(1001, "blocked"))

    outcomes, _ = write(
        live_space, [blocked, removed, second_tab, newcomer, blocker], server, django_capture_on_commit_callbacks
    )

    refused = [(outcome.reason, outcome.code) for outcome in outcomes[:2]]
    assert refused == [
        ("The host has blocked you.", CloseCode.FORBIDDEN),
        ("You were removed from this Space.", CloseCode.FORBIDDEN),
    ]
    assert [outcome.participant.first_connection for outcome in outcomes[2:]] == [False, True, True]
    assert RoomSocket.objects.filter(participant__user=second_tab).count() == 2
    assert not RoomSocket.objects.filter(participant__user__in=[blocked, removed]).exists()
    assert headcount.of(live_space.pk) == 3  # the first tab, the newcomer, the blocker: people, not sockets
    # Past the thousand a welcome lists, the stage is still checked: the blocker is warned about the host.
    welcome = outcomes[4].welcome
    assert (len(welcome["blocked_ids"]), welcome["blocked_speaker_ids"]) == (1000, [live_space.host_id])
    headcount.forget(live_space.pk)


@pytest.mark.django_db
def test_in_a_batch_the_host_comes_back_and_a_named_cohost_takes_the_seat(
    live_space, server, django_capture_on_commit_callbacks
):
    Space.objects.filter(pk=live_space.pk).update(host_left_at=live_space.started_at)
    named, listener = crowd(2, "seat")
    Invitation.objects.create(space=live_space, user=named, role=Role.COHOST, invited_by=live_space.host)

    outcomes, _ = write(live_space, [listener, live_space.host, named], server, django_capture_on_commit_callbacks)

    assert [outcome.welcome["me"]["role"] for outcome in outcomes] == [Role.LISTENER, Role.HOST, Role.COHOST]
    assert Space.objects.get(pk=live_space.pk).host_left_at is None
    assert not Invitation.objects.filter(space=live_space).exists()
    headcount.forget(live_space.pk)
