"""A server process killed with SIGKILL (no disconnect handler runs): its people come back on the other process
keeping their roles, and presence, counts and the host-gone grace period are right after one sweep."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from rooms.models import Participant, Role, ServerProcess, Space
from rooms.selectors import room_snapshot
from rooms.tasks import end_abandoned_spaces
from tests.accounts.factories import UserFactory
from tests.faults.clients import RoomClient, Speaker, run_scenario, running, until
from tests.faults.conftest import LEASE_SECONDS, needs_deployed_services
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import session_cookie

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]

GRACE_SECONDS = 10  # longer than the lease plus a slow sweep, so the first sweep sees Space Y still live


def listener_count(space: Space) -> int:
    host = Participant.objects.select_related("user", "space").get(space=space, role=Role.HOST)
    return room_snapshot(space=space, me=host)["listener_count"]


def sweep() -> int:
    """The beat task, run on a thread of its own (it broadcasts through the channel layer), as beat would."""
    try:
        return end_abandoned_spaces()
    finally:
        connection.close()


def test_server_killed_its_people_come_back_and_counts_are_right_after_one_sweep(servers, settings):
    settings.SPACES_HOST_GRACE_SECONDS = GRACE_SECONDS
    doomed, survivor = servers
    addresses = [f"127.0.0.1:{server.port}" for server in servers]
    # Space X: its host comes back after the crash. Space Y: its host's laptop went with the server.
    host_x, host_y = make_host(), make_host()
    space_x, space_y = LiveSpaceFactory(host=host_x), LiveSpaceFactory(host=host_y)
    speaker = UserFactory()
    seat(space_x, speaker, Role.SPEAKER, muted=False)
    speaker_index = Participant.objects.get(user=speaker).speaker_index
    x_listeners, y_listeners = UserFactory.create_batch(4), UserFactory.create_batch(2)
    people = [host_x, host_y, speaker, *x_listeners, *y_listeners]
    cookies = {user.pk: session_cookie(user) for user in people}

    def client(user, space, first: int, kind=RoomClient, reconnect: bool = True) -> RoomClient:
        return kind(user.username, addresses, space.pk, cookies[user.pk], first=first, reconnect=reconnect)

    async def scenario() -> dict:
        on_doomed = [
            client(host_x, space_x, 0),
            client(speaker, space_x, 0, Speaker),
            *(client(user, space_x, 0) for user in x_listeners[:2]),
            client(y_listeners[0], space_y, 0),
        ]
        gone_host = client(host_y, space_y, 0, reconnect=False)
        on_survivor = [*(client(user, space_x, 1) for user in x_listeners[2:]), client(y_listeners[1], space_y, 1)]
        everyone = [*on_doomed, gone_host, *on_survivor]
        async with running(everyone):
            await until(lambda: all(c.live for c in everyone), 30, "everyone to be welcomed")
            hearing_x = [c for c in everyone if c.space_id == space_x.pk and not isinstance(c, Speaker)]
            await until(lambda: all(any(f[1] == speaker_index for f in c.frames) for c in hearing_x), 15, "audio")
            roles = {c.name: c.welcomes[-1][2]["me"]["role"] for c in everyone}

            killed_at, killed_wall = time.monotonic(), timezone.now()
            await asyncio.to_thread(doomed.kill)
            survivor_address = addresses[1]
            await until(
                lambda: all(c.live and c.server == survivor_address for c in on_doomed),
                10,
                "the killed server's people to be back on the other one",
            )
            back_s = max(c.welcomes[-1][0] for c in on_doomed) - killed_at
            roles_after = {c.name: c.welcomes[-1][2]["me"]["role"] for c in on_doomed}
            await until(
                lambda: all(any(f[0] > killed_at and f[1] == speaker_index for f in c.frames) for c in hearing_x),
                10,
                "audio again, relayed by the surviving server",
            )

            # One sweep once the dead server's lease has run out.
            await until(
                lambda: ServerProcess.objects.filter(
                    name__contains=f":{doomed.pid}:", expires_at__lte=timezone.now()
                ).exists(),
                LEASE_SECONDS + 5,
                "the killed server's lease to run out",
            )
            await asyncio.to_thread(sweep)
            space_y.refresh_from_db()
            space_x.refresh_from_db()
            figures = {
                "back_s": back_s,
                "count_x": listener_count(space_x),
                "true_x": len(x_listeners),
                "count_y": listener_count(space_y),
                "true_y": len(y_listeners),
                "host_left_at": space_y.host_left_at,
                "host_x_left_at": space_x.host_left_at,
                "killed_wall": killed_wall,
                "roles": roles,
                "roles_after": roles_after,
            }
            # The rooms hear that the host who went with the server left.
            await until(
                lambda: any(host_y.pk in e["left"] for c in on_survivor for e in c.events_of("presence", killed_at)),
                5,
                "presence: the gone host left",
            )
            # The grace period runs from when the host was last seen; the first sweep after it ends the Space.
            grace_over = space_y.host_left_at + timedelta(seconds=GRACE_SECONDS)
            await until(lambda: timezone.now() > grace_over, GRACE_SECONDS + 5, "the host's grace period to run out")
            figures["ended"] = await asyncio.to_thread(sweep)
            y_sockets = [c for c in everyone if c.space_id == space_y.pk and c is not gone_host]
            await until(lambda: all(c.final == 4410 for c in y_sockets), 5, "Space Y's sockets to close with 4410")
            figures["x_live"] = Space.objects.get(pk=space_x.pk).state == Space.State.LIVE
            return figures

    figures = run_scenario(scenario(), servers)
    print(
        f"\nFAULT server_kill: clients back on the other process {figures['back_s']:.2f} s after SIGKILL "
        f"(roles kept); after one sweep listener counts {figures['count_x']} vs true {figures['true_x']} and "
        f"{figures['count_y']} vs true {figures['true_y']}; host gone since "
        f"{(figures['killed_wall'] - figures['host_left_at']).total_seconds():.2f} s before the kill, "
        f"Space ended by the first sweep after the {GRACE_SECONDS} s grace"
    )
    assert figures["back_s"] <= 5
    assert figures["roles_after"] == {name: figures["roles"][name] for name in figures["roles_after"]}
    assert (figures["count_x"], figures["count_y"]) == (figures["true_x"], figures["true_y"])
    assert figures["host_x_left_at"] is None
    # Last seen at the dead server's last renewal: within one renewal period before the kill.
    assert timedelta(0) <= figures["killed_wall"] - figures["host_left_at"] <= timedelta(seconds=LEASE_SECONDS)
    assert figures["ended"] == 1
    assert figures["x_live"]
