"""Admission follows the relay: a process whose loop runs late lets nobody more in, then sends its newest
listeners back to the front of the line, never the stage, and lets them in again, playing, once it is on time."""

import asyncio
import contextlib
import time

import pytest
from channels.db import database_sync_to_async

from rooms import admission, loop_lag
from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.test_admission import in_line, live_space_with_host
from tests.rooms.test_consumers import frame
from tests.sockets import joined, next_audio, next_matching, next_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

LATE = 0.5  # seconds: a median far past SPACES_RELAY_LATE_MS
ON_TIME = 0.001


@pytest.fixture(autouse=True)
def small_process(settings):
    """A process with room for three sockets (so at least one), told of the line every second."""
    settings.SPACES_LISTENERS_PER_PROCESS = 3
    settings.SPACES_WAITING_UPDATE_SECONDS = 1
    settings.SPACES_RELAY_LATE_MS = 100


@pytest.fixture(autouse=True)
def relay_seconds_from_the_test(monkeypatch):
    """The test says how late each second was (the loop's own watch is tested on its own, below)."""
    real_watch = loop_lag.watch

    async def told_only(on_second):
        await asyncio.Event().wait()

    monkeypatch.setattr(admission.loop_lag, "watch", told_only)
    return real_watch


async def received_for(communicator, seconds: float) -> list[dict]:
    """Everything the socket gets for `seconds` (a communicator's own timeout would end the socket)."""
    received, until = [], time.monotonic() + seconds
    while time.monotonic() < until:
        if not await communicator.receive_nothing(timeout=0.05):
            received.append(await communicator.receive_output())
    return received


async def late_for(gate, seconds: int) -> None:
    for _ in range(seconds):
        gate.relay_second(LATE)
        await asyncio.sleep(0.01)  # (seconds apart: whatever a second set going starts before the next)


async def hear(speaker, sequence: int, *listeners) -> list[bytes]:
    """What each listener gets of one frame the speaker sends (the relay's speaker index byte dropped)."""
    await speaker.send_to(bytes_data=frame(sequence))
    return [(await next_audio(listener))[1:] for listener in listeners]


async def test_a_late_relay_sends_the_newest_listener_back_in_line_and_lets_them_in_again_once_on_time():
    space, host = await live_space_with_host()
    older, newest, arriving = [await database_sync_to_async(UserFactory)() for _ in range(3)]
    host_socket, _ = await joined(host, space.pk)
    older_socket, _ = await joined(older, space.pk)
    newest_socket, _ = await joined(newest, space.pk)
    # Both are listening before the relay falls behind.
    assert await hear(host_socket, 1, older_socket, newest_socket) == [frame(1)] * 2
    gate = admission.gate()

    await late_for(gate, 1)  # a late second: nobody more gets in, nobody is sent out yet
    assert gate.capacity == 3
    await late_for(gate, admission.LATE_SECONDS_TO_SHED - 1)

    waiting = await next_of(newest_socket, "waiting", skip_audio=True)
    assert (waiting["position"], waiting["sent_back"], gate.capacity) == (1, True, 2)
    # Out of the room: no row of theirs is connected, and the others are told they left.
    await next_matching(host_socket, "presence", lambda event: newest.pk in event["left"], skip_audio=True)
    connected = Participant.objects.filter(space=space, user=newest, sockets__isnull=False)
    assert not await database_sync_to_async(connected.exists)()
    # The older listener keeps hearing every frame; the one in line hears nothing.
    assert await hear(host_socket, 2, older_socket) == [frame(2)]
    assert not [out for out in await received_for(newest_socket, 0.5) if out.get("bytes")]
    # Someone arriving now waits behind them.
    arriving_socket, behind = await in_line(arriving, space.pk)
    assert behind["position"] == 2

    gate.relay_second(ON_TIME)  # on time again: a place comes back, to the first in line
    welcome = await next_of(newest_socket, "welcome", skip_audio=True)
    assert welcome["me"]["role"] == Role.LISTENER
    assert await hear(host_socket, 3, older_socket, newest_socket) == [frame(3)] * 2
    assert not [out for out in await received_for(arriving_socket, 0.5) if '"welcome"' in (out.get("text") or "")]
    for socket in (host_socket, older_socket, newest_socket, arriving_socket):
        await socket.disconnect()


async def test_the_stage_is_never_sent_back_in_line_however_late_the_relay(settings):
    settings.SPACES_LISTENERS_PER_PROCESS = 2  # one place at the floor: only the listener can go
    space, host = await live_space_with_host()
    listener, speaker = [await database_sync_to_async(UserFactory)() for _ in range(2)]
    await database_sync_to_async(seat)(space, speaker, Role.SPEAKER)
    host_socket, _ = await joined(host, space.pk)
    listener_socket, _ = await joined(listener, space.pk)
    speaker_socket, _ = await joined(speaker, space.pk)  # the newest socket, on the stage past the capacity
    gate = admission.gate()

    await late_for(gate, 3 * admission.LATE_SECONDS_TO_SHED)

    await next_of(listener_socket, "waiting", skip_audio=True)
    assert gate.capacity == 1
    # The host and the speaker stay in the room, on the relay.
    assert await hear(speaker_socket, 1, host_socket, speaker_socket) == [frame(1)] * 2
    for socket in (host_socket, listener_socket, speaker_socket):
        with contextlib.suppress(Exception):
            await socket.disconnect()


async def test_a_listener_who_closes_as_they_are_sent_back_is_not_left_in_line():
    space, host = await live_space_with_host()
    older, newest = [await database_sync_to_async(UserFactory)() for _ in range(2)]
    host_socket, _ = await joined(host, space.pk)
    older_socket, _ = await joined(older, space.pk)
    newest_socket, _ = await joined(newest, space.pk)
    gate = admission.gate()

    await late_for(gate, admission.LATE_SECONDS_TO_SHED)
    await newest_socket.disconnect()  # closes while its way back into line runs
    await asyncio.sleep(0.3)

    assert gate.line == {}
    assert len(gate.held) == 2
    for socket in (host_socket, older_socket):
        await socket.disconnect()


async def test_the_loop_reports_its_lateness_once_a_second(relay_seconds_from_the_test):
    seconds: list[float] = []

    async def busy():
        while True:
            time.sleep(0.2)  # work that keeps the loop from its timers
            await asyncio.sleep(0)

    watch = asyncio.ensure_future(relay_seconds_from_the_test(seconds.append))
    while not seconds:
        await asyncio.sleep(0.05)
    on_time = seconds[0]
    hog = asyncio.ensure_future(busy())
    while len(seconds) < 2:
        await asyncio.sleep(0.05)
    hog.cancel()
    watch.cancel()
    assert on_time < 0.05
    assert seconds[1] >= 0.15
