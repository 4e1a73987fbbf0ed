"""The room socket over the configured channel layer (Redis when REDIS_URL is set)."""

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from rooms import media, services
from rooms.models import Participant, Role, RoomSocket, Space
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host
from tests.sockets import closed_with, joined, me_socket, next_audio, next_matching, next_of, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_batches(settings):
    settings.SPACES_REACTION_FLUSH_MS = 20


def frame(seq: int = 1, payload: bytes = b"\x01\x02\x03", fmt: int = 1) -> bytes:
    return media.pack_frame(fmt, stream=7, sequence=seq, captured_ms=1234.5, payload=payload)


def make_live_space():
    return LiveSpaceFactory(host=make_host())


async def test_listener_joins_and_sees_the_host_among_speakers():
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    communicator, welcome = await joined(listener, space.pk)
    assert welcome["me"]["role"] == Role.LISTENER
    assert [s["user_id"] for s in welcome["speakers"]] == [space.host_id]
    await communicator.disconnect()
    assert not await database_sync_to_async(RoomSocket.objects.filter(participant__user=listener).exists)()


async def test_anonymous_socket_is_closed_with_4401():
    space = await database_sync_to_async(make_live_space)()
    communicator = await open_socket(AnonymousUser(), space.pk)
    assert (await communicator.receive_json_from())["close_code"] == 4401
    assert await closed_with(communicator) == 4401


async def test_unknown_space_is_closed_with_4404():
    listener = await database_sync_to_async(UserFactory)()
    communicator = await open_socket(listener, 999999)
    assert await closed_with(communicator) == 4404


async def test_joining_an_ended_space_is_closed_with_4410_and_nothing_is_recorded():
    space = await database_sync_to_async(lambda: SpaceFactory(host=make_host(), state=Space.State.ENDED))()
    listener = await database_sync_to_async(UserFactory)()
    communicator = await open_socket(listener, space.pk)
    assert await closed_with(communicator) == 4410
    assert not await database_sync_to_async(Participant.objects.filter(user=listener).exists)()


async def test_bad_input_gets_an_error_event_and_changes_nothing(settings):
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    communicator, _ = await joined(listener, space.pk)

    await communicator.send_to(text_data="{not json")
    assert (await next_of(communicator, "error"))["code"] == "bad_json"
    await communicator.send_to(text_data="[1, 2]")
    assert (await next_of(communicator, "error"))["code"] == "bad_message"
    await communicator.send_json_to({"type": "dance"})
    assert (await next_of(communicator, "error"))["code"] == "unknown_type"
    await communicator.send_json_to({"type": "approve", "user_id": listener.pk})
    error = await next_of(communicator, "error")
    assert (error["code"], error["ref"]) == ("forbidden", "approve")
    await communicator.send_json_to({"type": "end"})
    assert (await next_of(communicator, "error"))["code"] == "forbidden"
    await communicator.send_to(text_data=json.dumps({"type": "react", "emoji": "x" * 5000}))
    assert (await next_of(communicator, "error"))["code"] == "too_large"
    await communicator.send_json_to({"type": "react", "emoji": "🍕"})
    assert (await next_of(communicator, "error"))["code"] == "invalid"

    me = await database_sync_to_async(Participant.objects.get)(user=listener)
    assert (me.role, me.hand_raised_at, me.removed_at) == (Role.LISTENER, None, None)
    assert await database_sync_to_async(lambda: Space.objects.get(pk=space.pk).state)() == Space.State.LIVE
    await communicator.disconnect()


async def test_request_approve_unmute_and_speak_reaches_listeners():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)

    await listener_socket.send_json_to({"type": "raise_hand"})
    hand = await next_of(host_socket, "hand")
    assert (hand["user_id"], hand["raised"]) == (listener.pk, True)
    assert (hand["participant"]["username"], hand["participant"]["hand"]) == (listener.username, True)

    await host_socket.send_json_to({"type": "approve", "user_id": listener.pk})
    changed = await next_of(listener_socket, "role_changed")
    assert changed["participant"]["role"] == Role.SPEAKER and changed["participant"]["muted"] is True

    # Muted: the frame is dropped without a query, nobody hears it.
    await listener_socket.send_to(bytes_data=frame(1))
    await listener_socket.send_json_to({"type": "unmute"})
    unmuted = await next_matching(host_socket, "role_changed", lambda e: not e["participant"]["muted"])
    assert unmuted["participant"]["user_id"] == listener.pk
    index = unmuted["participant"]["speaker_index"]

    await listener_socket.send_to(bytes_data=frame(2))
    relayed = await next_audio(host_socket)
    assert relayed[0] == index
    assert relayed[1:] == frame(2)

    await listener_socket.disconnect()
    await host_socket.disconnect()


