"""The host's listener curve (kept a row a minute while live, drawn above the transcript) and pinned posts
shown at the moments they were pinned in the replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.base import ContentFile

from accounts.models import Post
from rooms import leases, services
from rooms.models import PinnedPost, RoomSocket
from rooms.presence import Batcher
from rooms.replays import curve, recorder
from rooms.replays import services as replay_services
from rooms.replays.models import ListenerSample, Recording
from rooms.replays.storage import replay_storage
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory

NOON = datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_counters(monkeypatch):
    monkeypatch.setattr(replay_services, "recorder_dispatch", lambda space_id: True)
    monkeypatch.setattr(recorder, "recording_mix_dispatch", lambda space_id: None)
    cache.clear()


def live_for_an_audience(host, listeners):
    with time_machine.travel(NOON, tick=False):
        space = LiveSpaceFactory(host=host, title="Gardens", started_at=NOON)
        process = leases.server_process_register(name="server")
        for user in [host, *listeners]:
            services.participant_join(space=space, user=user, process_id=process.pk)
    return space, process


@pytest.mark.django_db
def test_the_curve_keeps_one_row_a_minute_with_listeners_joins_leaves_and_reactions(host):
    audience = UserFactory.create_batch(3)
    space, process = live_for_an_audience(host, audience)
    with time_machine.travel(NOON + timedelta(seconds=10), tick=False):
        leases.server_process_renew(process_id=process.pk)
        curve.count_events([(space.pk, {"joins": 4, "reactions": 7})])
        assert curve.sample() == 1
        curve.count_events([(space.pk, {"reactions": 3, "leaves": 0})])
        curve.sample()  # the same minute again: the row is updated, not added
    with time_machine.travel(NOON + timedelta(seconds=70), tick=False):
        leases.server_process_renew(process_id=process.pk)
        services.participant_leave(socket_id=RoomSocket.objects.get(participant__user=audience[0]).pk)
        curve.count_events([(space.pk, {"leaves": 1})])
        curve.sample()
    rows = list(
        ListenerSample.objects.filter(space=space)
        .order_by("minute")
        .values_list("minute", "listeners", "joins", "leaves", "reactions")
    )
    assert rows == [
        (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 4, 4, 0, 10),
        (datetime(2026, 6, 1, 12, 1, tzinfo=UTC), 3, 0, 1, 0),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_rooms_batches_feed_the_curve_counters(host):
    from channels.db import database_sync_to_async

    space = await database_sync_to_async(LiveSpaceFactory)(host=host)
    batcher = Batcher()
    for user_id in (1, 2, 3):
        batcher.joined(space.pk, {"user_id": user_id})
    batcher.left(space.pk, 3)
    for _ in range(5):
        batcher.react(space.pk, "👍")
    await batcher.flush()
    await database_sync_to_async(curve.sample)(space_ids=[space.pk])
    row = await database_sync_to_async(ListenerSample.objects.get)(space=space)
    assert (row.joins, row.leaves, row.reactions) == (2, 1, 5)


def ended_recorded(host, minutes: int = 3):
    space = LiveSpaceFactory(host=host, title="Gardens", started_at=NOON)
    Recording.objects.create(space=space)
    for n in range(minutes):
        ListenerSample.objects.create(
            space=space, minute=NOON.replace(second=0) + timedelta(minutes=n), listeners=10 * (n + 1), joins=n, leaves=1
        )
    post = Post.objects.create(author=host, body="Seed list for the spring")
    pin = PinnedPost.objects.create(space=space, post=post, pinned_by=host)
    PinnedPost.objects.filter(pk=pin.pk).update(created_at=NOON + timedelta(seconds=95))
    with time_machine.travel(NOON + timedelta(minutes=minutes), tick=False):
        space = services.space_end(space=space, by=host)
    name = replay_storage().save(f"spaces/{space.pk}/replay-test.m4a", ContentFile(b"audio"))
    Recording.objects.filter(pk=space.pk).update(
        state=Recording.State.READY, audio=name, size_bytes=5, duration_ms=180_000, content_type="audio/mp4"
    )
    return space


@pytest.mark.django_db
def test_the_host_sees_the_curve_above_the_transcript_on_the_replays_time_axis(client, host, listener):
    space = ended_recorded(host)
    client.force_login(host)
    page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="listener-curve" data-duration-ms="180000"' in page
    assert page.index('id="listener-curve"') < page.index('id="transcript"')
    # Minutes are wall-clock ones: the Space went live at 12:00:05, so the third starts 1:55 in. The peak
    # minute (30 listeners) reaches the top of the drawing, from 1:55 to 2:55 of the 3:00 replay.
    assert "Peak 30 at 00:01:55" in page
    assert '<polyline points="0.0,60.7 305.6,60.7 305.6,37.3 638.9,37.3 638.9,14.0 972.2,14.0"' in page
    assert "<td>30</td><td>2</td><td>1</td>" in page
    assert 'class="curve-pin"' in page  # the pin at 01:35 is marked on the curve too
    client.force_login(listener)
    assert 'id="listener-curve"' not in client.get(space.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_pinned_posts_are_listed_at_the_moments_they_were_pinned(client, host, listener):
    space = ended_recorded(host)
    client.force_login(listener)
    page = client.get(space.get_absolute_url()).content.decode()
    assert '<li data-at-ms="95000"><a class="replay-seek-pin" href="#t=95"><time>00:01:35</time></a>' in page
    assert "Seed list for the spring" in page
