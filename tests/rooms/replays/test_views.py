"""Recording controls, the REC badge, the seekable replay, access rules, listens, deletion and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block, Message
from rooms import services
from rooms.models import Space
from rooms.replays import mixing, recorder, tasks
from rooms.replays import services as replay_services
from rooms.replays.models import Clip, Recording, RecordingChunk, ReplayListen
from rooms.replays.storage import replay_storage
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory
from tests.rooms.replays.audio import speak, track

AUDIO = bytes(range(256)) * 40  # 10,240 bytes standing in for the mixed file


@pytest.fixture(autouse=True)
def no_recorder_threads(monkeypatch):
    """These tests are about pages; the recorder and the mix have their own tests."""
    dispatched = []
    monkeypatch.setattr(replay_services, "recorder_dispatch", lambda space_id: dispatched.append(space_id) or True)
    monkeypatch.setattr(recorder, "recording_mix_dispatch", lambda space_id: None)
    return dispatched


def ended_with_replay(host, **fields) -> Space:
    space = LiveSpaceFactory(host=host, title="Gardens", **fields)
    Recording.objects.create(space=space)
    space = services.space_end(space=space, by=host)
    name = replay_storage().save(f"spaces/{space.pk}/replay-test.m4a", ContentFile(AUDIO))
    Recording.objects.filter(pk=space.pk).update(
        state=Recording.State.READY, audio=name, size_bytes=len(AUDIO), duration_ms=5_000, content_type="audio/mp4"
    )
    return space


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_host_chooses_to_record_when_starting_and_the_recorder_is_dispatched(
    client, host, no_recorder_threads, django_capture_on_commit_callbacks
):
    client.force_login(host)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rooms:new"), {"title": "Gardens", "start": "now", "speaking_policy": "everyone", "record": "on"}
        )
    space = Space.objects.get(title="Gardens")
    assert response.status_code == 302 and space.is_live
    assert Recording.objects.get(space=space).active
    assert no_recorder_threads == [space.pk]


def test_scheduling_with_recording_records_from_the_start(
    host, no_recorder_threads, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        space = services.space_create(
            host=host, title="Later", scheduled_for=timezone.now() + timedelta(days=1), record=True
        )
    assert no_recorder_threads == []
    with django_capture_on_commit_callbacks(execute=True):
        services.space_start(space=space, by=host)
    assert no_recorder_threads == [space.pk]


def test_everyone_in_a_recorded_space_sees_rec_and_the_host_can_stop_it(client, host, listener):
    space = LiveSpaceFactory(host=host)
    replay_services.recording_start(space=space, by=host)
    client.force_login(listener)
    page = client.get(space.get_absolute_url()).content.decode()
    assert "This Space is being recorded" in page and 'id="rec-announce"' in page
    assert "Stop recording" not in page

    response = client.post(reverse("rooms:recording", args=[space.pk]), {"action": "stop"})
    assert response.status_code == 302 and Recording.objects.get(space=space).active  # only the host

    client.force_login(host)
    assert "Stop recording" in client.get(space.get_absolute_url()).content.decode()
    client.post(reverse("rooms:recording", args=[space.pk]), {"action": "stop"})
    assert not Recording.objects.get(space=space).active
    page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="rec-badge" hidden' in page and "Record this Space" in page


def test_a_space_not_recorded_shows_no_badge_to_listeners(client, host, listener):
    space = LiveSpaceFactory(host=host)
    client.force_login(listener)
    page = client.get(space.get_absolute_url()).content.decode()
    # Drawn hidden, for the host starting a recording later (the socket's `recording` event shows it).
    assert 'id="rec-badge" hidden' in page and "Record this Space" not in page


def test_the_replay_is_served_with_range_requests(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    url = reverse("rooms:replay_audio", args=[space.pk])

    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and body(whole) == AUDIO

    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    assert body(part) == AUDIO[100:200] and part["Content-Length"] == "100"

    tail = client.get(url, HTTP_RANGE="bytes=-50")
    assert tail.status_code == 206 and body(tail) == AUDIO[-50:]
    assert body(client.get(url, HTTP_RANGE="bytes=10000-")) == AUDIO[10000:]


def test_a_seek_past_the_end_or_a_malformed_range_is_a_clear_error(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    url = reverse("rooms:replay_audio", args=[space.pk])
    past = client.get(url, HTTP_RANGE=f"bytes={len(AUDIO)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert "past the end of the recording" in past.content.decode()
    bad = client.get(url, HTTP_RANGE="bytes=abc")
    assert bad.status_code == 400 and "bytes=START-END" in bad.content.decode()


def test_a_recording_deleted_while_someone_plays_it_says_so(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    url = reverse("rooms:replay_audio", args=[space.pk])
    assert client.get(url, HTTP_RANGE="bytes=0-99").status_code == 206
    replay_services.recording_delete(space=space, by=host)
    gone = client.get(url, HTTP_RANGE="bytes=100-199")
    assert gone.status_code == 410 and gone.content.decode() == "This recording was deleted."
    assert not replay_storage().exists(f"spaces/{space.pk}/replay-test.m4a")
    assert (
        "Replay"
        not in client.get(space.get_absolute_url()).content.decode().split("</header>")[1].split("Transcript")[0]
    )


def test_only_the_host_deletes_a_recording_and_its_clips(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    assert client.get(reverse("rooms:recording_delete", args=[space.pk])).status_code == 403
    client.post(reverse("rooms:recording", args=[space.pk]), {"action": "delete"})
    assert Recording.objects.get(pk=space.pk).state == Recording.State.READY
    client.force_login(host)
    assert "cannot be undone" in client.get(reverse("rooms:recording_delete", args=[space.pk])).content.decode()
    client.post(reverse("rooms:recording", args=[space.pk]), {"action": "delete"})
    assert Recording.objects.get(pk=space.pk).state == Recording.State.DELETED


def test_gated_replays_follow_the_spaces_rules(client, host, listener):
    # The ticketing app's own admission rule (registered through rooms.access) applies to the replay.
    space = ended_with_replay(host, audience=Space.Audience.TICKETED)
    client.force_login(listener)
    refused = client.get(reverse("rooms:replay_audio", args=[space.pk]))
    assert refused.status_code == 403 and "Only ticket holders" in refused.content.decode()
    page = client.get(space.get_absolute_url()).content.decode()
    assert "Only ticket holders" in page and "replay-audio" not in page
    assert client.post(reverse("rooms:replay_listen", args=[space.pk])).status_code == 403
    client.force_login(host)
    assert client.get(reverse("rooms:replay_audio", args=[space.pk])).status_code == 200


def test_someone_the_host_blocked_cannot_play_the_replay(client, host, listener):
    space = ended_with_replay(host)
    Block.objects.create(blocker=host, blocked=listener)
    client.force_login(listener)
    assert client.get(reverse("rooms:replay_audio", args=[space.pk])).status_code == 403


def test_listens_are_counted_once_per_person_per_day_and_shown_to_the_host(client, host, listener):
    space = ended_with_replay(host)
    other = UserFactory(username="olga")
    url = reverse("rooms:replay_listen", args=[space.pk])
    client.force_login(listener)
    assert client.post(url).json() == {"ok": True, "counted": True}
    assert client.post(url).json() == {"ok": True, "counted": False}
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert client.post(url).json()["counted"] is True
    client.force_login(other)
    client.post(url)
    client.force_login(host)
    assert client.post(url).json()["counted"] is False  # the host's own plays are not listens
    assert ReplayListen.objects.count() == 3
    page = client.get(space.get_absolute_url()).content.decode()
    assert "Replay listens: 3 from 2 people" in page
    client.force_login(listener)
    assert "Replay listens" not in client.get(space.get_absolute_url()).content.decode()


def test_the_ended_page_has_the_player_with_the_transcript_track(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    page = client.get(space.get_absolute_url()).content.decode()
    assert f'src="{reverse("rooms:replay_audio", args=[space.pk])}"' in page
    assert f'src="{reverse("captions:transcript_vtt", args=[space.pk])}"' in page
    assert "1.5×" in page and "Next speaker" in page


def test_a_cancelled_space_keeps_no_recording(host):
    space = services.space_create(
        host=host, title="Later", scheduled_for=timezone.now() + timedelta(days=1), record=True
    )
    services.space_cancel(space=space, by=host)
    assert not Recording.objects.filter(space=space).exists()


def test_a_failed_mix_keeps_the_speakers_frames_and_the_retry_succeeds(host, monkeypatch):
    space = LiveSpaceFactory(host=host)
    Recording.objects.create(space=space)
    replay_services.recording_chunk_store(
        space_id=space.pk, speaker_id=host.pk, frames=track(speak("Hello there."), at_ms=200), holder="test-holder"
    )
    Space.objects.filter(pk=space.pk).update(started_at=timezone.now() - timedelta(seconds=3))
    services.space_end(space=space, by=host)
    real = mixing.assemble
    monkeypatch.setattr(mixing, "assemble", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        replay_services.recording_mix(space_id=space.pk)
    replay_services.recording_mix_failed(space_id=space.pk, error="OSError: disk full", final=False)
    recording = Recording.objects.get(pk=space.pk)
    assert recording.state == Recording.State.MIXING and recording.last_error == "OSError: disk full"
    chunk = RecordingChunk.objects.get(recording=recording)
    assert replay_storage().exists(chunk.name)
    monkeypatch.setattr(mixing, "assemble", real)
    recording = replay_services.recording_mix(space_id=space.pk)
    assert recording.state == Recording.State.READY and recording.mix_attempts == 2 and recording.last_error == ""
    assert replay_storage().size(recording.audio) == recording.size_bytes > 0
    # The sections were only for the assembly; the speakers' chunks stay for clips.
    assert replay_storage().listdir(f"spaces/{space.pk}/sections")[1] == []
    assert replay_storage().exists(chunk.name)


def test_a_mix_that_failed_for_good_promises_no_other_try(client, host, listener):
    space = LiveSpaceFactory(host=host)
    Recording.objects.create(space=space)
    services.space_end(space=space, by=host)
    replay_services.recording_mix_failed(space_id=space.pk, error="OSError: disk full", final=True)
    client.force_login(listener)
    page = client.get(space.get_absolute_url()).content.decode()
    assert "The replay could not be prepared, so there is nothing to play." in page
    assert "tried again" not in page  # nothing tries a mix again after its last attempt


def test_the_retention_period_erases_old_replays(host, settings):
    old = ended_with_replay(host)
    Space.objects.filter(pk=old.pk).update(ended_at=timezone.now() - timedelta(days=40))
    settings.REPLAYS_RETENTION_DAYS = 0
    assert tasks.expire_replays() == 0  # the default keeps replays for ever
    settings.REPLAYS_RETENTION_DAYS = 30
    assert tasks.expire_replays() == 1
    assert Recording.objects.get(pk=old.pk).state == Recording.State.DELETED
    assert not replay_storage().exists(f"spaces/{old.pk}/replay-test.m4a")


def recorded_with_speech(host, seconds_in: int = 40) -> Space:
    """An ended Space whose host spoke from `seconds_in` - 5 s to `seconds_in` s, mixed and ready."""
    space = LiveSpaceFactory(host=host, title="Gardens")
    Recording.objects.create(space=space)
    speech = speak("Seven green boxes arrived on Monday.")
    replay_services.recording_chunk_store(
        space_id=space.pk, speaker_id=host.pk, frames=track(speech, at_ms=(seconds_in - 5) * 1000), holder="test"
    )
    Space.objects.filter(pk=space.pk).update(started_at=timezone.now() - timedelta(seconds=seconds_in + 5))
    services.space_end(space=space, by=host)
    replay_services.recording_mix(space_id=space.pk)
    return space


def test_a_clip_of_a_replay_has_its_page_audio_captions_and_a_link_back(client, host, listener):
    from captions.models import CaptionSegment

    space = recorded_with_speech(host)
    CaptionSegment.objects.create(space=space, speaker=host, start_ms=35_000, end_ms=37_000, text="Seven green boxes")
    client.force_login(listener)
    response = client.post(reverse("rooms:clip_create", args=[space.pk]), {"start_s": "30", "length_s": "10"})
    clip = space.recording.clips.get()
    assert response.status_code == 302 and response["Location"] == clip.get_absolute_url()
    assert (clip.start_ms, clip.end_ms) == (30_000, 40_000)
    replay_services.clip_cut(clip_id=clip.pk)  # the task's work, run here
    page = client.get(clip.get_absolute_url()).content.decode()
    assert "Seven green boxes" in page and f'href="{space.get_absolute_url()}#t=30"' in page
    audio = client.get(reverse("rooms:clip_audio", args=[clip.pk]), HTTP_RANGE="bytes=0-")
    assert audio.status_code == 206
    import io

    from tests.rooms.replays.audio import decode_file

    samples, duration_ms = decode_file(io.BytesIO(body(audio)))
    assert abs(duration_ms - 10_000) <= 100
    assert rms_between(samples, 5_000, 7_000) > 0.01 and rms_between(samples, 0, 4_500) < 0.003


def rms_between(samples, start_ms: int, end_ms: int) -> float:
    from tests.rooms.replays.audio import rms

    return rms(samples[start_ms * 16 : end_ms * 16])


def test_clips_over_60_seconds_past_the_end_or_with_clipping_off_are_refused(client, host, listener):
    space = ended_with_replay(host)
    client.force_login(listener)
    url = reverse("rooms:clip_create", args=[space.pk])
    response = client.post(url, {"start_s": "0", "length_s": "61"}, follow=True)
    assert "less than or equal to 60" in response.content.decode()
    response = client.post(url, {"start_s": "6", "length_s": "10"}, follow=True)
    assert "past the end of the replay" in response.content.decode()
    Recording.objects.filter(pk=space.pk).update(clipping=False)
    response = client.post(url, {"start_s": "0", "length_s": "3"}, follow=True)
    assert "The host turned clipping off for this Space." in response.content.decode()
    assert not space.recording.clips.exists()


def test_a_listener_clips_the_last_30_seconds_live_and_the_host_can_turn_clipping_off(
    client, host, listener, django_capture_on_commit_callbacks, monkeypatch
):
    cut = []
    monkeypatch.setattr(replay_services, "clip_cut_dispatch", lambda clip_id, live=False: cut.append((clip_id, live)))
    space = LiveSpaceFactory(host=host)
    Space.objects.filter(pk=space.pk).update(started_at=timezone.now() - timedelta(minutes=2))
    space.refresh_from_db()
    replay_services.recording_start(space=space, by=host)
    client.force_login(listener)
    assert "Clip the last 30 seconds" in client.get(space.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rooms:clip_create", args=[space.pk]))
    clip = space.recording.clips.get()
    assert clip.end_ms - clip.start_ms == 30_000 and 119_000 <= clip.end_ms <= 125_000
    assert cut == [(clip.pk, True)]

    client.force_login(host)
    client.post(reverse("rooms:recording", args=[space.pk]), {"action": "clipping_off"})
    client.force_login(listener)
    assert "Clip the last 30 seconds" not in client.get(space.get_absolute_url()).content.decode()
    response = client.post(reverse("rooms:clip_create", args=[space.pk]), follow=True)
    assert "The host turned clipping off for this Space." in response.content.decode()


def test_clips_of_gated_spaces_follow_the_spaces_rules_and_go_with_the_recording(client, host, listener):
    space = ended_with_replay(host, audience=Space.Audience.TICKETED)
    client.force_login(host)
    client.post(reverse("rooms:clip_create", args=[space.pk]), {"start_s": "1", "length_s": "2"})
    clip = space.recording.clips.get()
    client.force_login(listener)
    assert client.get(clip.get_absolute_url()).status_code == 403
    assert client.get(reverse("rooms:clip_audio", args=[clip.pk])).status_code == 403
    replay_services.recording_delete(space=space, by=host)
    assert client.get(reverse("rooms:clip_audio", args=[clip.pk])).status_code == 410


def test_a_clip_sent_by_message_follows_the_spaces_rules_and_the_sharing_limit(client, host, listener, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "share_dm": (2, 600)}
    space = ended_with_replay(host)
    clip = Clip.objects.create(recording=space.recording, made_by=host, start_ms=1_000, end_ms=3_000)
    url = reverse("rooms:clip_share_dm", args=[clip.pk])
    friends = UserFactory.create_batch(3)
    client.force_login(listener)
    for friend in friends:
        response = client.post(url, {"username": friend.username}, follow=True)
    assert response.redirect_chain[-1][0] == clip.get_absolute_url()
    assert "sharing too fast. Try again in" in response.content.decode()
    assert [m.body for m in Message.objects.all()] == [
        f"Listen to this clip of “Gardens”: http://testserver{clip.get_absolute_url()}"
    ] * 2
    Block.objects.create(blocker=host, blocked=listener)
    assert client.post(url, {"username": "maya"}).status_code == 403
    assert Message.objects.count() == 2
