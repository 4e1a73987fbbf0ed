"""Redis stops answering for a moment mid-Space (a pause, not a restart: its connections stay open): the
speaker's socket never waits for it, and the audio it sent meanwhile reaches the listeners on the other server
process once Redis answers again, every frame and in order."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.faults.clients import RoomClient, Speaker, run_scenario, running, until
from tests.faults.conftest import LEASE_SECONDS, needs_deployed_services
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import session_cookie

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]


def test_a_speakers_socket_answers_while_redis_stalls_and_the_listeners_then_hear_every_frame_in_order(
    servers, fault_redis
):
    host = make_host()
    space = LiveSpaceFactory(host=host)
    speaker = UserFactory()
    seat(space, speaker, Role.SPEAKER, muted=False)
    speaker_index = Participant.objects.get(user=speaker).speaker_index
    listener = UserFactory()
    cookies = {user.pk: session_cookie(user) for user in [host, speaker, listener]}
    addresses = [f"127.0.0.1:{server.port}" for server in servers]

    def client(user, first: int, kind=RoomClient) -> RoomClient:
        return kind(user.username, addresses, space.pk, cookies[user.pk], first=first, reconnect=False)

    def heard(c: RoomClient) -> list[int]:
        return [sequence for _, index, sequence in c.frames if index == speaker_index]

    async def scenario() -> dict:
        speaker_c = client(speaker, 0, Speaker)  # on the first server; everyone else hears it through Redis
        hearing = [client(host, 1), client(listener, 1)]
        everyone = [speaker_c, *hearing]
        async with running(everyone):
            await until(lambda: all(c.live for c in everyone), 30, "everyone to be welcomed")
            await until(lambda: all(heard(c) for c in hearing), 15, "audio to flow")

            os.kill(fault_redis.pid, signal.SIGSTOP)
            stalled_at = time.monotonic()
            try:
                sent_before = speaker_c.sequence
                # Frames that can go nowhere first; then a ping behind them.
                await until(lambda: speaker_c.sequence >= sent_before + 5, 5, "more audio sent")
                await speaker_c.send({"type": "ping"})
                # Well inside the socket lease, so that nobody's presence lapses while Redis is paused.
                await until(lambda: speaker_c.events_of("pong", stalled_at), LEASE_SECONDS / 2, "the speaker's pong")
                answered_in = time.monotonic() - stalled_at
                await until(lambda: speaker_c.sequence >= sent_before + 25, 5, "half a second more of audio sent")
                sent_while_stalled = speaker_c.sequence
            finally:
                os.kill(fault_redis.pid, signal.SIGCONT)
            await until(
                lambda: all(max(heard(c)) >= sent_while_stalled for c in hearing), 10, "the stalled audio to arrive"
            )
            return {
                "answered_in": answered_in,
                "sent_before": sent_before,
                "sent_while_stalled": sent_while_stalled,
                "heard": {c.name: heard(c) for c in hearing},
                "closes": [list(c.closes) for c in everyone],
            }

    figures = run_scenario(scenario(), servers)
    assert figures["answered_in"] < LEASE_SECONDS / 2
    assert figures["closes"] == [[]] * 3
    for name, sequences in figures["heard"].items():
        first = sequences[0]
        assert sequences == list(range(first, first + len(sequences))), f"{name} missed or repeated frames"
        assert first <= figures["sent_before"] and sequences[-1] >= figures["sent_while_stalled"]
