"""300 listeners' sockets close at once (a network drop for half of them, a tab closed for the others): nobody
stays counted."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from rooms import selectors
from rooms.models import Role, RoomSocket
from tests.accounts.factories import UserFactory
from tests.faults.clients import RoomClient, run_scenario, running, until
from tests.faults.conftest import needs_deployed_services
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]

LISTENERS = 300


def cookie_for(user, settings) -> str:
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
    )
    session.create()
    return f"sessionid={session.session_key}"


def test_three_hundred_sockets_closing_at_once_leave_nobody_counted(servers, settings):
    space = LiveSpaceFactory(host=make_host())
    users = UserFactory.create_batch(LISTENERS)
    cookies = [cookie_for(user, settings) for user in users]
    addresses = [f"127.0.0.1:{server.port}" for server in servers]

    def counted() -> int:
        # The rows, counted exactly (below the broadcast threshold): a welcome's count of a Space bigger than its
        # listener list comes from the servers' headcount, in the servers' private Redis, not this process's.
        return selectors.listener_count(space=space, speakers=selectors.stage_present(space=space))

    async def scenario() -> dict:
        clients = [RoomClient(f"l{i}", addresses, space.pk, cookie, first=i % 2) for i, cookie in enumerate(cookies)]
        started = []
        async with running(started):
            # Joined in waves, as people arrive; what is under test is the leaving.
            for wave in range(0, LISTENERS, 25):
                for c in clients[wave : wave + 25]:
                    started.append(c)
                    c.start()
                await until(lambda: all(c.live for c in started), 60, f"listeners {wave}-{wave + 24} to be welcomed")
            for c in clients:
                c.reconnect = False
            before = counted()
            closed_at = time.monotonic()
            for i, c in enumerate(clients):
                if i % 2:
                    c.socket.transport.abort()  # the network drops: no closing handshake
                else:
                    asyncio.get_running_loop().create_task(c.socket.close())
            await until(
                lambda: (
                    not RoomSocket.objects.filter(participant__space=space)
                    .exclude(participant__role=Role.HOST)
                    .exists()
                ),
                60,
                "every closed socket to be recorded",
            )
            return {"before": before, "after": counted(), "seconds": time.monotonic() - closed_at}

    figures = run_scenario(scenario(), servers)
    print(
        f"\nFAULT mass_close: {LISTENERS} sockets closed at once; listener count {figures['before']} before, "
        f"{figures['after']} after (true 0), recorded in {figures['seconds']:.2f} s"
    )
    assert figures["before"] == LISTENERS
    assert figures["after"] == 0
