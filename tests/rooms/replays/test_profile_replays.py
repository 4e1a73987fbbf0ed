"""A person's recent replays on their profile: only the ones the reader may play, at a bounded cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Block
from rooms.models import Invitation, Role, Space
from rooms.replays.models import Recording
from rooms.replays.selectors import recent_replays_of
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import SpaceFactory
from tests.ticketing.factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory
from ticketing.models import SuperFollowSubscription

pytestmark = pytest.mark.django_db

Audience = Space.Audience


def replay(host, title: str, *, audience=Audience.PUBLIC, hours_ago: int = 1, state=Recording.State.READY) -> Space:
    """An ended Space of `host` with a recording in `state` (the file itself is not needed to list it)."""
    ended = timezone.now() - timedelta(hours=hours_ago)
    space = SpaceFactory(
        host=host,
        title=title,
        audience=audience,
        state=Space.State.ENDED,
        scheduled_for=None,
        started_at=ended - timedelta(minutes=45),
        ended_at=ended,
    )
    audio = f"spaces/{space.pk}/replay.m4a" if state == Recording.State.READY else ""
    Recording.objects.create(space=space, state=state, active=False, audio=audio, duration_ms=2_700_000)
    return space


def titles(spaces) -> list[str]:
    return [space.title for space in spaces]


@pytest.fixture
def history(host, listener):
    """Maya's Spaces, newest first: what each reader may replay differs."""
    spaces = {
        "Gardens": replay(host, "Gardens", hours_ago=1),
        "Ticket night": replay(host, "Ticket night", audience=Audience.TICKETED, hours_ago=2),
        "Backstage": replay(host, "Backstage", audience=Audience.SUPER_FOLLOWERS, hours_ago=3),
        "Deleted": replay(host, "Deleted", hours_ago=4, state=Recording.State.DELETED),
        "Mixing": replay(host, "Mixing", hours_ago=5, state=Recording.State.MIXING),
        "Removed from": replay(host, "Removed from", hours_ago=6),
        "Old talk": replay(host, "Old talk", hours_ago=7),
    }
    SpaceFactory(host=host, title="Not recorded", state=Space.State.ENDED, scheduled_for=None, ended_at=timezone.now())
    seat(spaces["Removed from"], listener, removed_at=timezone.now())
    return spaces


def test_a_profile_lists_the_replays_the_reader_may_play_newest_first(client, host, listener, history):
    client.force_login(listener)
    page = client.get(host.get_absolute_url()).text
    assert 'id="person-replays-heading">Replays<' in page
    assert f'href="{history["Gardens"].get_absolute_url()}#replay"' in page
    for hidden in ("Ticket night", "Backstage", "Deleted", "Mixing", "Removed from", "Not recorded"):
        assert hidden not in page
    assert titles(recent_replays_of(host=host, viewer=listener)) == ["Gardens", "Old talk"]


def test_ticket_holders_and_super_followers_see_their_gated_replays(host, listener, history):
    plan = SuperFollowPlanFactory(creator=host, price_cents=299)
    SuperFollowSubscriptionFactory(subscriber=listener, plan=plan, status=SuperFollowSubscription.Status.ACTIVE)
    assert titles(recent_replays_of(host=host, viewer=listener)) == ["Gardens", "Backstage", "Old talk"]
    # An invited speaker gets in whatever the audience, as the ticketing rule says.
    Invitation.objects.create(space=history["Ticket night"], user=listener, role=Role.SPEAKER, invited_by=host)
    assert titles(recent_replays_of(host=host, viewer=listener)) == ["Gardens", "Ticket night", "Backstage", "Old talk"]


def test_the_host_sees_every_ready_replay_and_visitors_the_public_ones(client, host, history):
    assert titles(recent_replays_of(host=host, viewer=host)) == [
        "Gardens",
        "Ticket night",
        "Backstage",
        "Removed from",
        "Old talk",
    ]
    page = client.get(host.get_absolute_url()).text  # logged out: the replay page asks them to log in
    assert "Gardens" in page and "Removed from" in page and "Ticket night" not in page


def test_someone_the_host_blocked_sees_no_replays(client, host, listener, history):
    Block.objects.create(blocker=host, blocked=listener)
    assert recent_replays_of(host=host, viewer=listener) == []
    client.force_login(listener)
    assert "Gardens" not in client.get(host.get_absolute_url()).text


def test_no_replays_no_section(client, host, listener):
    client.force_login(listener)
    assert "person-replays" not in client.get(host.get_absolute_url()).text


def profile_queries(client, host) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(host.get_absolute_url()).status_code == 200
    return len(queries)


def test_the_profile_costs_the_same_queries_for_a_long_history(client, host):
    reader = UserFactory()
    client.force_login(reader)
    for hours in range(4):
        replay(host, f"Public {hours}", hours_ago=hours)
        replay(host, f"Tickets {hours}", audience=Audience.TICKETED, hours_ago=hours)
        replay(host, f"Backstage {hours}", audience=Audience.SUPER_FOLLOWERS, hours_ago=hours)
    short = profile_queries(client, host)
    for hours in range(4, 40):
        replay(host, f"Tickets {hours}", audience=Audience.TICKETED, hours_ago=hours)
        replay(host, f"Backstage {hours}", audience=Audience.SUPER_FOLLOWERS, hours_ago=hours)
        replay(host, f"Public {hours}", hours_ago=hours)
    long = profile_queries(client, host)
    assert long == short  # 12 replays or 120: the newest candidates decide, and gated ones are capped
    assert len(recent_replays_of(host=host, viewer=reader)) == 5
