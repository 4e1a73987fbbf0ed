"""The room socket never crashes on input, and a consumer that fails for any reason still leaves the room
(detached from the fan-out and the relay, its socket no longer counted). Runs in both modes."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from rooms import fanout, leases, media, services
from rooms.consumers import SpaceConsumer
from rooms.models import RoomSocket
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import joined, next_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MALFORMED = [
    "[" * 2000 + "]" * 2000,  # valid JSON, nested past the parser's recursion limit
    '{"type": "ping", "x": ' + "[" * 1900 + "]" * 1900 + "}",
    "{" * 4000,
    "not json",
    "null",
    "[]",
    '"ping"',
    '{"type": 5}',
    '{"type": null}',
    '{"type": "nope"}',
    '{"type": "__init__"}',
    '{"type": "react", "emoji": ["🔥"]}',
    '{"type": "react", "emoji": {"a": 1}}',
    '{"type": "media_ack", "received": 1e400}',
    '{"type": "media_ack", "received": -1}',
    '{"type": "mute", "user_id": {"a": [[[]]]}}',
    '{"type": "remove", "user_id": 99999999999999999999999999}',
    '{"type": "pin", "post_id": "1"}',
    '{"type": "raise_hand", "type": "end"}',
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "x" * 5000,  # over the size limit
]


@pytest.fixture(autouse=True)
def fast_batches(settings):
    settings.SPACES_REACTION_FLUSH_MS = 20
    settings.SPACES_TEXT_MESSAGES_PER_10S = 1000


async def test_any_text_message_gets_an_error_and_the_socket_keeps_working():
    space = await database_sync_to_async(lambda: LiveSpaceFactory(host=make_host()))()
    listener = await database_sync_to_async(UserFactory)()
    communicator, _ = await joined(listener, space.pk)
    answers = []
    for text in MALFORMED:
        await communicator.send_to(text_data=text)
        event = await next_of(communicator, "error")
        answers.append(event["code"])
        await communicator.send_json_to({"type": "ping"})
        assert (await next_of(communicator, "pong")) == {"type": "pong"}, (
            f"the socket stopped working after {text[:40]!r}"
        )
    assert answers[0] == answers[2] == "bad_json"
    assert set(answers) <= {"bad_json", "bad_message", "unknown_type", "forbidden", "invalid", "too_large"}
    await communicator.disconnect()


async def test_a_handler_that_fails_answers_with_an_error_and_the_socket_lives(monkeypatch):
    space = await database_sync_to_async(lambda: LiveSpaceFactory(host=make_host()))()
    listener = await database_sync_to_async(UserFactory)()
    communicator, _ = await joined(listener, space.pk)

    def broken(**kwargs):
        raise RuntimeError("a bug in a service")

    monkeypatch.setattr(services, "hand_raise", broken)
    await communicator.send_json_to({"type": "raise_hand"})
    error = await next_of(communicator, "error")
    assert error["code"] == "internal"
    assert "a bug" not in error["message"]  # never an exception's text
    await communicator.send_json_to({"type": "ping"})
    await next_of(communicator, "pong")
    await communicator.disconnect()


async def test_a_consumer_that_crashes_still_leaves_the_room(monkeypatch):
    space = await database_sync_to_async(lambda: LiveSpaceFactory(host=make_host()))()
    listener, watcher = await database_sync_to_async(lambda: UserFactory.create_batch(2))()
    watching, _ = await joined(watcher, space.pk)
    crashing, _ = await joined(listener, space.pk)
    assert await database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).count)() == 1

    async def crash(self, text_data=None, bytes_data=None):
        raise RuntimeError("the consumer itself fails")

    monkeypatch.setattr(SpaceConsumer, "receive", crash)
    await crashing.send_to(text_data=json.dumps({"type": "ping"}))
    with pytest.raises(RuntimeError):
        await crashing.wait(timeout=5)
    # Its leave path ran: the room hears it left, its socket no longer counts, nothing holds it.
    left = await next_of(watching, "presence")
    while listener.pk not in left["left"]:
        left = await next_of(watching, "presence")
    assert not await database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).exists)()
    hub = await fanout._hub()
    assert len(hub.sockets[space.pk]) == 1  # the watcher's
    relay = media._process().hubs.get(space.pk)
    assert relay is None or len(relay.listeners) == 1
    await watching.disconnect()


async def test_a_close_the_database_could_not_record_is_recorded_with_the_next_lease_renewal(monkeypatch):
    space = await database_sync_to_async(lambda: LiveSpaceFactory(host=make_host()))()
    listener = await database_sync_to_async(UserFactory)()
    communicator, _ = await joined(listener, space.pk)
    recorded = services.participant_leave

    def database_away(**kwargs):
        raise OperationalError("the database is away for a moment")

    monkeypatch.setattr(services, "participant_leave", database_away)
    await communicator.disconnect()
    still = database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).exists)
    assert await still()
    monkeypatch.setattr(services, "participant_leave", recorded)
    await leases._keeper().retry_leaves()  # what the renewal does next
    assert not await still()
