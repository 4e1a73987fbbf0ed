"""The front door: what visitors who are not signed in see, and shared Space links with a preview."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import engagement
from accounts import services as account_services
from rooms import services
from rooms.models import Space
from tests.accounts.factories import PASSWORD
from tests.rooms.factories import LiveSpaceFactory

pytestmark = pytest.mark.django_db


def test_visitors_see_what_spaces_is_with_live_and_upcoming_public_spaces_and_posts(client, host, alice, bob):
    LiveSpaceFactory(host=host, title="Open mic")
    LiveSpaceFactory(host=bob, title="Fans only", audience=Space.Audience.SUPER_FOLLOWERS)
    services.space_create(host=host, title="Tomorrow's jam", scheduled_for=timezone.now() + timedelta(days=1))
    post = account_services.post_create(author=alice, body="First time hosting #jazz")
    engagement.reply_create(author=bob, to=post, body="a reply stays on the post page")
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "Live audio conversations" in page and "Create an account" in page
    assert "Open mic" in page and "Tomorrow&#x27;s jam" in page and "Fans only" not in page
    assert "First time hosting" in page and "a reply stays" not in page
    assert "Sign in to like" in page


def test_a_shared_public_space_shows_a_preview_with_share_card_tags(client, host):
    space = LiveSpaceFactory(host=host, title="Late night synths")
    response = client.get(space.get_absolute_url())
    assert response.status_code == 200
    page = response.text
    assert '<meta property="og:title" content="Late night synths">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert f'<meta property="og:url" content="http://testserver{space.get_absolute_url()}">' in page
    assert "Live now: hosted by Maya. Tap to listen." in page
    assert f"{reverse('account_login')}?next={space.get_absolute_url()}" in page


def test_a_space_not_for_everyone_asks_visitors_to_sign_in(client, host):
    space = LiveSpaceFactory(host=host, title="Paid", audience=Space.Audience.TICKETED)
    response = client.get(space.get_absolute_url())
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    assert "Paid" not in client.get(response.url).text


def test_signing_in_from_the_preview_lands_in_the_room(client, host, alice):
    space = LiveSpaceFactory(host=host, title="Late night synths")
    login = f"{reverse('account_login')}?next={space.get_absolute_url()}"
    response = client.post(login, {"login": "alice", "password": PASSWORD, "next": space.get_absolute_url()})
    assert response.status_code == 302 and response.url == space.get_absolute_url()
    room = client.get(response.url)
    assert room.status_code == 200 and "rooms/room.html" in [t.name for t in room.templates]


def test_profiles_and_posts_are_readable_and_acting_asks_to_sign_in_and_come_back(client, bob):
    post = account_services.post_create(author=bob, body="Hello from Bob")
    profile = client.get(bob.get_absolute_url()).text
    assert "Hello from Bob" in profile
    assert f"{reverse('account_login')}?next=/%40bob/" in profile and "Sign in to follow @bob" in profile
    page = client.get(post.get_absolute_url()).text
    assert "Sign in to reply" in page and f"next={quote(post.get_absolute_url())}" in page


def test_a_shared_link_to_a_cancelled_or_missed_space_says_so_and_promises_no_speakers(client, host):
    cancelled = services.space_create(host=host, title="Jam", scheduled_for=timezone.now() + timedelta(days=1))
    services.space_cancel(space=cancelled, by=host)
    page = client.get(cancelled.get_absolute_url()).text
    # It said "This Space is over. Sign in to see who spoke" of a Space where nobody ever spoke.
    assert "This Space was cancelled" in page and "who spoke" not in page
    missed = services.space_create(host=host, title="Jam", scheduled_for=timezone.now() + timedelta(days=1))
    Space.objects.filter(pk=missed.pk).update(state=Space.State.MISSED)
    page = client.get(missed.get_absolute_url()).text
    assert "This Space didn't start" in page and "who spoke" not in page


def test_a_shared_clip_of_a_space_not_for_everyone_asks_visitors_to_sign_in(client, host, alice):
    from rooms.replays.models import Clip, Recording

    space = LiveSpaceFactory(host=host, title="Paid", audience=Space.Audience.TICKETED)
    recording = Recording.objects.create(space=space)
    clip = Clip.objects.create(recording=recording, made_by=host, start_ms=0, end_ms=30_000)
    response = client.get(clip.get_absolute_url())
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