async def test_listener_frames_are_dropped_and_bad_frames_close_the_socket():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    await listener_socket.send_to(bytes_data=frame(1))
    await listener_socket.send_json_to({"type": "ping"})
    await next_of(listener_socket, "pong")
    # The host (a speaker) would have been sent the relayed frame by now; nothing binary arrived.
    while not await host_socket.receive_nothing(timeout=0.2):
        assert isinstance(await host_socket.receive_from(), str)
    await host_socket.send_to(bytes_data=b"\x09" + bytes(20))
    assert await closed_with(host_socket) == 4400
    await listener_socket.disconnect()


@pytest.mark.parametrize("role", [Role.HOST, Role.COHOST, Role.SPEAKER, Role.LISTENER])
async def test_the_relay_takes_audio_exactly_from_the_sockets_told_they_may_speak(role):
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    ear, sender = await database_sync_to_async(lambda: UserFactory.create_batch(2))()
    if role == Role.HOST:
        sender = host
    else:
        await database_sync_to_async(seat)(space, sender, role)
    ear_socket, _ = await joined(ear, space.pk)
    sender_socket, welcome = await joined(sender, space.pk)
    host_socket = sender_socket if role == Role.HOST else (await joined(host, space.pk))[0]

    await sender_socket.send_to(bytes_data=frame(1, payload=b"sender"))
    await sender_socket.send_json_to({"type": "ping"})
    await next_of(sender_socket, "pong", skip_audio=True)
    # The host's frame marks the spot: a relayed frame of the sender's would have reached the ear before it.
    await host_socket.send_to(bytes_data=frame(2, payload=b"marker"))
    heard = (await next_audio(ear_socket))[1:] == frame(1, payload=b"sender")

    assert heard == ("speak" in welcome["can"])
    for socket in {ear_socket, sender_socket, host_socket}:
        await socket.disconnect()


async def test_audio_acknowledgement_with_a_bad_count_is_refused_and_a_good_one_is_accepted_quietly():
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    socket, _ = await joined(listener, space.pk)
    for bad in (-1, "12", 1.5, True, None):
        await socket.send_json_to({"type": "media_ack", "received": bad})
        error = await next_of(socket, "error")
        assert (error["code"], error["ref"]) == ("invalid", "media_ack"), bad
    await socket.send_json_to({"type": "media_ack", "received": 0})
    await socket.send_json_to({"type": "ping"})
    kinds = []
    while not kinds or kinds[-1] != "pong":
        kinds.append((await socket.receive_json_from(timeout=3))["type"])
    assert "error" not in kinds
    await socket.disconnect()


async def test_host_mutes_a_speaker_who_alone_can_unmute_while_a_listener_cannot_unmute():
    space = await database_sync_to_async(make_live_space)()
    speaker, listener = await database_sync_to_async(lambda: UserFactory.create_batch(2))()
    await database_sync_to_async(seat)(space, speaker, Role.SPEAKER)
    listener_socket, _ = await joined(listener, space.pk)
    await listener_socket.send_json_to({"type": "unmute"})
    assert (await next_of(listener_socket, "error"))["code"] == "forbidden"
    await listener_socket.disconnect()
    host = await database_sync_to_async(lambda: space.host)()
    host_socket, _ = await joined(host, space.pk)
    speaker_socket, _ = await joined(speaker, space.pk)
    await host_socket.send_json_to({"type": "mute", "user_id": speaker.pk})
    muted = await next_of(speaker_socket, "role_changed")
    assert (muted["participant"]["user_id"], muted["participant"]["muted"]) == (speaker.pk, True)
    await speaker_socket.send_json_to({"type": "unmute"})
    changed = await next_matching(host_socket, "role_changed", lambda e: not e["participant"]["muted"])
    assert changed["participant"]["user_id"] == speaker.pk
    await host_socket.disconnect()
    await speaker_socket.disconnect()


async def test_reactions_are_aggregated_and_rate_limited(settings):
    settings.SPACES_REACTIONS_PER_10S = 3
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    for _ in range(3):
        await listener_socket.send_json_to({"type": "react", "emoji": "🔥"})
    await listener_socket.send_json_to({"type": "react", "emoji": "🔥"})
    assert (await next_of(listener_socket, "error"))["code"] == "rate_limited"
    counts: dict[str, int] = {}
    while sum(counts.values()) < 3:  # one batch, or two if a flush fell between the reactions
        for emoji, n in (await next_of(host_socket, "reactions"))["counts"].items():
            counts[emoji] = counts.get(emoji, 0) + n
    assert counts == {"🔥": 3}
    await host_socket.disconnect()
    await listener_socket.disconnect()


