"""Presence kept by server-process leases: what a process that died without closing its sockets leaves behind
stops counting when its lease runs out, and one sweep puts presence and the host's grace period right."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from rooms import leases, services
from rooms.events import host_presence_event
from rooms.models import Participant, Role, RoomSocket, ServerProcess, Space
from rooms.selectors import room_snapshot
from rooms.tasks import end_abandoned_spaces
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def count(space) -> int:
    host = Participant.objects.select_related("user", "space").get(space=space, role=Role.HOST)
    return room_snapshot(space=space, me=host)["listener_count"]


@pytest.fixture
def lease(settings):
    settings.SPACES_PRESENCE_LEASE_SECONDS = 30
    settings.SPACES_HOST_GRACE_SECONDS = 120


def test_a_dead_servers_sockets_stop_counting_and_one_sweep_tells_the_room(live_space, host, lease):
    listeners = UserFactory.create_batch(3)
    with time_machine.travel(NOON, tick=False):
        dead = leases.server_process_register(name="dead")
        alive = leases.server_process_register(name="alive")
        services.participant_join(space=live_space, user=host, process_id=dead.pk)
        for user in listeners[:2]:
            services.participant_join(space=live_space, user=user, process_id=dead.pk)
        services.participant_join(space=live_space, user=listeners[2], process_id=alive.pk)
        assert count(live_space) == 3
    # The dead one stops renewing (SIGKILL); the other keeps its heartbeat.
    with time_machine.travel(NOON + timedelta(seconds=31), tick=False):
        leases.server_process_renew(process_id=alive.pk)
        assert count(live_space) == 1  # already right before any sweep
        with pytest.MonkeyPatch.context() as patch:
            sent = []
            patch.setattr(leases, "broadcast", lambda space_id, event: sent.append((space_id, event)))
            assert leases.presence_sweep() == 3
    assert sent == [
        (live_space.pk, host_presence_event(NOON)),  # listeners see the host's grace period at once
        (
            live_space.pk,
            {"type": "presence", "joined": [], "left": sorted([host.pk, listeners[0].pk, listeners[1].pk])},
        ),
    ]
    assert not ServerProcess.objects.filter(pk=dead.pk).exists()
    assert RoomSocket.objects.count() == 1
    # The grace period runs from the dead server's last renewal, not from the sweep.
    assert Space.objects.get(pk=live_space.pk).host_left_at == NOON
    with time_machine.travel(NOON + timedelta(seconds=121), tick=False):
        leases.server_process_renew(process_id=alive.pk)
        assert end_abandoned_spaces() == 1
    assert Space.objects.get(pk=live_space.pk).state == Space.State.ENDED


def test_a_host_back_on_another_server_is_not_taken_for_gone(live_space, host, lease):
    with time_machine.travel(NOON, tick=False):
        dead = leases.server_process_register(name="dead")
        alive = leases.server_process_register(name="alive")
        services.participant_join(space=live_space, user=host, process_id=dead.pk)
    with time_machine.travel(NOON + timedelta(seconds=2), tick=False):
        services.participant_join(space=live_space, user=host, process_id=alive.pk)  # reconnected elsewhere
    with time_machine.travel(NOON + timedelta(seconds=40), tick=False):
        leases.server_process_renew(process_id=alive.pk)
        end_abandoned_spaces()
    assert Space.objects.get(pk=live_space.pk).host_left_at is None


def test_the_sweep_clears_a_grace_period_the_host_came_back_from(live_space, host, server, lease):
    # A leave and a rejoin of the host's two sockets can commit in either order.
    services.participant_join(space=live_space, user=host, process_id=server.pk)
    Space.objects.filter(pk=live_space.pk).update(host_left_at=timezone.now())
    end_abandoned_spaces()
    assert Space.objects.get(pk=live_space.pk).host_left_at is None


def test_a_server_taken_for_dead_registers_its_open_sockets_again(live_space, listener, lease):
    with time_machine.travel(NOON, tick=False):
        stalled = leases.server_process_register(name="stalled")
        joined = services.participant_join(space=live_space, user=listener, process_id=stalled.pk)
    with time_machine.travel(NOON + timedelta(seconds=31), tick=False):
        leases.presence_sweep()
        assert count(live_space) == 0
        assert not leases.server_process_renew(process_id=stalled.pk)
        leases.server_process_restore(name="stalled", sockets={joined.socket_id: joined.pk})
        assert count(live_space) == 1
    # Its socket closes as usual afterwards.
    assert services.participant_leave(socket_id=joined.socket_id)
