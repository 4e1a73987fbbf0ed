"""Only ticket holders, the host, co-hosts and invited speakers get into a ticketed Space: page and socket."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from rooms import access
from rooms import services as room_services
from rooms.models import Invitation, Role, Space
from spaces_site.close_codes import CloseCode
from tests.accounts.factories import UserFactory
from tests.sockets import site_socket
from tests.ticketing.webhook_events import WEBHOOK_SECRET
from ticketing.models import Ticket
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .tickets_support import buy, paid_event, ticketed_space


def _live_ticketed_space(fake, post_event, buyer):
    offer = ticketed_space()
    post_event(paid_event(fake, buy(offer, buyer)))
    room_services.space_start(space=offer.space, by=offer.space.host)
    offer.space.refresh_from_db()
    return offer.space


@pytest.mark.django_db
def test_the_room_page_admits_ticket_holders_and_refuses_others_with_a_link_to_buy(
    provider, post_event, alice, bob, charlie
):
    space = _live_ticketed_space(provider, post_event, alice)
    Invitation.objects.create(space=space, user=charlie, role=Role.SPEAKER, invited_by=space.host)
    ticket_page = reverse("ticketing:space_tickets", kwargs={"space_id": space.pk})

    def room(user):
        client = Client()
        client.force_login(user)
        return client.get(space.get_absolute_url())

    assert room(alice).status_code == 200
    assert room(space.host).status_code == 200
    assert room(charlie).status_code == 200  # an invited speaker needs no ticket
    refused = room(bob)
    assert refused.status_code == 403
    body = refused.content.decode()
    assert "Only ticket holders can join this Space." in body
    assert f'href="{ticket_page}"' in body


@pytest.mark.django_db
def test_a_refunded_ticket_no_longer_admits(provider, post_event, alice):
    space = _live_ticketed_space(provider, post_event, alice)
    Ticket.objects.filter(buyer=alice).update(status=Ticket.Status.REFUNDED)
    decision = access.can_join(space=space, user=alice)
    assert not decision
    assert decision.code == CloseCode.FORBIDDEN
    assert decision.url == reverse("ticketing:space_tickets", kwargs={"space_id": space.pk})


@pytest.mark.django_db
def test_a_cohost_named_in_advance_is_admitted_without_a_ticket(provider, charlie, bob):
    offer = ticketed_space()
    space = offer.space
    room_services.cohost_add(space=space, by=space.host, user=charlie)
    room_services.space_start(space=space, by=space.host)
    space.refresh_from_db()
    assert access.can_join(space=space, user=charlie)
    assert not access.can_join(space=space, user=bob)


def test_other_audiences_are_not_gated_by_tickets(db, alice):
    from tests.rooms.factories import LiveSpaceFactory

    space = LiveSpaceFactory(audience=Space.Audience.PUBLIC)
    assert access.can_join(space=space, user=alice)


# --- The websocket, through the project's ASGI application (session cookie, origin check) -----------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_people_without_a_ticket_with_4403_and_admits_holders(provider, settings):
    # The webhook's task runs in this process (conftest); posting happens off the event loop.
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")

    def set_up() -> Space:
        offer = ticketed_space()
        body = paid_event(provider, buy(offer, alice))
        response = Client().post(
            reverse("ticketing:stripe_webhook"),
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign_webhook(body, WEBHOOK_SECRET),
        )
        assert response.status_code == 200
        return room_services.space_start(space=offer.space, by=offer.space.host)

    space = await database_sync_to_async(set_up)()

    refused = await site_socket(bob, space.pk)
    error = await refused.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "refused"
    assert error["close_code"] == CloseCode.FORBIDDEN
    assert f"/money/spaces/{space.pk}/tickets/" in error["message"]
    assert (await refused.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}

    holder = await site_socket(alice, space.pk)
    welcome = await holder.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome"
    await holder.disconnect()
