"""End to end over a real Daphne: a dropped connection reconnects and keeps its role."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from rooms.models import Participant, Role, Space
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import session_cookie


async def welcome(address: str, space_id: int, cookie: str):
    socket = await connect(
        f"ws://{address}/ws/spaces/{space_id}/",
        additional_headers={"Cookie": cookie},
        origin=f"http://{address}",
    )
    while True:
        event = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if event["type"] == "welcome":
            return socket, event


@pytest.mark.django_db(transaction=True)
def test_network_drop_reconnects_with_the_same_role_and_slot(live_daphne):
    host = make_host()
    space = LiveSpaceFactory(host=host)
    speaker = UserFactory()
    seat(space, speaker, Role.SPEAKER)
    speaker_cookie = session_cookie(speaker)
    host_cookie = session_cookie(host)

    async def scenario():
        socket, first = await welcome(live_daphne, space.pk, speaker_cookie)
        socket.transport.abort()  # a network drop: no closing handshake
        await asyncio.wait_for(socket.wait_closed(), 10)
        again, second = await welcome(live_daphne, space.pk, speaker_cookie)
        host_socket, _ = await welcome(live_daphne, space.pk, host_cookie)
        host_socket.transport.abort()
        await asyncio.wait_for(host_socket.wait_closed(), 10)
        host_again, host_welcome = await welcome(live_daphne, space.pk, host_cookie)
        await again.close()
        await host_again.close()
        return first, second, host_welcome

    first, second, host_welcome = asyncio.run(scenario())
    assert first["me"]["role"] == second["me"]["role"] == Role.SPEAKER
    assert first["me"]["speaker_index"] == second["me"]["speaker_index"] is not None
    assert host_welcome["me"]["role"] == Role.HOST
    space.refresh_from_db()
    assert space.state == Space.State.LIVE


@pytest.mark.django_db(transaction=True)
def test_removed_listener_reconnecting_to_daphne_is_closed_with_4403(live_daphne):
    host = make_host()
    space = LiveSpaceFactory(host=host)
    listener = UserFactory()
    seat(space, listener)
    Participant.objects.filter(user=listener).update(removed_at=space.started_at)
    cookie = session_cookie(listener)

    async def scenario():
        socket = await connect(
            f"ws://{live_daphne}/ws/spaces/{space.pk}/",
            additional_headers={"Cookie": cookie},
            origin=f"http://{live_daphne}",
        )
        refusal = json.loads(await asyncio.wait_for(socket.recv(), 10))
        await asyncio.wait_for(socket.wait_closed(), 10)
        return refusal, socket.close_code

    refusal, code = asyncio.run(scenario())
    assert (refusal["type"], refusal["close_code"], code) == ("error", 4403, 4403)
