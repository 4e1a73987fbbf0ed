"""Clips as posts: a clip shared to the timeline plays there with its captions, speakers and a link into the
replay; gated Spaces' rules decide who hears it; clipping off stops new posts."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.models import Post
from captions.models import CaptionSegment
from rooms import services
from rooms.models import Space
from rooms.replays import clip_posts, recorder
from rooms.replays import services as replay_services
from rooms.replays.models import Clip, Recording, RecordingChunk
from rooms.replays.storage import replay_storage
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_background_work(monkeypatch):
    monkeypatch.setattr(replay_services, "recorder_dispatch", lambda space_id: True)
    monkeypatch.setattr(recorder, "recording_mix_dispatch", lambda space_id: None)
    monkeypatch.setattr(replay_services, "clip_cut_dispatch", lambda clip_id, live=False: None)


def clip_of_ended_space(host, guest, **space_fields) -> Clip:
    """Maya's ended, recorded Space where Dora spoke from 12 s to 20 s; a clip of 10 s to 25 s."""
    space = LiveSpaceFactory(host=host, title="Gardens", **space_fields)
    recording = Recording.objects.create(space=space)
    space = services.space_end(space=space, by=host)
    Recording.objects.filter(pk=space.pk).update(state=Recording.State.READY, duration_ms=60_000, audio="x")
    RecordingChunk.objects.create(
        recording=recording, speaker=guest, start_ms=12_000, end_ms=20_000, frames=400, name="c1"
    )
    CaptionSegment.objects.create(space=space, speaker=guest, start_ms=12_500, end_ms=19_000, text="Tomatoes need sun.")
    name = replay_storage().save(f"spaces/{space.pk}/clip-test.m4a", ContentFile(b"clip audio"))
    clip = Clip.objects.create(recording=recording, made_by=host, start_ms=10_000, end_ms=25_000, audio=name)
    return Clip.objects.select_related("recording__space").get(pk=clip.pk)


@pytest.fixture
def dora(db):
    # Dora spoke in Maya's Space.
    return UserFactory(username="dora", display_name="Dora")


def test_a_clip_posted_to_the_timeline_plays_with_its_captions_speakers_and_a_link_into_the_replay(
    client, host, dora, listener
):
    clip = clip_of_ended_space(host, dora)
    client.force_login(host)
    response = client.post(reverse("rooms:clip_post", args=[clip.pk]), {"text": "Best moment"})
    post = Post.objects.get(author=host)
    assert response.status_code == 302 and response["Location"] == post.get_absolute_url()
    assert post.body.startswith("Best moment http://testserver/spaces/clips/")
    assert clip_posts.clip_linked_in(post.body) == clip.pk

    client.force_login(listener)  # anyone who may hear the replay sees the clip in the post
    page = client.get(post.get_absolute_url()).content.decode()
    assert f'src="{reverse("rooms:clip_audio", args=[clip.pk])}"' in page
    assert "<strong>Dora</strong>: Tomatoes need sun." in page
    assert 'Speakers: <a href="' in page and ">Dora</a>" in page
    assert f'href="{clip.recording.space.get_absolute_url()}#t=10">Hear it in the full replay at 00:00:10' in page


def test_a_clip_of_a_ticketed_space_plays_in_a_post_only_for_those_who_could_enter(client, host, dora, listener):
    clip = clip_of_ended_space(host, dora, audience=Space.Audience.TICKETED)
    post = replay_services.clip_post_create(clip=clip, by=host, url=f"https://spaces.example{clip.get_absolute_url()}")
    client.force_login(listener)  # Sam has no ticket
    page = client.get(post.get_absolute_url()).content.decode()
    assert "A clip of a Space only its audience can hear." in page
    assert reverse("rooms:clip_audio", args=[clip.pk]) not in page
    assert "Tomatoes need sun." not in page
    assert client.get(reverse("rooms:clip_audio", args=[clip.pk])).status_code == 403
    with pytest.raises(Exception, match="ticket"):
        replay_services.clip_post_create(clip=clip, by=listener, url="https://spaces.example/x")


def test_with_clipping_off_a_clip_cannot_be_posted_and_the_page_says_why(client, host, dora):
    clip = clip_of_ended_space(host, dora)
    replay_services.recording_clipping_set(space=clip.recording.space, by=host, clipping=False)
    client.force_login(host)
    page = client.get(clip.get_absolute_url()).content.decode()
    assert "The host turned clipping off for this Space: this clip can't be posted." in page
    response = client.post(reverse("rooms:clip_post", args=[clip.pk]), {"text": "x"}, follow=True)
    assert "The host turned clipping off for this Space." in response.content.decode()
    assert not Post.objects.exists()


def test_a_post_of_a_deleted_clip_says_so(client, host, dora):
    clip = clip_of_ended_space(host, dora)
    post = replay_services.clip_post_create(clip=clip, by=host, url=f"https://spaces.example{clip.get_absolute_url()}")
    replay_services.recording_delete(space=clip.recording.space, by=host)
    client.force_login(host)
    page = client.get(post.get_absolute_url()).content.decode()
    assert "This clip was deleted." in page


def test_a_too_long_comment_is_refused_with_a_clear_error(client, host, dora):
    clip = clip_of_ended_space(host, dora)
    client.force_login(host)
    response = client.post(reverse("rooms:clip_post", args=[clip.pk]), {"text": "x" * 201}, follow=True)
    assert "Ensure this value has at most 200 characters" in response.content.decode()
    assert not Post.objects.exists()
