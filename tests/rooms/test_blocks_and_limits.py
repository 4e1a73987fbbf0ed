"""Blocks hold for all rooms sends (invitations, shares, notifications); Space creation and shares are limited."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Block, Message, Notification
from rooms import services
from rooms.models import Invitation, Space
from tests.accounts.factories import UserFactory
from tests.rooms.factories import SpaceFactory
from tests.rooms.test_views import schedule_data

pytestmark = pytest.mark.django_db


def page_text(client, url: str) -> str:
    return html.unescape(client.get(url).content.decode())


@pytest.mark.parametrize("who_blocks", ["invitee", "host"])
def test_no_invitation_or_dm_crosses_a_block(live_space, host, listener, who_blocks):
    blocker, blocked = (listener, host) if who_blocks == "invitee" else (host, listener)
    account_services.block_create(blocker=blocker, blocked=blocked)
    with pytest.raises(ValidationError, match="You can't invite @sam."):
        services.speaker_invite(space=live_space, by=host, user=listener, by_dm=True)
    assert not Notification.objects.filter(recipient=listener).exists()
    assert not Message.objects.exists()
    assert not Invitation.objects.filter(user=listener).exists()


def test_a_cohost_cannot_invite_someone_the_host_blocked(live_space, host, cohost, listener):
    account_services.block_create(blocker=host, blocked=listener)
    with pytest.raises(ValidationError, match="You can't invite @sam."):
        services.speaker_invite(space=live_space, by=cohost, user=listener)
    assert not Notification.objects.filter(recipient=listener).exists()


def test_a_cohost_cannot_be_named_across_a_block(host, listener):
    space = SpaceFactory(host=host)
    account_services.block_create(blocker=listener, blocked=host)
    with pytest.raises(ValidationError, match="You can't invite"):
        services.cohost_name_in_advance(space=space, by=host, user=listener)


def test_no_notification_crosses_a_block(alice, bob, charlie):
    account_services.block_create(blocker=bob, blocked=alice)
    assert account_services.notification_create(recipient=bob, actor=alice, kind="other", text="hi") is None
    assert account_services.notification_create(recipient=alice, actor=bob, kind="other", text="hi") is None
    made = account_services.notification_create_many(
        recipient_ids=[bob.pk, charlie.pk], actor=alice, kind="other", text="hello"
    )
    assert made == 1
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["charlie"]


def test_sharing_a_space_by_dm_to_someone_who_blocked_you_is_refused(client, live_space, listener):
    stranger = UserFactory(username="stranger")
    account_services.block_create(blocker=stranger, blocked=listener)
    client.force_login(listener)
    response = client.post(reverse("rooms:share_dm", kwargs={"pk": live_space.pk}), {"username": "stranger"})
    assert response.status_code == 302
    assert "@stranger isn't accepting messages from you." in page_text(client, response["Location"])
    assert not Message.objects.exists()


def test_sharing_by_dm_is_rate_limited(client, settings, live_space, listener):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "share_dm": (2, 600)}
    friends = UserFactory.create_batch(3)
    client.force_login(listener)
    url = reverse("rooms:share_dm", kwargs={"pk": live_space.pk})
    for friend in friends:
        response = client.post(url, {"username": friend.username})
    assert "You're sharing too fast. Try again in" in page_text(client, response["Location"])
    assert Message.objects.count() == 2


def test_creating_spaces_in_a_burst_is_refused_with_a_429(client, settings, host):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "space_create": (2, 3600)}
    client.force_login(host)
    statuses = [client.post(reverse("rooms:new"), schedule_data(title=f"Synths {i}")) for i in range(3)]
    assert [r.status_code for r in statuses] == [302, 302, 429]
    assert "You're creating Spaces too fast." in html.unescape(statuses[-1].content.decode())
    assert statuses[-1].context["form"]["title"].value() == "Synths 2", "what was typed is kept"
    assert Space.objects.filter(host=host).count() == 2


@pytest.mark.parametrize("who_blocks", ["listener", "host"])
def test_a_block_drops_reminders_and_none_is_offered_across_it(client, host, listener, who_blocks):
    upcoming = SpaceFactory(host=host, title="Monk requests")
    theirs = SpaceFactory(host=listener)  # the host had set a reminder for one of the listener's Spaces
    services.reminder_set(space=upcoming, user=listener)
    services.reminder_set(space=theirs, user=host)
    blocker, blocked = (listener, host) if who_blocks == "listener" else (host, listener)
    account_services.block_create(blocker=blocker, blocked=blocked)
    # No notification crosses a block, so these would never have come.
    assert not upcoming.reminders.filter(user=listener).exists()
    assert not theirs.reminders.filter(user=host).exists()
    client.force_login(listener)
    page = page_text(client, upcoming.get_absolute_url())
    assert "Set reminder" not in page and "We'll remind you" not in page
    reason = "You blocked @maya; unblock them" if who_blocks == "listener" else "The host has blocked you."
    assert reason in page
    client.post(reverse("rooms:reminder", args=[upcoming.pk]))
    assert reason in page_text(client, upcoming.get_absolute_url())
    assert not upcoming.reminders.filter(user=listener).exists()


def test_a_reminder_left_from_before_a_block_promises_nothing(client, host, listener):
    upcoming = SpaceFactory(host=host)
    services.reminder_set(space=upcoming, user=listener)
    Block.objects.create(blocker=listener, blocked=host)  # as rows made before blocks dropped reminders
    client.force_login(listener)
    page = page_text(client, upcoming.get_absolute_url())
    assert "We'll remind you" not in page and "You blocked @maya; unblock them" in page
