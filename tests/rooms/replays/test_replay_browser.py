"""End to end in Debian's Chromium: a recorded Space where two fake-microphone speakers talk in turn, then its
replay: the decoded replay follows each speaker's voice at the moment they spoke, and the replay page plays,
seeks from the transcript, changes speed and skips to the next speaker, at 390 and 1280 px, axe-clean.

With no REDIS_URL the recorder runs in-process in the live Daphne server (the embedded default); with
REDIS_URL it runs in a Celery worker consuming the `recordings` queue (a thread of the test process), taking
the frames from Redis pub/sub. Live captioning is off in tests (CAPTIONS_LIVE), so the transcript is seeded
from the moments the test saw each speaker talk.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from captions.models import CaptionSegment
from rooms.models import Participant, Role, Space
from rooms.replays.models import Recording
from rooms.replays.storage import replay_storage
from tests.accounts.factories import UserFactory
from tests.browser.support import signed_in_page
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, fake_microphone_args
from tests.rooms.factories import SpaceFactory, make_host
from tests.rooms.replays.audio import decode_file
from tests.rooms.replays.test_recorder import wait_for
from tests.rooms.test_audio_browser import OTHER_SPEECH, SPEECH, best_loop_correlation, envelope, synthesise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_DAPHNE_ENV = {"REPLAYS_FLUSH_SECONDS": "1", "REPLAYS_LEASE_SECONDS": "3"}
# Outside test-results/, which pytest-playwright empties at the start of every run.
SHOTS = Path(tempfile.gettempdir()) / "spaces-screenshots" / "replays"


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> tuple[str, str]:
    return (
        synthesise(tmp_path_factory.mktemp("host-voice"), SPEECH),
        synthesise(tmp_path_factory.mktemp("guest-voice"), OTHER_SPEECH),
    )


def launch(browser_type, wav: str):
    return browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            *fake_microphone_args(wav),
        ],
    )


@pytest.fixture
def two_microphones(browser_type, voices):
    browsers = [launch(browser_type, wav) for wav in voices]
    yield browsers
    for browser in browsers:
        browser.close()


def talk(page, seconds: float) -> tuple[float, float]:
    """Unmuted speaking for `seconds` from the page's microphone; returns (from, to) in epoch ms as sent.

    The dock's one control reads Talk (a speaker not yet on air), Unmute, or Mute (on air: the host is
    from the start)."""
    control = page.locator("#talk")
    expect(control).to_have_text(re.compile(r"^\s*(Talk|Unmute|Mute)\s*$"))
    if control.inner_text().strip() != "Mute":
        control.click()
    expect(control).to_have_text(re.compile(r"^\s*Mute\s*$"))
    page.wait_for_function("window.spacesAudioSpeaker && window.spacesAudioSpeaker.stats.framesSent > 5")
    before = page.evaluate("window.spacesAudioSpeaker.stats.framesSent")
    began = time.time() * 1000
    page.wait_for_function(
        f"window.spacesAudioSpeaker.stats.framesSent > {before + int(seconds * 50)}",
        timeout=int(seconds * 1000) + 20_000,
    )
    ended = time.time() * 1000
    control.click()
    # The frames stop at the source now; the server's confirmation can queue behind the frames a loaded
    # machine has not relayed yet, and the recorder places those by their capture time anyway.
    page.evaluate("window.spacesAudioSpeaker.setMuted(true)")
    return began, ended


def source_16k(path: str) -> list[float]:
    samples, _ = decode_file(path)
    return samples.tolist()


def test_a_recorded_space_replays_each_voice_at_its_moment_and_the_page_seeks_from_the_transcript(
    two_microphones,
    live_daphne,
    recording_worker,
    voices,
    settings,
):
    settings.REPLAYS_FLUSH_SECONDS = 1  # the worker of the REDIS_URL mode runs in this process
    host_browser, guest_browser = two_microphones
    host = make_host(username="maya", display_name="Maya")
    guest = UserFactory(username="dora", display_name="Dora")
    audience = UserFactory(username="sam", display_name="Sam")
    space = SpaceFactory(host=host, title="Garden hour")
    base = f"http://{live_daphne}"

    # The host chooses to record as they start.
    host_page = signed_in_page(host_browser, base, host, f"/spaces/{space.pk}/")
    host_page.get_by_role("button", name="Start now").click()
    host_page.get_by_role("button", name="Record this Space").click()
    expect(host_page.locator("#rec-badge")).to_be_visible()
    assert wait_for(lambda: Recording.objects.get(pk=space.pk).holder not in ("", Recording.PENDING), 30)

    # On the host's machine: the guest's browser then only captures and encodes while the guest talks.
    listener = signed_in_page(host_browser, base, audience, f"/spaces/{space.pk}/")
    expect(listener.locator("#rec-badge")).to_contain_text("This Space is being recorded")
    expect(listener.locator("#rec-announce")).to_have_text("This Space is being recorded.")

    Participant.objects.create(space=space, user=guest, role=Role.SPEAKER, speaker_index=1)
    guest_page = signed_in_page(guest_browser, base, guest, f"/spaces/{space.pk}/")
    for page in (host_page, guest_page):
        page.locator("#mic-check meter").wait_for(timeout=15_000)

    host_turn = talk(host_page, 6)
    guest_turn = talk(guest_page, 6)
    host_page.once("dialog", lambda dialog: dialog.accept())
    host_page.get_by_role("button", name="End Space").click()
    ended = time.monotonic()
    space.refresh_from_db()
    assert wait_for(lambda: Space.objects.get(pk=space.pk).state == Space.State.ENDED, 60)
    space.refresh_from_db()
    started_ms = space.started_at.timestamp() * 1000
    spans = {
        who: (int(a - started_ms), int(b - started_ms)) for who, (a, b) in (("host", host_turn), ("guest", guest_turn))
    }
    CaptionSegment.objects.create(
        space=space, speaker=host, start_ms=spans["host"][0], end_ms=spans["host"][1], text=SPEECH
    )
    CaptionSegment.objects.create(
        space=space, speaker=guest, start_ms=spans["guest"][0], end_ms=spans["guest"][1], text=OTHER_SPEECH
    )

    # The listener, still on the page, is taken to the ended Space, where the replay appears once mixed.
    listener.wait_for_url(f"**/spaces/{space.pk}/", timeout=60_000)
    assert wait_for(lambda: Recording.objects.get(pk=space.pk).state == Recording.State.READY, 60)
    ready_after = time.monotonic() - ended
    recording = Recording.objects.get(pk=space.pk)
    print(
        f"replay ready {ready_after:.1f} s after the end (mix {recording.mix_seconds} s), {recording.size_bytes} bytes"
    )

    # The decoded replay follows the host's voice during the host's turn and the guest's during the guest's.
    with replay_storage().open(recording.audio, "rb") as handle:
        mixed, _ = decode_file(handle)
    sources = {"host": envelope(source_16k(voices[0]), 160), "guest": envelope(source_16k(voices[1]), 160)}
    for who, other in (("host", "guest"), ("guest", "host")):
        start, end = spans[who]
        turn = mixed[(start + 500) * 16 : (end - 300) * 16].tolist()
        assert rms_of(turn) > 0.01, f"the {who}'s turn is silent in the replay"
        own = best_loop_correlation(envelope(turn, 160), sources[who])
        chance = best_loop_correlation(envelope(turn, 160), sources[other])
        print(f"{who}: correlation {own:.2f} with their voice, {chance:.2f} with the other")
        assert own > 0.5 and own > chance + 0.15, (who, own, chance)
    # (The host is on air from the moment the room opens, so the replay is not silent before the host's turn.)

    # The replay page: plays, seeks from the transcript, 2x, next speaker, keyboard.
    listener.reload()
    audio = listener.locator("#replay-audio")
    expect(audio).to_be_visible()
    listener.wait_for_function(
        "(a => a.readyState >= 1 && isFinite(a.duration))(document.getElementById('replay-audio'))",
        timeout=15_000,
    )
    duration = listener.evaluate("document.getElementById('replay-audio').duration")
    assert abs(duration * 1000 - recording.duration_ms) < 500
    guest_line = listener.locator("#transcript li", has_text="Seven green boxes")
    guest_line.get_by_role("link").click()
    listener.wait_for_function(
        f"Math.abs(document.getElementById('replay-audio').currentTime - {spans['guest'][0] / 1000}) < 0.5"
    )
    expect(guest_line).to_have_class("current")
    expect(guest_line).to_have_attribute("aria-current", "true")
    listener.wait_for_function(
        "document.getElementById('replay-audio').currentTime > " + str(spans["guest"][0] / 1000 + 0.3)
    )
    assert listener.url.endswith(f"#t={spans['guest'][0] // 1000}")
    listener.get_by_role("button", name="2×").click()
    assert listener.evaluate("document.getElementById('replay-audio').playbackRate") == 2
    expect(listener.get_by_role("button", name="2×")).to_have_attribute("aria-pressed", "true")

    # Back to the host's line with the keyboard, then "n" skips to the next speaker (the guest).
    host_link = listener.locator("#transcript li", has_text="Welcome to the space").get_by_role("link")
    host_link.focus()
    listener.keyboard.press("Enter")
    listener.wait_for_function(
        f"Math.abs(document.getElementById('replay-audio').currentTime - {spans['host'][0] / 1000}) < 0.5"
    )
    listener.locator("body").press("n")
    listener.wait_for_function(
        f"Math.abs(document.getElementById('replay-audio').currentTime - {spans['guest'][0] / 1000}) < 0.5"
    )
    # Searching a word the guest said finds the Space and jumps into the replay at that moment.
    listener.goto("/captions/search/")
    listener.get_by_label("Words said in a Space").fill("boxes")
    listener.get_by_role("button", name="Search").click()
    listener.get_by_role("link", name="Garden hour").click()
    listener.wait_for_url(f"**/spaces/{space.pk}/#t={spans['guest'][0] // 1000}")
    listener.wait_for_function(
        "(t) => (a => a.readyState >= 1 && Math.abs(a.currentTime - t) < 1)(document.getElementById('replay-audio'))",
        arg=spans["guest"][0] // 1000,
    )
    # A link past the end says so instead of seeking.
    listener.evaluate("location.hash = '#t=99999'")
    expect(listener.locator("#replay-status")).to_contain_text("past the end of the replay")

    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        listener.set_viewport_size({"width": width, "height": 900})
        listener.screenshot(path=str(SHOTS / f"replay-{width}.png"), full_page=True)
        assert listener.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"overflow at {width}"
        results = Axe().run(listener)
        assert results.violations_count == 0, results.generate_report()
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.get_by_text("Replay listens: 1 from 1 person")).to_be_visible()
    host_page.set_viewport_size({"width": 390, "height": 900})
    host_page.screenshot(path=str(SHOTS / "replay-host-390.png"), full_page=True)
    assert Axe().run(host_page).violations_count == 0


def rms_of(samples: list[float]) -> float:
    return (sum(x * x for x in samples) / len(samples)) ** 0.5 if samples else 0.0


def test_the_room_shows_rec_to_a_listener_on_joining_at_390_and_1280(browser, live_daphne):
    from axe_playwright_python.sync_playwright import Axe

    from tests.rooms.factories import LiveSpaceFactory

    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Recorded room")
    Recording.objects.create(space=space, lease_expires_at=timezone.now() + timezone.timedelta(hours=1), holder="x")
    listener = signed_in_page(browser, f"http://{live_daphne}", UserFactory(username="sam"), f"/spaces/{space.pk}/")
    expect(listener.locator("#rec-announce")).to_have_text("This Space is being recorded.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        listener.set_viewport_size({"width": width, "height": 900})
        listener.screenshot(path=str(SHOTS / f"room-rec-{width}.png"))
        assert listener.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        results = Axe().run(listener)
        assert results.violations_count == 0, results.generate_report()
