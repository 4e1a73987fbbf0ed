"""Admission under overload over the room socket: past a process's capacity or join rate, listeners wait in a
visible line and are let in, first in first out, as places free; the stage never waits; the hosts see the line."""

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from rooms import admission, headcount, services
from rooms.models import Invitation, Participant, Role, RoomSocket
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.test_consumers import make_live_space
from tests.sockets import joined, next_matching, next_of, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def small_process(settings):
    """A process with room for two sockets, told of the line every second."""
    settings.SPACES_LISTENERS_PER_PROCESS = 2
    settings.SPACES_WAITING_UPDATE_SECONDS = 1
    settings.SPACES_REACTION_FLUSH_MS = 20


async def in_line(user, space_id: int):
    """Open a socket that the process has no place for: its first message says where it is in line."""
    communicator = await open_socket(user, space_id)
    waiting = await communicator.receive_json_from(timeout=3)
    assert waiting["type"] == "waiting", waiting
    return communicator, waiting


async def live_space_with_host():
    space = await database_sync_to_async(make_live_space)()
    headcount.forget(space.pk)
    # Ids come round again between tests on SQLite: no line a test before left in the cache counts here.
    await asyncio.to_thread(cache.delete, admission._members_key(space.pk))
    host = await database_sync_to_async(lambda: space.host)()
    return space, host


async def users(n: int) -> list:
    return [await database_sync_to_async(UserFactory)() for _ in range(n)]


async def test_listeners_past_the_capacity_wait_in_line_and_are_let_in_in_order_as_others_leave():
    space, host = await live_space_with_host()
    first, second, third = await users(3)
    host_socket, _ = await joined(host, space.pk)
    first_socket, _ = await joined(first, space.pk)

    second_socket, waiting = await in_line(second, space.pk)
    assert (waiting["position"], waiting["seconds"]) == (1, None)  # full, and nobody has left yet to time it
    third_socket, waiting = await in_line(third, space.pk)
    assert waiting["position"] == 2

    await first_socket.disconnect()
    welcome = await next_of(second_socket, "welcome")
    assert welcome["me"]["user_id"] == second.pk
    # One place freed, one let in: the third still waits, now first in line, with a wait timed by that leave.
    waiting = await next_of(third_socket, "waiting")
    assert waiting["position"] == 1
    assert waiting["seconds"] is not None and waiting["seconds"] > 0

    await second_socket.disconnect()
    welcome = await next_of(third_socket, "welcome")
    assert welcome["me"]["user_id"] == third.pk
    assert await database_sync_to_async(RoomSocket.objects.filter(participant__space=space).count)() == 2
    for communicator in (host_socket, third_socket):
        await communicator.disconnect()


async def full_with_one_in_line():
    """The host and a listener inside, the process full, and a third person first in line."""
    space, host = await live_space_with_host()
    first, waiting = await users(2)
    host_socket, _ = await joined(host, space.pk)
    first_socket, _ = await joined(first, space.pk)
    line_socket, told = await in_line(waiting, space.pk)
    return space, host, (host_socket, first_socket, line_socket), waiting, told


async def test_a_full_process_that_nobody_leaves_tells_its_line_nothing_new():
    _space, _host, (host_socket, first_socket, patient_socket), patient, waiting = await full_with_one_in_line()
    assert (waiting["position"], waiting["seconds"]) == (1, None)

    for _ in range(3):  # the updates of three seconds: the same place, the same unknown wait
        await admission.gate().update()
    assert await patient_socket.receive_nothing(timeout=0.2)

    await first_socket.disconnect()
    assert (await next_of(patient_socket, "welcome"))["me"]["user_id"] == patient.pk
    for communicator in (host_socket, patient_socket):
        await communicator.disconnect()


@pytest.mark.parametrize("how", ["closed by the client", "cancelled by the server"])
async def test_a_listener_who_leaves_the_line_is_never_counted_and_the_next_one_gets_the_place(how):
    space, host = await live_space_with_host()
    first, leaver, patient = await users(3)
    host_socket, _ = await joined(host, space.pk)
    first_socket, _ = await joined(first, space.pk)
    leaver_socket, _ = await in_line(leaver, space.pk)
    patient_socket, waiting = await in_line(patient, space.pk)
    assert waiting["position"] == 2

    if how == "closed by the client":
        await leaver_socket.disconnect()
    else:
        leaver_socket.future.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # the cancelled one ends cancelled
            await leaver_socket.wait(timeout=10)
    waiting = await next_matching(patient_socket, "waiting", lambda e: e["position"] == 1)
    await first_socket.disconnect()
    await next_of(patient_socket, "welcome")

    assert not await database_sync_to_async(Participant.objects.filter(space=space, user=leaver).exists)()
    sockets = await database_sync_to_async(list)(
        RoomSocket.objects.filter(participant__space=space).values_list("participant__user_id", flat=True)
    )
    assert sorted(sockets) == sorted([host.pk, patient.pk])
    assert headcount.of(space.pk) == 2
    for communicator in (host_socket, patient_socket):
        await communicator.disconnect()
    headcount.forget(space.pk)


