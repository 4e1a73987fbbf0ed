"""Local time: times read in the reader's zone, scheduling in the host's, truthful reminders, the start
prompt, missed Spaces, cancel confirmation and notices of ended Spaces. The clock is time-machine's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from rooms import services
from rooms.models import Reminder, Space
from rooms.tasks import notify_space_live, prompt_due_spaces, send_due_reminders

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def reminders_of(user) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user, kind=Notification.Kind.SPACE_REMINDER)
        .order_by("pk")
        .values_list("text", flat=True)
    )


class TestReadersZone:
    def test_a_signed_in_reader_sees_times_in_their_own_zone(self, client, host, listener):
        listener.time_zone = "America/New_York"
        listener.save()
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Dawn", scheduled_for=NOON + timedelta(hours=2))
            client.force_login(listener)
            page = client.get(space.get_absolute_url()).text
        assert "09:00 EST" in page and "UTC" not in page

    def test_a_visitor_reads_times_in_the_zone_their_browser_reported(self, client, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Dawn", scheduled_for=NOON + timedelta(hours=2))
            client.force_login(listener)  # no zone saved yet: the browser's cookie decides
            client.cookies["tz"] = "Asia%2FTokyo"  # as time-zone.js writes it (encodeURIComponent)
            assert "23:00 JST" in client.get(space.get_absolute_url()).text
            client.cookies["tz"] = "Asia/Tokyo"
            assert "23:00 JST" in client.get(space.get_absolute_url()).text
            client.cookies["tz"] = "Not/AZone"
            assert "14:00 UTC" in client.get(space.get_absolute_url()).text

    def test_the_browser_zone_is_saved_and_a_bad_one_refused(self, client, listener):
        client.force_login(listener)
        url = reverse("accounts:time_zone")
        assert client.post(url, {"time_zone": "Mars/Olympus"}).status_code == 400
        assert client.post(url, {"time_zone": "Europe/Lisbon"}).status_code == 204
        listener.refresh_from_db()
        assert listener.time_zone == "Europe/Lisbon"

    def test_the_host_schedules_in_their_own_zone_and_it_is_stored_in_utc(self, client, host):
        host.time_zone = "Europe/Paris"
        host.save()
        client.force_login(host)
        with time_machine.travel(NOON, tick=False):
            form = client.get(reverse("rooms:new")).text
            assert "Start time (Europe/Paris)" in form
            response = client.post(
                reverse("rooms:new"),
                {
                    "title": "Apéro",
                    "start": "later",
                    "scheduled_for": "2026-11-21T15:00",
                    "speaking_policy": "everyone",
                },
            )
        assert response.status_code == 302
        assert Space.objects.get(title="Apéro").scheduled_for == datetime(2026, 11, 21, 14, 0, tzinfo=UTC)

    def test_the_profile_offers_only_zones_that_are_places(self, client, listener):
        client.force_login(listener)
        choices = [
            value
            for value, _ in client.get(reverse("accounts:profile_edit")).context["form"].fields["time_zone"].choices
        ]
        assert "Europe/Paris" in choices and "localtime" not in choices and "Factory" not in choices

    def test_the_studio_says_which_zone_its_start_times_are_in(self, client, host):
        host.time_zone = "Europe/Paris"
        host.save()
        space = services.space_create(host=host, title="Studio", scheduled_for=timezone.now() + timedelta(days=1))
        client.force_login(host)
        for url in ["/studio/rooms/space/add/", f"/studio/rooms/space/{space.pk}/change/"]:
            assert "Start time (Europe/Paris)" in client.get(url).text


class TestReminders:
    def test_the_reminder_says_the_time_really_left(self, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Synths", scheduled_for=NOON + timedelta(hours=2))
            services.reminder_set(space=space, user=listener)
        with time_machine.travel(NOON + timedelta(minutes=92, seconds=30), tick=False):  # the beat runs late
            assert send_due_reminders() == 2
        assert reminders_of(listener) == ["“Synths” by Maya starts in 28 minutes."]
        assert reminders_of(host) == ["Your Space “Synths” starts in 28 minutes."]

    def test_people_with_a_reminder_are_told_the_space_moved(self, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Synths", scheduled_for=NOON + timedelta(hours=2))
            services.reminder_set(space=space, user=listener)
            services.space_update(space=space, by=host, title="Synths, renamed")
            assert not Notification.objects.filter(recipient=listener).exists()  # the time did not change
            services.space_update(space=space, by=host, scheduled_for=NOON + timedelta(hours=5))
        assert list(Notification.objects.filter(recipient=listener).values_list("text", flat=True)) == [
            "Maya moved “Synths, renamed” to a new time; your reminder moves with it."
        ]
        assert not Notification.objects.filter(recipient=host).exists()

    def test_a_space_minutes_away_is_reminded_at_the_start_not_ahead(self, client, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Quick", scheduled_for=NOON + timedelta(minutes=2))
            client.force_login(listener)
            response = client.post(reverse("rooms:reminder", args=[space.pk]), follow=True)
            assert "We&#x27;ll remind you when it starts." in response.text
            assert "We'll tell you when it starts." in response.text
            assert "30 minutes before" not in response.text
            assert send_due_reminders() == 0
        assert Reminder.objects.get(user=listener).at_start
        with time_machine.travel(NOON + timedelta(minutes=2, seconds=20), tick=False):
            assert send_due_reminders() == 1  # the listener; the host gets the start prompt instead
            assert send_due_reminders() == 0
        assert reminders_of(listener) == ["“Quick” by Maya is starting now."]

    def test_rescheduling_re_arms_the_reminder_for_the_new_time(self, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Moved", scheduled_for=NOON + timedelta(minutes=10))
            services.reminder_set(space=space, user=listener)
            services.space_update(space=space, by=host, scheduled_for=NOON + timedelta(hours=3))
        assert not Reminder.objects.get(user=listener).at_start


class TestStartTime:
    def test_at_the_time_the_host_is_prompted_once_and_readers_see_starting_soon(self, client, host, listener):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="On time", scheduled_for=NOON + timedelta(hours=1))
            services.reminder_set(space=space, user=listener)
            assert prompt_due_spaces() == 0
        with time_machine.travel(NOON + timedelta(hours=1, minutes=3), tick=False):
            assert prompt_due_spaces() == 1
            assert prompt_due_spaces() == 0
            client.force_login(listener)
            page = client.get(space.get_absolute_url()).text
            assert "Starting soon" in page and "0 minutes" not in page
            client.force_login(host)
            page = client.get(space.get_absolute_url()).text
            assert "It's time" in page and "Start now" in page
        (prompt,) = Notification.objects.filter(recipient=host, text__contains="Start now")
        assert prompt.url == space.get_absolute_url()

    def test_a_space_not_started_within_the_grace_period_is_missed_and_reminded_people_told(
        self, client, host, listener, settings
    ):
        settings.SPACES_MISSED_AFTER_MINUTES = 60
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Never", scheduled_for=NOON + timedelta(hours=1))
            services.reminder_set(space=space, user=listener)
        with time_machine.travel(NOON + timedelta(hours=1, minutes=59), tick=False):
            prompt_due_spaces()
            assert Space.objects.get(pk=space.pk).state == Space.State.SCHEDULED
        with time_machine.travel(NOON + timedelta(hours=2, minutes=1), tick=False):
            prompt_due_spaces()
            assert prompt_due_spaces() == 0
        assert Space.objects.get(pk=space.pk).state == Space.State.MISSED
        told = Notification.objects.filter(recipient=listener, text__contains="didn't start")
        assert told.count() == 1 and told[0].url == space.get_absolute_url()
        client.force_login(listener)
        assert "This Space didn" in client.get(space.get_absolute_url()).text

    def test_a_started_space_is_never_marked_missed(self, host):
        with time_machine.travel(NOON, tick=False):
            space = services.space_create(host=host, title="Late", scheduled_for=NOON + timedelta(minutes=5))
        with time_machine.travel(NOON + timedelta(minutes=40), tick=False):
            services.space_start(space=space, by=host)
        with time_machine.travel(NOON + timedelta(hours=3), tick=False):
            prompt_due_spaces()
        assert Space.objects.get(pk=space.pk).state == Space.State.LIVE


def test_cancelling_asks_for_confirmation_first(client, host, listener):
    with time_machine.travel(NOON, tick=False):
        space = services.space_create(host=host, title="Maybe", scheduled_for=NOON + timedelta(hours=1))
        services.reminder_set(space=space, user=listener)
        client.force_login(host)
        scheduled = client.get(space.get_absolute_url()).text
        assert f'href="{reverse("rooms:cancel", args=[space.pk])}"' in scheduled
        confirm = client.get(reverse("rooms:cancel", args=[space.pk]))
        assert confirm.status_code == 200
        assert "1 person set a reminder" in confirm.text and "Yes, cancel the Space" in confirm.text
        assert Space.objects.get(pk=space.pk).state == Space.State.SCHEDULED
        client.post(reverse("rooms:cancel", args=[space.pk]))
    assert Space.objects.get(pk=space.pk).state == Space.State.CANCELLED
    client.force_login(listener)
    assert client.get(reverse("rooms:cancel", args=[space.pk])).status_code == 403


def test_live_notices_of_an_ended_space_point_to_its_page_without_tap_to_listen(host, listener):
    from accounts.models import Follow

    Follow.objects.create(follower=listener, followee=host)
    space = services.space_create(host=host, title="Brief")
    notify_space_live(space.pk)
    notify_space_live(space.pk)  # a retried task notifies nobody twice
    (notice,) = Notification.objects.filter(recipient=listener, kind=Notification.Kind.SPACE_LIVE)
    assert "Tap to listen" in notice.text
    services.space_end(space=space, by=host)
    notice.refresh_from_db()
    assert "Tap to listen" not in notice.text and "has ended" in notice.text
    assert notice.url == space.get_absolute_url()