async def test_removed_listener_is_disconnected_and_cannot_reconnect():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    await host_socket.send_json_to({"type": "remove", "user_id": listener.pk})
    assert (await next_of(listener_socket, "removed"))["user_id"] == listener.pk
    assert await closed_with(listener_socket) == 4403
    again = await open_socket(listener, space.pk)
    refusal = await again.receive_json_from(timeout=3)
    assert (refusal["type"], refusal["close_code"]) == ("error", 4403)
    assert await closed_with(again) == 4403
    await host_socket.disconnect()


async def test_host_ends_the_space_and_every_socket_closes_with_4410():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    await host_socket.send_json_to({"type": "end"})
    ended = await next_of(listener_socket, "space_ended")
    assert ended["url"] == f"/spaces/{space.pk}/"
    assert await closed_with(listener_socket) == 4410
    assert await closed_with(host_socket) == 4410
    assert await database_sync_to_async(lambda: Space.objects.get(pk=space.pk).state)() == Space.State.ENDED


async def test_cohost_cannot_add_cohosts_even_if_the_client_tries():
    space = await database_sync_to_async(make_live_space)()
    cohost, other = await database_sync_to_async(lambda: UserFactory.create_batch(2))()
    await database_sync_to_async(seat)(space, cohost, Role.COHOST)
    await database_sync_to_async(seat)(space, other)
    cohost_socket, _ = await joined(cohost, space.pk)
    await cohost_socket.send_json_to({"type": "add_cohost", "user_id": other.pk})
    assert (await next_of(cohost_socket, "error"))["code"] == "forbidden"
    await cohost_socket.send_json_to({"type": "approve", "user_id": "seven"})
    assert (await next_of(cohost_socket, "error"))["code"] == "invalid"
    assert await database_sync_to_async(lambda: Participant.objects.get(user=other).role)() == Role.LISTENER
    await cohost_socket.disconnect()


async def test_flooding_text_messages_closes_with_4429(settings):
    settings.SPACES_TEXT_MESSAGES_PER_10S = 3
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    communicator, _ = await joined(listener, space.pk)
    for _ in range(5):
        await communicator.send_json_to({"type": "ping"})
    assert await closed_with(communicator) == 4429


async def test_presence_batches_tell_the_room_who_joined_and_left():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    seen = set()
    while listener.pk not in seen:
        seen |= {p["user_id"] for p in (await next_of(host_socket, "presence"))["joined"]}
    await listener_socket.disconnect()
    left = await next_of(host_socket, "presence")
    while listener.pk not in left["left"]:
        left = await next_of(host_socket, "presence")
    assert listener.pk in left["left"]
    await host_socket.disconnect()


async def test_role_kept_when_a_speaker_reconnects():
    space = await database_sync_to_async(make_live_space)()
    speaker = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(seat)(space, speaker, Role.SPEAKER)
    first, welcome = await joined(speaker, space.pk)
    await first.disconnect()
    second, welcome_again = await joined(speaker, space.pk)
    assert welcome["me"]["role"] == welcome_again["me"]["role"] == Role.SPEAKER
    assert welcome["me"]["speaker_index"] == welcome_again["me"]["speaker_index"]
    await second.disconnect()


async def test_services_events_update_the_role_held_in_memory():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    listener_socket, _ = await joined(listener, space.pk)
    await database_sync_to_async(services.cohost_add)(space=space, by=host, user=listener)
    await next_of(listener_socket, "role_changed")
    assert "mute_all" in (await next_of(listener_socket, "permissions"))["can"]
    # A co-host may now mute everyone: allowed by the in-memory role without reconnecting.
    await listener_socket.send_json_to({"type": "mute_all"})
    await listener_socket.send_json_to({"type": "ping"})
    event = await listener_socket.receive_json_from(timeout=3)
    while event["type"] in {"presence", "reactions"}:
        event = await listener_socket.receive_json_from(timeout=3)
    assert event["type"] in {"pong", "role_changed"}
    await listener_socket.disconnect()


async def test_followers_home_socket_gets_the_bubble_when_the_host_goes_live_and_when_it_ends():
    from accounts.services import follow_create

    host = await database_sync_to_async(make_host)()
    follower = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(follow_create)(follower=follower, followee=host)
    space = await database_sync_to_async(lambda: SpaceFactory(host=host, title="Going live"))()
    home = await me_socket(follower)
    await database_sync_to_async(services.space_start)(space=space, by=host)
    bubble = await next_of(home, "live_bubble")
    assert (bubble["action"], bubble["user_id"], bubble["title"]) == ("add", host.pk, "Going live")
    assert bubble["url"] == f"/spaces/{space.pk}/"
    await database_sync_to_async(services.space_end)(space=space, by=host)
    gone = await next_of(home, "live_bubble")
    assert (gone["action"], gone["user_id"]) == ("remove", host.pk)
    await home.disconnect()