async def test_the_stage_never_waits_even_past_the_capacity(settings):
    settings.SPACES_LISTENERS_PER_PROCESS = 1
    space, host = await live_space_with_host()
    speaker, cohost, named, listener = await users(4)
    await database_sync_to_async(seat)(space, speaker, Role.SPEAKER)
    await database_sync_to_async(seat)(space, cohost, Role.COHOST)
    await database_sync_to_async(Invitation.objects.create)(space=space, user=named, role=Role.SPEAKER, invited_by=host)

    host_socket, _ = await joined(host, space.pk)  # the one place
    listener_socket, _ = await in_line(listener, space.pk)
    stage = []
    for person in (speaker, cohost, named):
        communicator, welcome = await joined(person, space.pk)
        stage.append(communicator)
    assert welcome["invited"] is True
    for communicator in (host_socket, listener_socket, *stage):
        await communicator.disconnect()


async def test_someone_invited_to_speak_while_in_line_is_let_in_at_the_next_update():
    space, host, (host_socket, first_socket, guest_socket), guest, _ = await full_with_one_in_line()

    await database_sync_to_async(services.speaker_invite)(space=space, by=host, user=guest)
    welcome = await next_of(guest_socket, "welcome")
    assert welcome["invited"] is True
    for communicator in (host_socket, first_socket, guest_socket):
        await communicator.disconnect()


async def test_a_storm_past_the_join_rate_waits_briefly_with_an_estimate_instead_of_piling_on(settings):
    settings.SPACES_LISTENERS_PER_PROCESS = 100
    settings.SPACES_JOINS_PER_SECOND = 1  # one join a second, one at once
    space, host = await live_space_with_host()
    first, second = await users(2)
    first_socket, _ = await joined(first, space.pk)
    second_socket, waiting = await in_line(second, space.pk)
    assert (waiting["position"], waiting["seconds"]) == (1, 1)
    host_socket, _ = await joined(host, space.pk)  # the host is not held to the rate
    welcome = await next_of(second_socket, "welcome")  # nobody left: the rate let them in
    assert welcome["me"]["user_id"] == second.pk
    for communicator in (first_socket, second_socket, host_socket):
        await communicator.disconnect()


async def test_the_hosts_see_how_many_wait_and_listeners_do_not(settings):
    settings.SPACES_LISTENERS_PER_PROCESS = 3
    space, host = await live_space_with_host()
    cohost, inside, second, third = await users(4)
    await database_sync_to_async(seat)(space, cohost, Role.COHOST)
    host_socket, _ = await joined(host, space.pk)
    cohost_socket, _ = await joined(cohost, space.pk)
    inside_socket, _ = await joined(inside, space.pk)  # the process is full now
    second_socket, _ = await in_line(second, space.pk)
    third_socket, _ = await in_line(third, space.pk)

    for manager in (host_socket, cohost_socket):
        count = await next_matching(manager, "waiting_count", lambda e: e["count"] == 2)
        assert count == {"type": "waiting_count", "count": 2}
    await third_socket.disconnect()
    await next_matching(host_socket, "waiting_count", lambda e: e["count"] == 1)

    await cohost_socket.disconnect()  # a place frees: the line empties
    await next_of(second_socket, "welcome")
    await next_matching(host_socket, "waiting_count", lambda e: e["count"] == 0)
    # The listener inside all along was told nothing of the line.
    await inside_socket.send_json_to({"type": "ping"})
    events = []
    while not events or events[-1]["type"] != "pong":
        events.append(await inside_socket.receive_json_from(timeout=3))
    assert [e for e in events if e["type"] in ("waiting", "waiting_count")] == []
    for communicator in (host_socket, inside_socket, second_socket):
        await communicator.disconnect()


async def test_the_hosts_count_adds_up_every_process_line_and_forgets_a_process_whose_line_emptied():
    space, _host = await live_space_with_host()
    await asyncio.to_thread(admission._report, 101, {space.pk: 2}, set())
    await asyncio.to_thread(admission._report, 102, {space.pk: 3}, set())
    assert await asyncio.to_thread(admission._totals, [space.pk]) == {space.pk: 5}

    await asyncio.to_thread(admission._report, 101, {}, {space.pk})  # its line emptied
    await asyncio.to_thread(admission._report, 102, {space.pk: 1}, set())
    assert await asyncio.to_thread(admission._totals, [space.pk]) == {space.pk: 1}
    members = await asyncio.to_thread(cache.get, admission._members_key(space.pk))
    assert members == [102]
    await asyncio.to_thread(admission._report, 102, {}, {space.pk})
    assert await asyncio.to_thread(admission._totals, [space.pk]) == {space.pk: 0}
