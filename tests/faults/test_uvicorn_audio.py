"""The live audio under uvicorn, as large Spaces are served (each message framed once for all of a process's
listeners, rooms/encode_once.py): listeners on both processes hear every frame once and in order, one whose
player stops acknowledging is shed with 4408 while the others hear on, and the stage is never shed."""

from __future__ import annotations

import time

import pytest

from rooms.models import Participant, Role
from spaces_site.close_codes import CloseCode
from tests.accounts.factories import UserFactory
from tests.faults.clients import RoomClient, Speaker, run_scenario, running, until
from tests.faults.conftest import needs_deployed_services
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import session_cookie

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]


def heard(client: RoomClient, speaker_index: int, since: float = 0.0) -> list[int]:
    return [sequence for at, index, sequence in client.frames if index == speaker_index and at >= since]


def test_listeners_on_both_uvicorn_processes_hear_every_frame_in_order_and_only_a_stalled_listener_is_shed(
    uvicorn_servers,
):
    host = make_host()
    space = LiveSpaceFactory(host=host)
    speaker = UserFactory()
    seat(space, speaker, Role.SPEAKER, muted=False)
    speaker_index = Participant.objects.get(user=speaker).speaker_index
    listeners, stalled = UserFactory.create_batch(4), UserFactory()
    cookies = {user.pk: session_cookie(user) for user in [host, speaker, *listeners, stalled]}
    addresses = [f"127.0.0.1:{server.port}" for server in uvicorn_servers]

    def client(user, first: int, kind=RoomClient, acks: bool = True) -> RoomClient:
        return kind(user.username, addresses, space.pk, cookies[user.pk], first=first, reconnect=False, acks=acks)

    async def scenario() -> dict:
        # The host and the speaker acknowledge nothing either: the stage skips what it cannot play, never leaves.
        host_c = client(host, 0, acks=False)
        speaker_c = client(speaker, 0, Speaker, acks=False)
        hearing = [client(user, i % 2) for i, user in enumerate(listeners)]
        stalled_c = client(stalled, 1, acks=False)
        everyone = [host_c, speaker_c, *hearing, stalled_c]
        async with running(everyone):
            await until(lambda: all(c.live for c in everyone), 30, "everyone to be welcomed")
            await until(lambda: all(heard(c, speaker_index) for c in [host_c, *hearing]), 15, "audio to flow")
            await until(lambda: stalled_c.final is not None, 10, "the stalled listener to be shed")
            shed_at = time.monotonic()
            await until(
                lambda: all(len(heard(c, speaker_index, shed_at)) >= 50 for c in [host_c, *hearing]),
                10,
                "a second more of audio for everyone else",
            )
            return {
                "stalled_close": stalled_c.final,
                "stage_closes": host_c.closes + speaker_c.closes,
                "sequences": {c.name: heard(c, speaker_index) for c in [host_c, *hearing]},
                "listener_closes": [list(c.closes) for c in hearing],
            }

    figures = run_scenario(scenario(), uvicorn_servers)
    assert figures["stalled_close"] == CloseCode.SLOW_LISTENER
    assert figures["stage_closes"] == [] and figures["listener_closes"] == [[]] * len(listeners)
    for name, sequences in figures["sequences"].items():
        first = sequences[0]
        assert sequences == list(range(first, first + len(sequences))), f"{name} missed or repeated frames"