async def test_reaction_limit_is_per_person_not_per_socket(settings):
    settings.SPACES_REACTIONS_PER_10S = 2
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    first, _ = await joined(listener, space.pk)
    second, _ = await joined(listener, space.pk)
    await first.send_json_to({"type": "react", "emoji": "👏"})
    # A socket handles its messages in order: once the pong is back, first's reaction has been counted
    # (the two sockets' consumers run concurrently, so without this second's could be counted first).
    await first.send_json_to({"type": "ping"})
    await next_of(first, "pong")
    await second.send_json_to({"type": "react", "emoji": "👏"})
    await second.send_json_to({"type": "react", "emoji": "👏"})
    assert (await next_of(second, "error"))["code"] == "rate_limited"
    await first.disconnect()
    await second.disconnect()


NOBODY = {"host": [], "cohost": [], "speaker": [], "listener": []}
LISTENING = [
    "accept_invite",
    "ask",
    "list_questions",
    "listeners",
    "lower_hand",
    "media_ack",
    "ping",
    "raise_hand",
    "react",
]
ON_STAGE = ["list_questions", "listeners", "lower_hand", "media_ack", "mute_self", "pin", "ping", "raise_hand", "react",
            "speak", "unmute", "unpin"]  # fmt: skip
MANAGING = ["answer_question", "approve", "decline", "invite", "make_listener", "mute", "mute_all", "pin_question",
            "remove", "unpin_question", "upvote_question"]  # fmt: skip


async def test_each_role_is_told_in_its_welcome_what_it_may_do_and_to_whom():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    cohost, speaker, listener = await database_sync_to_async(lambda: UserFactory.create_batch(3))()
    await database_sync_to_async(seat)(space, cohost, Role.COHOST)
    await database_sync_to_async(seat)(space, speaker, Role.SPEAKER)
    told = {}
    for user in (host, cohost, speaker, listener):
        socket, welcome = await joined(user, space.pk)
        told[welcome["me"]["role"]] = (welcome["can"], welcome["can_target"])
        await socket.disconnect()

    assert told["listener"] == (LISTENING, NOBODY)
    assert told["speaker"] == (sorted([*ON_STAGE, "step_down"]), NOBODY)
    assert told["cohost"] == (
        sorted([*ON_STAGE, *MANAGING, "step_down"]),
        {
            "host": ["decline"],
            "cohost": ["decline", "mute"],
            "speaker": ["decline", "make_listener", "mute", "remove"],
            "listener": ["approve", "decline", "invite", "remove"],
        },
    )
    assert told["host"] == (
        sorted([*ON_STAGE, *MANAGING, "add_cohost", "end", "remove_cohost"]),
        {
            "host": ["decline", "mute"],
            "cohost": ["decline", "make_listener", "mute", "remove", "remove_cohost"],
            "speaker": ["add_cohost", "decline", "make_listener", "mute", "remove"],
            "listener": ["add_cohost", "approve", "decline", "invite", "remove"],
        },
    )


async def test_a_socket_is_told_its_new_permissions_on_promotion_and_demotion_and_not_on_a_mute():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    await listener_socket.send_json_to({"type": "raise_hand"})
    await next_of(host_socket, "hand")

    await host_socket.send_json_to({"type": "approve", "user_id": listener.pk})
    assert (await next_of(listener_socket, "role_changed"))["participant"]["role"] == Role.SPEAKER
    promoted = await listener_socket.receive_json_from(timeout=3)
    assert (promoted["type"], promoted["can"], promoted["can_target"]) == (
        "permissions",
        sorted([*ON_STAGE, "step_down"]),
        NOBODY,
    )

    # A change of mute state is a `role_changed` too, but the role and so what the socket may do stay.
    await listener_socket.send_json_to({"type": "unmute"})
    await next_matching(listener_socket, "role_changed", lambda e: not e["participant"]["muted"])
    await listener_socket.send_json_to({"type": "ping"})
    between = []
    while (event := await listener_socket.receive_json_from(timeout=3))["type"] != "pong":
        between.append(event["type"])
    assert "permissions" not in between

    await host_socket.send_json_to({"type": "make_listener", "user_id": listener.pk})
    assert (await next_of(listener_socket, "role_changed"))["participant"]["role"] == Role.LISTENER
    demoted = await listener_socket.receive_json_from(timeout=3)
    assert (demoted["type"], demoted["can"], demoted["can_target"]) == ("permissions", LISTENING, NOBODY)
    # What the list leaves out, the server refuses.
    await listener_socket.send_json_to({"type": "unmute"})
    assert (await next_of(listener_socket, "error"))["code"] == "forbidden"

    await listener_socket.disconnect()
    await host_socket.disconnect()
