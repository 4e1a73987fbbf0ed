"""A paid tip reaches the host's open pages and, when announced, everyone in the Space, over real sockets."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.test import Client
from django.urls import reverse

from rooms.events import broadcast
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory
from tests.sockets import joined, me_socket, next_of
from tests.ticketing.webhook_events import WEBHOOK_SECRET, tip_checkout_event
from ticketing.models import Tip
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import make_creator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def in_process_channel_layer(settings):
    """The in-memory layer, in both modes: with channels_redis, the room fan-out's receive left pending
    by the test before can't be cancelled when pytest-asyncio closes the loop, and the run hangs. The
    Redis path (Daphne, the channel layer, the pages) is covered by test_tips_browser.py."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def _tip_in_live_space(*, announce: bool) -> Tip:
    host = make_creator("dana")
    space = LiveSpaceFactory(host=host, title="Late night jazz")
    tipper = UserFactory(username="alice", display_name="Alice")
    return Tip.objects.create(
        space=space,
        tipper=tipper,
        host=host,
        amount_cents=1_200,
        application_fee_cents=36,
        announce=announce,
        stripe_checkout_session_id="cs_test_live_tip",
    )


def _pay(tip: Tip) -> int:
    """Post Stripe's signed checkout.session.completed for the tip, as Stripe would."""
    body = tip_checkout_event(tip)
    response = Client().post(
        reverse("ticketing:stripe_webhook"),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_webhook(body, WEBHOOK_SECRET),
    )
    return response.status_code


async def test_an_announced_tip_is_shown_to_everyone_in_the_space_and_to_the_host():
    tip = await database_sync_to_async(_tip_in_live_space)(announce=True)
    listener = await database_sync_to_async(UserFactory)(username="bob")
    room, _ = await joined(listener, tip.space_id)
    host_me = await me_socket(tip.host)

    assert await database_sync_to_async(_pay)(tip) == 200

    shown = await next_of(room, "tip")
    assert shown == {
        "type": "tip",
        "tip": str(tip.reference),
        "amount_cents": 1_200,
        "amount": "$12.00",
        "from": {"user_id": tip.tipper_id, "username": "alice", "name": "Alice"},
        "space_id": tip.space_id,
        "announced": True,
    }
    # The in-app notification updates the host's bell, then the tip itself arrives.
    assert (await next_of(host_me, "notification"))["unread"] == 1
    assert (await next_of(host_me, "tip"))["tip"] == str(tip.reference)
    await room.disconnect()
    await host_me.disconnect()


async def test_an_unannounced_tip_reaches_only_the_host():
    tip = await database_sync_to_async(_tip_in_live_space)(announce=False)
    listener = await database_sync_to_async(UserFactory)(username="bob")
    room, _ = await joined(listener, tip.space_id)
    host_me = await me_socket(tip.host)

    assert await database_sync_to_async(_pay)(tip) == 200

    private = await next_of(host_me, "tip")
    assert (private["amount"], private["announced"]) == ("$12.00", False)
    # A later event on the same path arrives after anything the payment sent to the Space: no tip before it.
    await database_sync_to_async(broadcast)(tip.space_id, {"type": "marker"})
    while (event := await room.receive_json_from(timeout=3))["type"] not in ("tip", "marker"):
        pass
    assert event == {"type": "marker"}
    await room.disconnect()
    await host_me.disconnect()
