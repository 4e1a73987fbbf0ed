"""The room socket's limits: sockets per account, the speaker byte rate, shared rate limits, blocks."""

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from accounts.models import Notification
from rooms import media
from spaces_site import ratelimit
from tests.accounts.factories import UserFactory
from tests.rooms.test_consumers import make_live_space
from tests.sockets import WAIT, closed_with, joined, next_of, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_batches(settings):
    settings.SPACES_REACTION_FLUSH_MS = 20


async def test_opening_more_sockets_than_allowed_closes_the_oldest_with_4406(settings):
    settings.SPACES_MAX_SOCKETS_PER_ACCOUNT = 2
    space = await database_sync_to_async(make_live_space)()
    listener, other = await database_sync_to_async(lambda: UserFactory.create_batch(2))()
    first, _ = await joined(listener, space.pk)
    second, _ = await joined(listener, space.pk)
    third, _ = await joined(listener, space.pk)
    told = await next_of(first, "error")
    assert (told["code"], told["close_code"]) == ("refused", 4406)
    assert "too many of your tabs" in told["message"]
    assert await closed_with(first) == 4406
    for still_open in (second, third):
        await still_open.send_json_to({"type": "ping"})
        assert (await next_of(still_open, "pong"))["type"] == "pong"
    # Someone else is not affected by this account's sockets.
    theirs, welcome = await joined(other, space.pk)
    assert welcome["me"]["user_id"] == other.pk
    for socket in (second, third, theirs):
        await socket.disconnect()


async def test_closed_sockets_free_their_place(settings):
    settings.SPACES_MAX_SOCKETS_PER_ACCOUNT = 2
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    for _ in range(4):  # one tab reloaded again and again: each socket closes before the next opens
        socket, _ = await joined(listener, space.pk)
        await socket.disconnect()
    kept, _ = await joined(listener, space.pk)
    also, _ = await joined(listener, space.pk)
    await kept.send_json_to({"type": "ping"})
    assert (await next_of(kept, "pong"))["type"] == "pong", "two open sockets are within the cap"
    await kept.disconnect()
    await also.disconnect()


def audio_frame(seq: int, size: int) -> bytes:
    payload = b"\x00" * (size - media.HEADER_BYTES)
    return media.pack_frame(1, stream=1, sequence=seq, captured_ms=1234.5, payload=payload)


async def test_a_speaker_pushing_more_than_64000_bytes_a_second_is_closed_with_4429():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    speaker_socket, welcome = await joined(host, space.pk)
    assert welcome["me"]["role"] == "host"
    for seq in range(200):  # 200 frames of 4,096 bytes at once: 800 kB against a 64 kB burst and 64 kB/s
        await speaker_socket.send_to(bytes_data=audio_frame(seq, 4096))
    refused = await next_of(speaker_socket, "error", skip_audio=True)
    assert (refused["code"], refused["close_code"]) == ("refused", 4429)
    assert "64,000 bytes" in refused["message"]
    assert await closed_with(speaker_socket) == 4429


async def test_a_speaker_at_the_real_rate_stays_connected():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    speaker_socket, _ = await joined(host, space.pk)
    for seq in range(50):  # a second of Opus at ~32 kbps, sent at once
        await speaker_socket.send_to(bytes_data=audio_frame(seq, 93))
    await speaker_socket.send_json_to({"type": "ping"})
    assert (await next_of(speaker_socket, "pong", skip_audio=True))["type"] == "pong"
    await speaker_socket.disconnect()


async def test_reactions_are_limited_per_person_across_server_processes(settings):
    settings.SPACES_REACTIONS_PER_10S = 3
    space = await database_sync_to_async(make_live_space)()
    listener = await database_sync_to_async(UserFactory)()
    socket, _ = await joined(listener, space.pk)
    # Another server process (anything sharing the cache) took the person's three reactions.
    for _ in range(3):
        assert await ratelimit.aallowed("react", listener.pk, rate=(3, 10))
    await socket.send_json_to({"type": "react", "emoji": "🔥"})
    refused = await next_of(socket, "error")
    assert (refused["code"], refused["ref"]) == ("rate_limited", "react")
    assert refused["message"] == "You're reacting too fast."
    await socket.disconnect()


async def test_invitations_over_the_socket_are_rate_limited(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "invite": (2, 600)}
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    people = await database_sync_to_async(lambda: UserFactory.create_batch(3))()
    host_socket, _ = await joined(host, space.pk)
    for person in people[:2]:
        await host_socket.send_json_to({"type": "invite", "user_id": person.pk})
        assert (await next_of(host_socket, "invited"))["user_id"] == person.pk
    await host_socket.send_json_to({"type": "invite", "user_id": people[2].pk})
    refused = await next_of(host_socket, "error")
    assert (refused["code"], refused["ref"]) == ("rate_limited", "invite")
    assert refused["message"].startswith("You're sending invitations too fast. Try again in")
    invited = await database_sync_to_async(
        lambda: Notification.objects.filter(kind=Notification.Kind.SPACE_INVITE).count()
    )()
    assert invited == 2
    await host_socket.disconnect()


async def test_inviting_one_person_again_and_again_is_refused():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    target = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    for _ in range(3):
        await host_socket.send_json_to({"type": "invite", "user_id": target.pk})
        await next_of(host_socket, "invited")
    await host_socket.send_json_to({"type": "invite", "user_id": target.pk})
    refused = await next_of(host_socket, "error")
    assert refused["code"] == "rate_limited" and "invited this person several times" in refused["message"]
    count = await database_sync_to_async(lambda: Notification.objects.filter(recipient=target).count())()
    assert count == 3
    await host_socket.disconnect()


async def test_an_invitation_to_someone_who_blocked_the_host_is_refused():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    target = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(account_services.block_create)(blocker=target, blocked=host)
    host_socket, _ = await joined(host, space.pk)
    for _ in range(20):
        await host_socket.send_json_to({"type": "invite", "user_id": target.pk, "by_dm": True})
    refused = await next_of(host_socket, "error")
    assert (refused["code"], refused["message"]) == ("invalid", f"You can't invite @{target.username}.")
    count = await database_sync_to_async(lambda: Notification.objects.filter(recipient=target).count())()
    assert count == 0
    await host_socket.disconnect()


async def test_a_hosts_block_removes_a_listener_at_once():
    space = await database_sync_to_async(make_live_space)()
    host = await database_sync_to_async(lambda: space.host)()
    listener = await database_sync_to_async(UserFactory)()
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    await database_sync_to_async(account_services.block_create)(blocker=host, blocked=listener)
    assert (await next_of(listener_socket, "removed"))["user_id"] == listener.pk
    assert await closed_with(listener_socket) == 4403
    assert (await next_of(host_socket, "removed"))["user_id"] == listener.pk
    again = await open_socket(listener, space.pk)
    refusal = await again.receive_json_from(timeout=WAIT)
    assert (refusal["type"], refusal["close_code"]) == ("error", 4403)
    await host_socket.disconnect()
