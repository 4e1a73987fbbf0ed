"""In Debian's Chromium, at 390 and 1280 px: a speaker who declined captioning is told on stage that their voice
is not recorded unless they accept, and accepts; the host's replay page draws the listener curve above the
transcript; a clip posted to the timeline plays there with its captions."""

from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.models import Message
from captions.models import CaptionPreference, CaptionSegment
from rooms import services
from rooms.models import Role, Space
from rooms.replays import services as replay_services
from rooms.replays.models import Clip, ListenerSample, Recording, RecordingChunk, RecordingConsent
from rooms.replays.storage import replay_storage
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, signed_in_page
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(tempfile.gettempdir()) / "spaces-screenshots" / "replays"
WIDTHS = (390, 1280)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_speaker_who_declined_captioning_is_asked_on_stage_and_accepts_recording(browser, live_daphne, width):
    host = make_host(username="maya", display_name="Maya")
    quinn = UserFactory(username="quinn", display_name="Quinn")
    CaptionPreference.objects.create(user=quinn, caption_my_voice=False)
    space = LiveSpaceFactory(host=host, title="Gardens")
    Recording.objects.create(space=space)
    seat(space, quinn, Role.SPEAKER)
    page = signed_in_page(
        browser, f"http://{live_daphne}", quinn, space.get_absolute_url(), viewport={"width": width, "height": 900}
    )
    consent = page.locator("#rec-consent")
    expect(page.locator("#rec-badge")).to_be_visible()
    label = page.locator("#rec-badge strong").bounding_box()
    assert label and label["width"] > label["height"], f"REC is drawn on one line, not letter by letter: {label}"
    expect(consent).to_be_visible(timeout=30_000)  # shown once the room says Quinn is on stage
    expect(consent).to_contain_text("You turned off captioning of your voice, so it is not recorded unless you accept.")
    expect(page.locator("#rec-consent-state")).to_have_text("Your voice is not recorded.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"consent-asked-{width}.png"), full_page=True)
    page.get_by_role("button", name="Record my voice", exact=True).click()
    expect(page.locator("#rec-consent-state")).to_have_text("Your voice is recorded.")
    assert RecordingConsent.objects.get(user=quinn, recording_id=space.pk).accepted
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_host_sees_the_curve_and_a_posted_clip_plays_on_the_timeline(browser, live_daphne, width):
    host = make_host(username="maya", display_name="Maya")
    dora = UserFactory(username="dora", display_name="Dora")
    space = LiveSpaceFactory(host=host, title="Gardens")
    recording = Recording.objects.create(space=space)
    started = space.started_at
    for n, (listeners, joins, leaves, reactions) in enumerate(
        [(3, 3, 0, 2), (9, 7, 1, 12), (6, 1, 4, 3), (7, 2, 1, 0)]
    ):
        ListenerSample.objects.create(
            space=space,
            minute=started.replace(second=0, microsecond=0) + timedelta(minutes=n),
            listeners=listeners,
            joins=joins,
            leaves=leaves,
            reactions=reactions,
        )
    space = services.space_end(space=space, by=host)
    Space.objects.filter(pk=space.pk).update(ended_at=started + timedelta(minutes=4))
    space.refresh_from_db()
    audio = replay_storage().save(f"spaces/{space.pk}/replay-shot.m4a", ContentFile(b"x" * 100))
    Recording.objects.filter(pk=space.pk).update(
        state=Recording.State.READY, audio=audio, size_bytes=100, duration_ms=240_000, content_type="audio/mp4"
    )
    RecordingChunk.objects.create(
        recording=recording, speaker=dora, start_ms=60_000, end_ms=80_000, frames=1000, name="c"
    )
    CaptionSegment.objects.create(space=space, speaker=dora, start_ms=61_000, end_ms=70_000, text="Tomatoes need sun.")
    clip = Clip.objects.create(recording=recording, made_by=host, start_ms=60_000, end_ms=90_000, audio=audio)
    clip = Clip.objects.select_related("recording__space").get(pk=clip.pk)
    base = f"http://{live_daphne}"
    post = replay_services.clip_post_create(clip=clip, by=host, url=f"{base}{clip.get_absolute_url()}", text="Listen")

    page = signed_in_page(browser, base, host, space.get_absolute_url(), viewport={"width": width, "height": 900})
    curve = page.locator("#listener-curve")
    expect(curve).to_be_visible()
    expect(curve).to_contain_text("Peak 9")
    page.screenshot(path=str(SHOTS / f"curve-{width}.png"), full_page=True)
    page.goto(post.get_absolute_url())
    card = page.locator(".clip-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Dora: Tomatoes need sun.")
    expect(card.get_by_role("link", name="Hear it in the full replay at 00:01:00")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"clip-post-{width}.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_unrecorded_spaces_curve_is_drawn_in_its_colours_and_promises_no_replay(browser, live_daphne, width):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Gardens")
    started = space.started_at
    for n, (listeners, joins, leaves, reactions) in enumerate([(3, 3, 0, 2), (9, 7, 1, 12), (6, 1, 4, 3)]):
        ListenerSample.objects.create(
            space=space,
            minute=started.replace(second=0, microsecond=0) + timedelta(minutes=n),
            listeners=listeners,
            joins=joins,
            leaves=leaves,
            reactions=reactions,
        )
    space = services.space_end(space=space, by=host)
    Space.objects.filter(pk=space.pk).update(ended_at=started + timedelta(minutes=3))

    page = signed_in_page(
        browser, f"http://{live_daphne}", host, space.get_absolute_url(), viewport={"width": width, "height": 900}
    )
    curve = page.locator("#listener-curve")
    expect(curve).to_contain_text("Peak 9")
    # Without the replay's stylesheet the bars and the line were solid black blobs.
    expect(curve.locator(".curve-join").first).to_have_css("fill", "rgb(21, 128, 61)")
    expect(curve.locator(".curve-line")).to_have_css("fill", "none")
    # There is no replay to seek: the page offers none.
    expect(curve).not_to_contain_text("Click the curve")
    expect(curve.locator("table a")).to_have_count(0)
    page.screenshot(path=str(SHOTS / f"curve-unrecorded-{width}.png"), full_page=True)
    page.context.close()


def test_a_listener_already_in_the_room_sees_rec_when_the_host_starts_recording(browser, live_daphne):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Gardens")
    base = f"http://{live_daphne}"
    listener = signed_in_page(browser, base, UserFactory(username="sam"), space.get_absolute_url())
    host_page = signed_in_page(browser, base, host, space.get_absolute_url())
    for page in (listener, host_page):
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(listener.locator("#rec-badge")).to_be_hidden()

    host_page.get_by_role("button", name="Record this Space").click()
    expect(host_page.locator("#rec-badge")).to_be_visible()
    # The listener's page had no badge to show: they were recorded without a word.
    expect(listener.locator("#rec-badge")).to_contain_text("This Space is being recorded")
    expect(listener.locator("#rec-announce")).to_have_text("This Space is being recorded.")
    assert listener.errors == []
    listener.context.close()
    host_page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_host_reads_the_delete_buttons_of_a_replay_and_its_transcript(browser, live_server, width):
    from axe_playwright_python.sync_playwright import Axe

    def ended_space():
        host = make_host(username="maya", display_name="Maya")
        space = LiveSpaceFactory(host=host, title="Gardens")
        Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        CaptionSegment.objects.create(space=space, speaker=host, start_ms=1_000, end_ms=3_000, text="Tomatoes.")
        return host, space

    host, space = off_the_loop(ended_space)
    page = signed_in_page(
        browser, live_server.url, host, space.get_absolute_url(), viewport={"width": width, "height": 900}
    )
    for link in ("Delete recording", "Delete transcript"):
        page.goto(space.get_absolute_url())
        page.get_by_role("link", name=link).click()
        button = page.get_by_role("button", name=link)
        expect(button).to_be_visible()
        # Red words on the purple of an ordinary button could not be read.
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        colours = button.evaluate("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
        assert colours == ["rgb(255, 255, 255)", "rgb(185, 28, 28)"], colours
        page.screenshot(path=str(SHOTS / f"delete-{link.split()[1]}-{width}.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_clip_past_the_end_of_the_replay_is_refused_where_it_is_typed(browser, live_server, width):
    def replay_of_four_minutes():
        host = make_host(username="maya", display_name="Maya")
        space = LiveSpaceFactory(host=host, title="Gardens")
        Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        audio = replay_storage().save(f"spaces/{space.pk}/replay-shot.m4a", ContentFile(b"x" * 100))
        Recording.objects.filter(pk=space.pk).update(
            state=Recording.State.READY, audio=audio, size_bytes=100, duration_ms=240_000, content_type="audio/mp4"
        )
        return space

    space = off_the_loop(replay_of_four_minutes)
    listener = UserFactory(username="sam", display_name="Sam")
    page = signed_in_page(
        browser, live_server.url, listener, space.get_absolute_url(), viewport={"width": width, "height": 900}
    )
    page.get_by_text("Clip up to 60 seconds").click()
    start = page.get_by_label("From (seconds into the replay)")
    start.fill("500")
    page.get_by_role("button", name="Make the clip").click()
    # The form stays open with what was typed, and says why, instead of reloading the page closed and reset.
    assert start.evaluate("input => input.validity.rangeOverflow"), start.evaluate("input => input.validationMessage")
    expect(start).to_have_value("500")
    assert page.url == f"{live_server.url}{space.get_absolute_url()}" and not Clip.objects.exists()
    start.fill("230.5")
    page.get_by_role("button", name="Make the clip").click()
    page.wait_for_url("**/spaces/clips/*/")
    assert Clip.objects.get().start_ms == 230_500
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_clip_being_cut_shows_its_player_when_ready_keeping_what_is_typed(browser, live_server, width):
    def clip_being_cut():
        host = make_host(username="maya", display_name="Maya")
        space = LiveSpaceFactory(host=host, title="Gardens")
        recording = Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        Recording.objects.filter(pk=space.pk).update(state=Recording.State.READY, audio="x.m4a", duration_ms=240_000)
        return Clip.objects.create(recording=recording, made_by=host, start_ms=60_000, end_ms=90_000)

    clip = off_the_loop(clip_being_cut)
    page = signed_in_page(
        browser, live_server.url, clip.made_by, clip.get_absolute_url(), viewport={"width": width, "height": 900}
    )
    expect(page.locator("#clip-listen").get_by_role("status")).to_have_text(
        "This clip is being cut; it is ready in a few seconds."
    )
    page.get_by_label("Say something about it (optional)").fill("The best minute")
    audio = replay_storage().save(f"spaces/{clip.recording_id}/clips/{clip.pk}.m4a", ContentFile(b"x" * 100))
    Clip.objects.filter(pk=clip.pk).update(audio=audio)
    # It stayed "being cut" until the person reloaded the page (and lost what they had typed).
    expect(page.locator("#clip-audio")).to_be_attached(timeout=10_000)
    expect(page.get_by_label("Say something about it (optional)")).to_have_value("The best minute")
    page.screenshot(path=str(SHOTS / f"clip-ready-{width}.png"), full_page=True)
    page.context.close()


def _ended_space_being_prepared():
    host = make_host(username="maya", display_name="Maya")
    space = services.space_end(space=LiveSpaceFactory(host=host, title="Gardens"), by=host)
    # Made after the end, so no recorder of this test's server mixes it behind the test's back.
    Recording.objects.create(space=space, state=Recording.State.MIXING)
    CaptionSegment.objects.create(space=space, speaker=host, start_ms=1_000, end_ms=3_000, text="Tomatoes.")
    return space


@pytest.mark.parametrize("width", WIDTHS)
def test_a_replay_being_prepared_appears_and_plays_without_a_reload(browser, live_server, width):
    space = off_the_loop(_ended_space_being_prepared)
    page = signed_in_page(
        browser,
        live_server.url,
        UserFactory(username="sam", display_name="Sam"),
        space.get_absolute_url(),
        viewport={"width": width, "height": 900},
    )
    expect(page.locator("#replay-status")).to_contain_text("The replay is being prepared")
    page.screenshot(path=str(SHOTS / f"replay-preparing-{width}.png"), full_page=True)
    audio = replay_storage().save(f"spaces/{space.pk}/replay-ready.m4a", ContentFile(b"x" * 100))
    Recording.objects.filter(pk=space.pk).update(
        state=Recording.State.READY, audio=audio, size_bytes=100, duration_ms=240_000, content_type="audio/mp4"
    )
    # It said "being prepared" until the person reloaded the page by hand.
    expect(page.locator("#replay-audio")).to_be_attached(timeout=15_000)
    # The player's script came with it: its speed buttons answer.
    page.get_by_role("button", name="1.5×").click()
    expect(page.locator("#replay-status")).to_have_text("Playing at 1.5×.")
    page.screenshot(path=str(SHOTS / f"replay-ready-{width}.png"), full_page=True)
    page.context.close()


def test_a_replay_that_could_not_be_prepared_says_so_without_a_reload(browser, live_server):
    space = off_the_loop(_ended_space_being_prepared)
    page = signed_in_page(
        browser, live_server.url, UserFactory(username="sam", display_name="Sam"), space.get_absolute_url()
    )
    expect(page.locator("#replay-status")).to_contain_text("The replay is being prepared")
    Recording.objects.filter(pk=space.pk).update(state=Recording.State.FAILED)
    expect(page.locator("#replay-status")).to_have_text(
        "The replay could not be prepared, so there is nothing to play.", timeout=15_000
    )
    expect(page.locator("#replay-layout [hx-trigger]")).to_have_count(0)  # and it stops asking
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_listener_copies_a_clips_link_and_sends_it_by_direct_message(browser, live_server, width):
    def a_clip():
        host = make_host(username="maya", display_name="Maya")
        UserFactory(username="dora", display_name="Dora")
        space = LiveSpaceFactory(host=host, title="Gardens")
        recording = Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        audio = replay_storage().save(f"spaces/{space.pk}/replay-shot.m4a", ContentFile(b"x" * 100))
        Recording.objects.filter(pk=space.pk).update(state=Recording.State.READY, audio=audio, duration_ms=240_000)
        return Clip.objects.create(recording=recording, made_by=host, start_ms=60_000, end_ms=90_000, audio=audio)

    clip = off_the_loop(a_clip)
    sam = UserFactory(username="sam", display_name="Sam")
    page = signed_in_page(
        browser,
        live_server.url,
        sam,
        clip.get_absolute_url(),
        viewport={"width": width, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    link = f"{live_server.url}{clip.get_absolute_url()}"
    share = page.get_by_role("region", name="Share this clip")
    share.get_by_role("button", name="Copy link").click()
    expect(share.get_by_text("Link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link

    to = share.get_by_role("textbox", name="Send by direct message to")
    to.fill("ghost")
    share.get_by_role("button", name="Send").click()
    expect(share.locator("#share-dm-result")).to_have_text("No account is called @ghost.")
    expect(to).to_have_value("ghost")  # kept, to mend
    to.fill("dora")
    share.get_by_role("button", name="Send").click()
    expect(share.locator("#share-dm-result")).to_have_text("Sent to @dora.")
    expect(to).to_have_value("")
    assert Message.objects.get(sender=sam).body == f"Listen to this clip of “Gardens”: {link}"
    page.screenshot(path=str(SHOTS / f"clip-shared-{width}.png"), full_page=True)
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_transcripts_times_seek_the_replay_and_are_not_links_without_one(browser, live_server, width):
    def two_ended_spaces():
        host = make_host(username="maya", display_name="Maya")
        spaces = []
        for title in ("Not recorded", "Recorded"):
            space = services.space_end(space=LiveSpaceFactory(host=host, title=title), by=host)
            CaptionSegment.objects.create(space=space, speaker=host, start_ms=61_000, end_ms=63_000, text="Tomatoes.")
            spaces.append(space)
        audio = replay_storage().save(f"spaces/{spaces[1].pk}/replay-shot.m4a", ContentFile(b"x" * 100))
        Recording.objects.create(
            space=spaces[1], state=Recording.State.READY, audio=audio, size_bytes=100, duration_ms=240_000
        )
        return spaces

    unrecorded, recorded = off_the_loop(two_ended_spaces)
    page = signed_in_page(
        browser,
        live_server.url,
        UserFactory(username="sam", display_name="Sam"),
        unrecorded.get_absolute_url(),
        viewport={"width": width, "height": 900},
    )
    transcript = page.locator("#transcript")
    expect(transcript.locator("li")).to_have_text("00:01:01 Maya: Tomatoes.")
    # Each time was a link to #t=61 on a page with no replay to seek in: it went nowhere.
    expect(transcript.locator("li a")).to_have_count(0)
    page.screenshot(path=str(SHOTS / f"transcript-unrecorded-{width}.png"), full_page=True)

    page.goto(recorded.get_absolute_url())
    page.locator("#transcript").get_by_role("link", name="00:01:01").click()
    expect(page).to_have_url(re.compile(r"#t=61$"))
    assert page.locator("#replay-audio").evaluate("audio => audio.currentTime") == 61
    page.context.close()
