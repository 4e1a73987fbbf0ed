"""The line in real room pages (Debian's Chromium, a live Daphne whose process has room for two sockets): a
listener past the capacity sees that they are in line and hears nothing; when a listener inside leaves, the
first in line is let in and hears the host without a reload, the next one (drawn in line from the start, since
others wait) sees an estimated wait, and the host sees how many are waiting. Screenshots at 390 and 1280 px go
to $SPACES_SCREENSHOTS (else the test's tmp dir)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.services import block_create
from tests.accounts.factories import UserFactory
from tests.browser.support import signed_in_page
from tests.rooms import test_audio_browser as audio
from tests.rooms.factories import LiveSpaceFactory, make_host

# A fake microphone playing a sentence, so that the host is on air (fixtures of the audio tests).
browser_type_launch_args = audio.browser_type_launch_args
audio_browser = audio.audio_browser
speech_wav = audio.speech_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_DAPHNE_ENV = {
    "SPACES_LISTENERS_PER_PROCESS": "2",
    "SPACES_WAITING_UPDATE_SECONDS": "1",
    # Four Chromium pages on a shared two-core machine: this test is about the line, not slow listeners.
    "SPACES_MEDIA_ACK_LAG_MS": "60000",
}
PHONE = {"width": 390, "height": 844}
# The room as the server drew it, read as the parser puts the stage in: before any script of the page or message
# of its socket could change it (room.css hides everything of a waiting room but the line and the way out).
FIRST_DRAWN = """
new MutationObserver((_, observer) => {
  const room = document.getElementById("room");
  if (!room || !room.querySelector(".stage")) return;
  observer.disconnect();
  window.firstDrawn = { waiting: room.dataset.waiting || null, line: !document.getElementById("waiting-line").hidden };
}).observe(document, { childList: true, subtree: true });
"""
DESKTOP = {"width": 1280, "height": 800}


def shots_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("SPACES_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str) -> None:
    """The page at a phone's and a desktop's width, with no sideways overflow at either."""
    for label, viewport in (("390", PHONE), ("1280", DESKTOP)):
        page.set_viewport_size(viewport)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {label} px: {overflow}px of horizontal overflow"
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)


def test_a_listener_waits_in_line_hearing_nothing_and_is_let_in_playing_when_another_leaves(
    audio_browser, live_daphne, tmp_path
):
    from axe_playwright_python.sync_playwright import Axe

    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Synths at night")
    base = f"http://{live_daphne}"
    folder = shots_dir(tmp_path)
    path = f"/spaces/{space.pk}/"

    host_page = signed_in_page(audio_browser, base, host, path, viewport=DESKTOP)
    expect(host_page.locator("#room")).to_have_attribute("data-on-air", "on-air", timeout=60_000)
    inside = signed_in_page(audio_browser, base, UserFactory(username="sam", display_name="Sam"), path, viewport=PHONE)
    expect(inside.locator("#room")).to_have_attribute("data-connected", "true")  # the process is full now

    first = signed_in_page(audio_browser, base, UserFactory(username="ivy", display_name="Ivy"), path, viewport=PHONE)
    expect(first.locator("#waiting-line")).to_be_visible()
    expect(first.locator("#waiting-heading")).to_have_text("You're in line")  # nobody has left yet to time it
    expect(first.locator("#waiting-position")).to_have_text("You're next.")
    expect(host_page.locator("#waiting-count")).to_have_text("1 waiting to get in")  # the line is known
    # Whoever arrives now is drawn in line from the first paint, never in a room that vanishes a moment later.
    second = signed_in_page(audio_browser, base, UserFactory(username="noor", display_name="Noor"), viewport=PHONE)
    second.add_init_script(FIRST_DRAWN)
    second.goto(path)
    assert second.evaluate("window.firstDrawn") == {"waiting": "true", "line": True}
    expect(second.locator(".stage")).to_be_hidden()
    expect(second.locator("#waiting-position")).to_have_text("1 person is ahead of you.")
    expect(host_page.locator("#waiting-count")).to_have_text("2 waiting to get in")
    # In line is not in the room: no stage, no controls but the way out, and not a frame of audio.
    expect(first.locator(".stage")).to_be_hidden()
    expect(first.locator("[data-leave]")).to_be_visible()
    expect(first.locator("[data-send=raise_hand]")).to_be_hidden()
    first.wait_for_function("window.spacesAudioStats !== undefined")
    assert first.evaluate("window.spacesAudioStats.framesReceived") == 0
    shoot(first, folder, "line-first")
    assert Axe().run(first).violations_count == 0

    inside.context.close()  # a place frees: the first in line gets it, without a reload
    expect(first.locator("#room")).to_have_attribute("data-connected", "true", timeout=15_000)
    expect(first.locator("#waiting-line")).to_be_hidden()
    expect(first.locator(".stage")).to_be_visible()
    first.wait_for_function("(window.spacesAudioStats.speakers[0] || {}).framesDecoded > 100", timeout=30_000)
    assert first.evaluate("window.spacesAudioStats.decodeErrors") == 0

    # The next one moves up, with a wait now timed by that leave; the host sees the line shrink.
    expect(second.locator("#waiting-position")).to_have_text("You're next.")
    expect(second.locator("#waiting-heading")).to_have_text("You're in line: about 30 seconds")
    expect(host_page.locator("#waiting-count")).to_have_text("1 waiting to get in")
    shoot(second, folder, "line-next")
    shoot(host_page, folder, "line-host")
    shoot(first, folder, "line-let-in")
    assert Axe().run(host_page).violations_count == 0
    assert host_page.errors == [] and first.errors == [] and second.errors == []
    for page in (host_page, first, second):
        page.context.close()


def test_someone_in_line_whom_the_host_blocks_is_told_why_when_their_turn_comes_and_is_no_longer_in_line(
    audio_browser, live_daphne, tmp_path
):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Synths at night")
    base = f"http://{live_daphne}"
    path = f"/spaces/{space.pk}/"
    host_page = signed_in_page(audio_browser, base, host, path, viewport=DESKTOP)
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true", timeout=60_000)
    inside = signed_in_page(audio_browser, base, UserFactory(username="sam", display_name="Sam"), path, viewport=PHONE)
    expect(inside.locator("#room")).to_have_attribute("data-connected", "true")  # the process is full now
    noor = UserFactory(username="noor", display_name="Noor")
    waiting = signed_in_page(audio_browser, base, noor, path, viewport=PHONE)
    expect(waiting.locator("#waiting-position")).to_have_text("You're next.")

    block_create(blocker=host, blocked=noor)  # from her profile, while she waits
    inside.context.close()  # her turn: the join refuses her

    expect(waiting.locator("#connection-status")).to_have_text("The host has blocked you.", timeout=15_000)
    expect(waiting.locator("#waiting-heading")).to_have_text("The host has blocked you.")
    expect(waiting.locator("#waiting-position")).to_be_hidden()
    expect(waiting.locator("#waiting-full")).to_be_hidden()
    expect(waiting.locator(".stage")).to_be_hidden()  # she never was inside
    expect(waiting.locator("[data-leave]")).to_be_visible()
    shoot(waiting, shots_dir(tmp_path), "line-refused")
    assert waiting.errors == [] and host_page.errors == []
    for page in (host_page, waiting):
        page.context.close()
