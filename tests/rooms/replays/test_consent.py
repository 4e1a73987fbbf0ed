"""Recording consent: who is recorded, the answers speakers give on stage, and the recorder keeping only theirs."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from captions.models import CaptionPreference
from rooms.models import Role
from rooms.replays import recorder, selectors
from rooms.replays import services as replay_services
from rooms.replays.models import Recording, RecordingChunk, RecordingConsent
from tests.accounts.factories import UserFactory
from tests.captions.speech import opus_frames
from tests.personas import seat
from tests.rooms.replays.audio import speak

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_recorder_threads(monkeypatch):
    """The recorder here is driven by hand, frame by frame."""
    monkeypatch.setattr(replay_services, "recorder_dispatch", lambda space_id: True)


@pytest.fixture
def recorded(live_space, host):
    replay_services.recording_start(space=live_space, by=host)
    return live_space


@pytest.fixture
def dora(recorded):
    # Dora speaks in the recorded Space and has said nothing about recording.
    user = UserFactory(username="dora", display_name="Dora")
    seat(recorded, user, Role.SPEAKER)
    return user


@pytest.fixture
def quiet_quinn(recorded):
    # Quinn speaks in the recorded Space but turned off captioning of their voice.
    user = UserFactory(username="quinn", display_name="Quinn")
    CaptionPreference.objects.create(user=user, caption_my_voice=False)
    seat(recorded, user, Role.SPEAKER)
    return user


def recorded_ids(space) -> set[int]:
    return set(selectors.speaker_seats(space_id=space.pk).recorded.values())


def test_speakers_are_recorded_unless_they_decline_and_the_host_always_is(recorded, host, dora):
    assert recorded_ids(recorded) == {host.pk, dora.pk}
    replay_services.recording_consent_set(space=recorded, by=dora, accepted=False)
    assert recorded_ids(recorded) == {host.pk}
    assert RecordingConsent.objects.get(user=dora).accepted is False
    replay_services.recording_consent_set(space=recorded, by=dora, accepted=True)  # changed her mind
    assert recorded_ids(recorded) == {host.pk, dora.pk}
    assert RecordingConsent.objects.filter(user=dora).count() == 1


def test_a_speaker_who_declined_captioning_is_recorded_only_after_accepting(recorded, host, quiet_quinn):
    assert recorded_ids(recorded) == {host.pk}
    replay_services.recording_consent_set(space=recorded, by=quiet_quinn, accepted=True)
    assert recorded_ids(recorded) == {host.pk, quiet_quinn.pk}


def test_the_host_and_people_outside_the_space_cannot_answer(recorded, host, listener):
    with pytest.raises(Exception, match="stop recording"):
        replay_services.recording_consent_set(space=recorded, by=host, accepted=False)
    with pytest.raises(Exception, match="Join the Space first"):
        replay_services.recording_consent_set(space=recorded, by=listener, accepted=False)


def frames_of(space, user, pcm: bytes) -> list[bytes]:
    index = space.participants.get(user=user).speaker_index
    origin = time.time() * 1000
    return [bytes((index,)) + frame[1:] for frame in opus_frames(pcm, origin_ms=origin, speaker_index=index)]


def test_the_recorder_skips_the_frames_of_speakers_who_declined(recorded, host, dora, quiet_quinn):
    rec = recorder.SpaceRecorder(recorded.pk, holder="test-holder")
    rec.started_ms = recorded.started_at.timestamp() * 1000
    Recording.objects.filter(pk=recorded.pk).update(holder="test-holder")
    pcm = speak("One two three.")[: 16_000 * 2]
    rec._look_up_speakers()
    for user in (host, dora, quiet_quinn):
        for frame in frames_of(recorded, user, pcm):
            rec._take(time.time() * 1000, frame)
    # Dora declines before the flush: what she said since the last one is dropped too.
    replay_services.recording_consent_set(space=recorded, by=dora, accepted=False)
    rec._look_up_speakers()
    rec._flush()
    speakers = set(RecordingChunk.objects.filter(recording_id=recorded.pk).values_list("speaker_id", flat=True))
    assert speakers == {host.pk}
    assert rec.written > 0


def test_a_speaker_answers_from_the_room_and_bad_answers_get_a_clear_error(client, recorded, dora):
    client.force_login(dora)
    url = reverse("rooms:recording_consent", args=[recorded.pk])
    answer = client.post(url, {"choice": "decline"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and answer.json()["ok"]
    assert not RecordingConsent.objects.get(user=dora).accepted
    bad = client.post(url, {"choice": "maybe"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and bad.json()["error"] == "Choose to accept or decline recording."
    page = client.post(url, {"choice": "accept"}, follow=True)
    assert "Your voice is recorded while you speak." in page.content.decode()
    assert RecordingConsent.objects.get(user=dora).accepted


def test_the_room_tells_a_speaker_who_declined_captioning_they_are_not_recorded_unless_they_accept(
    client, recorded, quiet_quinn
):
    client.force_login(quiet_quinn)
    page = client.get(recorded.get_absolute_url()).content.decode()
    assert 'id="rec-consent"' in page
    assert "You turned off captioning of your voice, so it is <strong>not recorded</strong> unless you accept." in page
    assert "Your voice is not recorded." in page
