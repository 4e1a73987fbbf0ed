import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from accounts import services
from spaces_site.close_codes import CloseCode
from tests.accounts.factories import UserFactory
from tests.sockets import WAIT, me_application, me_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_anonymous_socket_is_closed_with_documented_code():
    communicator = WebsocketCommunicator(me_application, "/ws/me/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect(timeout=WAIT)
    assert not connected and code == CloseCode.UNAUTHENTICATED


async def test_new_follower_updates_the_bell_live():
    alice, bob = await sync_to_async(UserFactory.create_batch)(2)
    communicator = await me_socket(bob)
    await sync_to_async(services.follow_create)(follower=alice, followee=bob)
    event = await communicator.receive_json_from(timeout=5)
    assert event == {"type": "notification", "unread": 1}
    await communicator.disconnect()


async def test_a_direct_message_reaches_the_recipient_live():
    alice, bob = await sync_to_async(UserFactory.create_batch)(2)
    communicator = await me_socket(bob)
    message = await sync_to_async(services.message_send)(sender=alice, recipient=bob, body="psst")
    assert await communicator.receive_json_from(timeout=5) == {
        "type": "message",
        "conversation": message.conversation_id,
        "message": message.pk,
    }
    await communicator.disconnect()


async def test_messages_sent_to_the_socket_get_an_error_event():
    bob = await sync_to_async(UserFactory)()
    communicator = await me_socket(bob)
    await communicator.send_json_to({"type": "hello"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
    await communicator.disconnect()


async def test_a_socket_opens_and_hears_its_events_while_channels_database_thread_is_busy():
    """In a storm of joins that thread reads every handshake's session; a socket's own messages never wait for
    it (spaces_site/dispatch.py)."""
    alice, bob = await sync_to_async(UserFactory.create_batch)(2)
    busy, release = threading.Event(), threading.Event()

    def hold_the_thread() -> None:
        busy.set()
        release.wait(WAIT * 2)

    holder = asyncio.ensure_future(database_sync_to_async(hold_the_thread)())
    try:
        assert await asyncio.to_thread(busy.wait, WAIT)
        communicator = await me_socket(bob)
        await sync_to_async(services.follow_create, thread_sensitive=False)(follower=alice, followee=bob)
        assert await communicator.receive_json_from(timeout=WAIT) == {"type": "notification", "unread": 1}
        await communicator.disconnect()
    finally:
        release.set()
        await holder


async def test_a_suspended_accounts_open_socket_is_closed_and_hears_nothing_more():
    sam, staff, alice = await sync_to_async(UserFactory.create_batch)(3)
    staff.is_staff = True
    communicator = await me_socket(sam)
    await sync_to_async(services.account_suspend)(user=sam, by=staff)
    assert await communicator.receive_output(timeout=WAIT) == {
        "type": "websocket.close",
        "code": CloseCode.UNAUTHENTICATED,
    }
    # What happens after it reaches no page of theirs.
    await sync_to_async(services.follow_create)(follower=alice, followee=sam)
    assert await communicator.receive_nothing(timeout=0.5)
