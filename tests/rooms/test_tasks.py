"""Reminders, the host grace period and go-live fan-out, driven by the clock (time-machine)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import close_old_connections, connection

from accounts.models import Follow, Notification
from rooms import services
from rooms.leases import server_process_register, server_process_renew
from rooms.models import Participant, Reminder, Space
from rooms.tasks import end_abandoned_spaces, push_live_bubble, send_due_reminders
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
class TestReminders:
    def test_reminder_is_sent_thirty_minutes_before_and_only_once(self, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Night synths", scheduled_for=NOON + timedelta(hours=2))
            services.reminder_set(space=space, user=listener)
            assert send_due_reminders() == 0
        with time_machine.travel(NOON + timedelta(minutes=89), tick=False):
            assert send_due_reminders() == 0
        with time_machine.travel(NOON + timedelta(minutes=91), tick=False):
            assert send_due_reminders() == 2  # the listener and the host
            assert send_due_reminders() == 0
        reminded = Notification.objects.filter(kind=Notification.Kind.SPACE_REMINDER)
        assert sorted(reminded.values_list("recipient__username", flat=True)) == ["maya", "sam"]
        assert not Reminder.objects.filter(sent_at__isnull=True).exists()

    def test_cancelled_space_sends_no_reminder(self, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Off", scheduled_for=NOON + timedelta(minutes=40))
            services.reminder_set(space=space, user=listener)
            services.space_cancel(space=space, by=host)
        with time_machine.travel(NOON + timedelta(minutes=15), tick=False):
            assert send_due_reminders() == 0

    def test_reminder_set_on_a_live_space_is_refused(self, live_space, listener):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            services.reminder_set(space=live_space, user=listener)
        assert not Reminder.objects.filter(user=listener).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_reminder_senders_notify_each_person_exactly_once():
    if connection.vendor == "sqlite":
        pytest.skip("needs PostgreSQL row locks (SKIP LOCKED); SQLite has no concurrent writers")
    from tests.rooms.factories import make_host

    host = make_host()
    people = UserFactory.create_batch(40)
    with time_machine.travel(NOON, tick=False):
        space = services.space_create(host=host, title="Busy", scheduled_for=NOON + timedelta(minutes=45))
        Reminder.objects.bulk_create([Reminder(space=space, user=p) for p in people])
    barrier = threading.Barrier(2, timeout=30)
    results, errors = [], []

    def sender():
        try:
            barrier.wait()
            results.append(send_due_reminders())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    with time_machine.travel(NOON + timedelta(minutes=20), tick=False):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sum(results) == 41
    counts = Notification.objects.filter(kind=Notification.Kind.SPACE_REMINDER).values_list("recipient_id", flat=True)
    assert sorted(counts) == sorted([p.pk for p in people] + [host.pk])


@pytest.mark.django_db
class TestHostGracePeriod:
    def test_space_waits_for_the_host_then_ends(self, host, settings):
        settings.SPACES_HOST_GRACE_SECONDS = 120
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Live")
            server = server_process_register(name="server-1")
            socket_id = services.participant_join(space=space, user=host, process_id=server.pk).socket_id
            services.participant_leave(socket_id=socket_id)
        with time_machine.travel(NOON + timedelta(seconds=119), tick=False):
            assert end_abandoned_spaces() == 0
        with time_machine.travel(NOON + timedelta(seconds=121), tick=False):
            assert end_abandoned_spaces() == 1
        space.refresh_from_db()
        assert space.state == Space.State.ENDED
        assert space.ended_at == NOON + timedelta(seconds=121)

    def test_host_coming_back_in_time_keeps_the_space_live(self, host):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Live")
            server = server_process_register(name="server-1")
            socket_id = services.participant_join(space=space, user=host, process_id=server.pk).socket_id
            services.participant_leave(socket_id=socket_id)
        with time_machine.travel(NOON + timedelta(seconds=60), tick=False):
            server_process_renew(process_id=server.pk)
            services.participant_join(space=space, user=host, process_id=server.pk)
        with time_machine.travel(NOON + timedelta(minutes=10), tick=False):
            server_process_renew(process_id=server.pk)  # the server's heartbeat, as it runs
            assert end_abandoned_spaces() == 0
        assert Space.objects.get(pk=space.pk).state == Space.State.LIVE
        assert Space.objects.get(pk=space.pk).host_left_at is None


def test_live_bubble_push_reaches_each_follower(host, listener):
    space = LiveSpaceFactory(host=host)
    Follow.objects.create(follower=listener, followee=host)
    Follow.objects.create(follower=UserFactory(), followee=host)
    assert push_live_bubble(space.pk, host.pk, "add") == 2
    Participant.objects.filter(space=space, user=host).delete()
    assert push_live_bubble(space.pk, host.pk, "add") == 0


@pytest.mark.django_db
def test_embedded_beat_runs_the_schedule_at_its_intervals(host, listener):
    from spaces_site.celery import app
    from spaces_site.embedded_beat import run_due

    app.loader.import_default_modules()  # as the beat thread does: every app's tasks registered

    with time_machine.travel(NOON, tick=False):
        space = services.space_create(host=host, title="Soon", scheduled_for=NOON + timedelta(minutes=40))
        services.reminder_set(space=space, user=listener)
    last_run: dict[str, float] = {}
    with time_machine.travel(NOON + timedelta(minutes=11), tick=False):
        ran = run_due(last_run, now=1000.0)
        assert set(ran) == {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        shortest = min(e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values())
        assert run_due(last_run, now=1000.0 + shortest / 2) == []  # no interval has passed
        due = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["schedule"] <= 31}
        assert "rooms.tasks.end_abandoned_spaces" in due and "rooms.tasks.send_due_reminders" not in due
        assert set(run_due(last_run, now=1031.0)) == due
    assert Notification.objects.filter(kind=Notification.Kind.SPACE_REMINDER).count() == 2
