"""Caption pages: the room's caption panel, settings with field errors, transcripts and their downloads."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block
from captions.models import CaptionPreference, CaptionSegment
from rooms.models import Participant, Role, Space
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended_space(host, bob):
    space = LiveSpaceFactory(host=host, title="Garden & <Co>")
    Participant.objects.create(space=space, user=bob, role=Role.SPEAKER, speaker_index=1)
    Space.objects.filter(pk=space.pk).update(state=Space.State.ENDED, ended_at=timezone.now())
    CaptionSegment.objects.create(space=space, speaker=host, start_ms=1_500, end_ms=3_250, text="Welcome to the show.")
    CaptionSegment.objects.create(space=space, speaker=bob, start_ms=3_661_001, end_ms=3_662_000, text="A < B -> yes")
    space.refresh_from_db()
    return space


def client_for(client, user):
    client.force_login(user)
    return client


def test_webvtt_download_is_exact(client, ended_space, alice):
    response = client_for(client, alice).get(reverse("captions:transcript_vtt", args=[ended_space.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="garden-co-{ended_space.pk}-transcript.vtt"'
    assert response.content.decode() == (
        "WEBVTT - Garden & <Co>\n"
        "\n"
        "1\n"
        "00:00:01.500 --> 00:00:03.250\n"
        "<v Maya>Welcome to the show.\n"
        "\n"
        "2\n"
        "01:01:01.001 --> 01:01:02.000\n"
        "<v Bob>A &lt; B -&gt; yes\n"
    )


def test_plain_text_download_is_exact(client, ended_space, alice):
    response = client_for(client, alice).get(reverse("captions:transcript_txt", args=[ended_space.pk]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        "Garden & <Co>\n\n[00:00:01] Maya: Welcome to the show.\n[01:01:01] Bob: A < B -> yes\n"
    )


def test_ended_page_lists_the_transcript_with_speakers_and_times(client, ended_space, alice):
    page = client_for(client, alice).get(ended_space.get_absolute_url()).content.decode()
    assert 'id="transcript"' in page
    assert "00:00:01</time> <strong>Maya</strong>: Welcome to the show." in page
    assert "01:01:01</time> <strong>Bob</strong>: A &lt; B -&gt; yes" in page
    assert reverse("captions:transcript_vtt", args=[ended_space.pk]) in page
    assert reverse("captions:transcript_delete", args=[ended_space.pk]) not in page  # only the host deletes


def test_only_the_host_may_delete_the_transcript(client, ended_space, host, bob):
    url = reverse("captions:transcript_delete", args=[ended_space.pk])
    as_bob = client_for(client, bob)
    assert as_bob.get(url).status_code == 403
    assert as_bob.post(url).status_code == 403
    assert CaptionSegment.objects.filter(space=ended_space).count() == 2

    as_host = client_for(client, host)
    confirm = as_host.get(url)
    assert confirm.status_code == 200 and "All 2 captions will be deleted" in confirm.content.decode()
    assert CaptionSegment.objects.filter(space=ended_space).count() == 2  # asking deletes nothing
    response = as_host.post(url)
    assert response.status_code == 302 and response["Location"] == ended_space.get_absolute_url()
    assert not CaptionSegment.objects.filter(space=ended_space).exists()
    assert "No captions were kept" in as_host.get(ended_space.get_absolute_url()).content.decode()


def test_deleting_a_transcript_of_one_caption_says_its_one_caption(client, ended_space, host):
    CaptionSegment.objects.filter(space=ended_space, speaker=host).delete()
    confirm = client_for(client, host).get(reverse("captions:transcript_delete", args=[ended_space.pk])).text
    assert "Its one caption will be deleted" in confirm and "All 1 caption" not in confirm


def test_transcripts_follow_who_could_see_the_space(client, ended_space, host, alice, charlie):
    url = reverse("captions:transcript_txt", args=[ended_space.pk])
    Block.objects.create(blocker=host, blocked=charlie)
    assert client_for(client, charlie).get(url).status_code == 403
    Space.objects.filter(pk=ended_space.pk).update(audience=Space.Audience.TICKETED)
    assert client_for(client, alice).get(url).status_code == 403  # was not in a ticketed Space
    assert client_for(client, host).get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_a_transcript_is_read_by_whoever_may_hear_the_replay_and_no_one_else(client, ended_space, host, bob, alice):
    """One rule for both: someone removed from a public Space, or who listened to a ticketed one and holds no
    ticket (refunded, say), is refused the transcript as they are the replay, and told why."""
    url = reverse("captions:transcript_txt", args=[ended_space.pk])
    page = reverse("rooms:detail", args=[ended_space.pk])
    Participant.objects.create(space=ended_space, user=alice, role=Role.LISTENER, removed_at=timezone.now())
    response = client_for(client, alice).get(url)
    assert response.status_code == 403 and "You were removed from this Space." in response.text
    assert "Welcome to the show." not in client.get(page).text

    Space.objects.filter(pk=ended_space.pk).update(audience=Space.Audience.TICKETED)
    dana = UserFactory(username="dana")
    Participant.objects.create(space=ended_space, user=dana, role=Role.LISTENER)  # listened; holds no ticket now
    response = client_for(client, dana).get(url)
    assert response.status_code == 403 and "Only ticket holders" in response.text
    assert "Welcome to the show." not in client.get(page).text
    assert "Welcome to the show." in client_for(client, bob).get(page).text  # he spoke in it: no ticket needed


def test_a_live_space_has_no_transcript_download_yet(client, host, alice):
    space = LiveSpaceFactory(host=host)
    assert client_for(client, alice).get(reverse("captions:transcript_vtt", args=[space.pk])).status_code == 404


def test_preferences_save_from_the_room_page_as_json(client, alice):
    url = reverse("captions:preferences")
    data = {"enabled": "on", "text_size": "xlarge", "high_contrast": "on", "position": "top"}
    response = client_for(client, alice).post(url, data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "preference": {
            "enabled": True,
            "text_size": "xlarge",
            "high_contrast": True,
            "position": "top",
            "caption_my_voice": False,
            "alert_words": "",
        },
    }
    saved = CaptionPreference.objects.get(user=alice)
    assert (saved.enabled, saved.text_size, saved.high_contrast, saved.position) == (True, "xlarge", True, "top")


def test_bad_preferences_get_field_errors_and_change_nothing(client, alice):
    CaptionPreference.objects.create(user=alice, text_size="large", position="bottom")
    url = reverse("captions:preferences")
    response = client_for(client, alice).post(
        url, {"text_size": "huge", "position": "sideways"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"text_size", "position"}
    assert "huge is not one of the available choices" in errors["text_size"][0]

    html = client.post(url, {"text_size": "huge", "position": "top"})
    assert html.status_code == 422
    assert "Please fix the fields marked below." in html.content.decode()
    saved = CaptionPreference.objects.get(user=alice)
    assert (saved.text_size, saved.position) == ("large", "bottom")


def test_preferences_form_page_saves_and_returns_to_the_room(client, alice, host):
    space = LiveSpaceFactory(host=host)
    url = reverse("captions:preferences")
    assert "Caption my voice" in client_for(client, alice).get(url).content.decode()
    data = {"text_size": "small", "position": "bottom", "next": space.get_absolute_url()}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == space.get_absolute_url()
    evil = client.post(url, {**data, "next": "https://evil.example/"})
    assert evil["Location"] == url


def test_room_page_carries_the_caption_panel_with_saved_appearance(client, alice, host):
    space = LiveSpaceFactory(host=host)
    CaptionPreference.objects.create(user=alice, enabled=True, text_size="large", high_contrast=True, position="top")
    page = client_for(client, alice).get(space.get_absolute_url()).content.decode()
    assert 'id="captions-log" class="captions-log" role="log" aria-live="polite"' in page
    assert 'data-position="top" data-size="large"' in page and 'data-contrast="true"' in page
    assert ">Turn captions off</button>" in page
    assert "captions/captions.js" in page
    assert 'name="caption_my_voice"' in page


def test_captions_are_on_for_a_listener_who_never_chose(client, alice, host):
    space = LiveSpaceFactory(host=host)
    page = client_for(client, alice).get(space.get_absolute_url()).content.decode()
    assert 'data-enabled="true"' in page and ">Turn captions off</button>" in page
    assert '<div id="captions-view">' in page  # not hidden


def test_a_listener_who_turned_captions_off_finds_them_off_next_time(client, alice, host):
    space = LiveSpaceFactory(host=host)
    signed_in = client_for(client, alice)
    data = {"text_size": "medium", "position": "bottom", "caption_my_voice": "on"}  # "enabled" unticked
    assert signed_in.post(reverse("captions:preferences"), data, HTTP_ACCEPT="application/json").json()["ok"]
    page = signed_in.get(space.get_absolute_url()).content.decode()
    assert 'data-enabled="false"' in page and ">Turn captions on</button>" in page


@pytest.mark.parametrize("position", ["top", "bottom"])
def test_the_room_page_draws_the_captions_panel_once_where_the_person_keeps_it(client, alice, host, position):
    CaptionPreference.objects.create(user=alice, position=position)
    space = LiveSpaceFactory(host=host)
    with CaptureQueriesContext(connection) as queries:
        page = client_for(client, alice).get(space.get_absolute_url()).content.decode()
    assert page.count('id="captions"') == 1
    caption_at, stage_at = page.index('id="captions"'), page.index('id="speakers"')
    assert (caption_at < stage_at) == (position == "top")
    preference_reads = [q for q in queries.captured_queries if '"captions_captionpreference"' in q["sql"]]
    assert len(preference_reads) == 1  # asked for at both ends of the page, read once


def test_the_settings_drawn_once_for_many_people_are_still_each_persons_own(client, alice, bob, host):
    """The panel's fields are drawn once per process for everyone with the same settings (a followers' rush draws
    thousands of room pages); whoever keeps other settings gets their own, and a change shows at once."""
    space = LiveSpaceFactory(host=host)
    settings_url = reverse("captions:preferences")

    def fields(user) -> str:
        page = client_for(client, user).get(space.get_absolute_url()).content.decode()
        return page[page.index('<input type="hidden" name="next"') : page.index('id="captions-saved"')]

    assert fields(alice) == fields(bob)  # both never chose: drawn the same
    assert 'name="alert_words" value' not in fields(alice)
    data = {"enabled": "on", "text_size": "large", "position": "bottom", "alert_words": "parking"}
    assert client_for(client, alice).post(settings_url, data, HTTP_ACCEPT="application/json").json()["ok"]

    assert 'name="alert_words" value="parking"' in fields(alice)
    assert '<option value="large" selected>' in fields(alice)
    assert 'name="alert_words" value' not in fields(bob) and '<option value="large" selected>' not in fields(bob)
    data["alert_words"] = "gardening"
    client_for(client, alice).post(settings_url, data, HTTP_ACCEPT="application/json")
    assert 'name="alert_words" value="gardening"' in fields(alice)
