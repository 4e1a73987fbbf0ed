"""Listen while browsing: a listener already playing the host moves from the room to the timeline, a profile and
the notifications, and keeps decoding the host's frames on every page, with a mini-player docked at the bottom;
going back to the Space shows the same room on the same socket and AudioContext (no reconnect).

Debian's Chromium against a live Daphne, the host's fake microphone playing espeak-ng speech. Screenshots of the
browsed pages at 390 and 1280 px go to SPACES_SCREENSHOTS (or the test's tmp dir).
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.accounts.factories import PostFactory, UserFactory
from tests.browser.support import signed_in_page
from tests.rooms import test_audio_browser as audio
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.test_stage_browser import shots_dir
from tests.rooms.test_streams_browser import on_air, playing

browser_type_launch_args = audio.browser_type_launch_args
audio_browser = audio.audio_browser
speech_wav = audio.speech_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_DAPHNE_ENV = {"SPACES_MEDIA_ACK_LAG_MS": "60000"}  # as in test_streams_browser: two audio pages, two cores
LONG = "Supercalifragilisticexpialidociousvoicenames"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

# Every visible control whose middle is on screen, with whether the element found there is the control itself;
# and whether the page scrolls sideways. Scrolled to the end, nothing may be under the mini-player (the page keeps
# room for it); higher up, what scrolls under it is only checked above it.
CONTROLS_CLEAR = """(atEnd) => {
  const mini = document.getElementById('mini-player').getBoundingClientRect();
  const nodes = [...document.querySelectorAll('#main a, #main button, #main summary, #main input, #main textarea,'
    + ' .site-header a, .site-header button, #mini-player a, #mini-player button')].filter((n) => n.checkVisibility());
  const covered = [];
  let checked = 0;
  for (const node of nodes) {
    const r = node.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (r.width === 0 || y < 0 || y > innerHeight || x < 0 || x > innerWidth) continue;
    if (!atEnd && y >= mini.top && !node.closest('#mini-player')) continue;
    checked += 1;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(hit === node || node.contains(hit) || hit.contains(node)))
      covered.push({ node: node.outerHTML.slice(0, 80), hit: hit ? hit.outerHTML.slice(0, 80) : null });
  }
  return { checked, covered, overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth };
}"""


def decoded(page) -> int:
    return page.evaluate("(window.spacesAudioStats.speakers[0] || {}).framesDecoded || 0")


def keeps_decoding(page, frames: int = 100) -> None:
    """The host's frames go on being decoded on the page shown now: `frames` more of them (2 s of speech)."""
    target = decoded(page) + frames
    page.wait_for_function(f"window.spacesAudioStats.speakers[0].framesDecoded > {target}", timeout=30_000)


def fits_and_nothing_is_covered(page, where: str) -> None:
    for scroll in ("0", "document.body.scrollHeight"):
        page.evaluate(f"window.scrollTo(0, {scroll})")
        at_end = page.evaluate("Math.ceil(scrollY + innerHeight) >= document.documentElement.scrollHeight")
        found = page.evaluate(CONTROLS_CLEAR, at_end)
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter((n) => n.getBoundingClientRect().right"
            " > document.documentElement.clientWidth + 1).slice(0, 5).map((n) => n.outerHTML.slice(0, 120))"
        )
        assert found["overflow"] <= 0, f"{where}: {found['overflow']}px of horizontal overflow: {wide}"
        assert found["checked"] > 0 and found["covered"] == [], f"{where}, scrolled to {scroll}: {found}"
    mini = page.evaluate(
        """() => [...document.querySelectorAll('#mini-player a, #mini-player button')].map((n) => {
          const r = n.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return r.bottom <= innerHeight && !!hit && (n === hit || n.contains(hit)); })"""
    )
    assert mini and all(mini), f"{where}: the mini-player's controls are on screen and uncovered"


def looks_right(page, folder, name: str) -> None:
    """At a phone's and a desktop's width: fits, nothing covered, a screenshot; then back to the phone."""
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        fits_and_nothing_is_covered(page, f"{name} at {size}")
        page.screenshot(path=str(folder / f"browse-{name}-{size}.png"), full_page=False)
    page.set_viewport_size(SIZES["phone"])


def test_a_listener_keeps_hearing_the_space_while_browsing_and_returns_without_reconnecting(
    audio_browser, live_daphne, tmp_path
):
    host = make_host(username="maya", display_name=f"Maya {LONG}")
    space = LiveSpaceFactory(host=host, title=f"Night synths and {LONG}{LONG[:20]} live")
    PostFactory(author=host, body=f"Tune in: https://example.com/{LONG * 3}")
    listener_user = UserFactory(username="sam", display_name="Sam")
    base = f"http://{live_daphne}"
    listener = signed_in_page(audio_browser, base, listener_user, f"/spaces/{space.pk}/")
    listener.set_viewport_size(SIZES["phone"])
    listener.wait_for_function("window.spacesAudioPlayer !== undefined", timeout=15_000)
    host_page = signed_in_page(audio_browser, base, host, f"/spaces/{space.pk}/")
    on_air(host_page)
    playing(listener, 0)
    # What must survive: this document, its room socket and its AudioContext.
    listener.evaluate(
        "window.browseMark = { socket: window.spacesRoom.socket, context: window.spacesAudioPlayer.context }"
    )
    folder = shots_dir(tmp_path)

    listener.locator(".site-nav").get_by_role("link", name="Home").click()
    expect(listener).to_have_url(f"{base}/")
    mini = listener.locator("#mini-player")
    expect(mini).to_be_visible()
    expect(mini.locator(".mini-speaker")).to_contain_text("Maya")
    expect(mini.locator("#mini-status")).to_have_text("Playing")
    keeps_decoding(listener)
    looks_right(listener, folder, "timeline")
    results = Axe().run(listener)
    assert results.violations_count == 0, f"the timeline with the mini-player: {results.generate_report()}"

    host_profile = host.get_absolute_url()
    listener.locator(f'#main .person a[href="{host_profile}"]').click()  # "Who to follow"
    expect(listener).to_have_url(f"{base}{host_profile}")
    expect(listener.locator("#main")).to_contain_text("Tune in")
    keeps_decoding(listener)
    looks_right(listener, folder, "profile")

    listener.locator(".site-nav").get_by_role("link", name="Profile").click()
    expect(listener).to_have_url(f"{base}{listener_user.get_absolute_url()}")
    keeps_decoding(listener)
    listener.locator("#bell").click()
    expect(listener).to_have_url(f"{base}/notifications/")
    keeps_decoding(listener)
    listener.go_back()  # the browser's Back works in place too
    expect(listener).to_have_url(f"{base}{listener_user.get_absolute_url()}")
    keeps_decoding(listener)

    listener.locator("#mini-return").click()
    expect(listener).to_have_url(f"{base}/spaces/{space.pk}/")
    expect(mini).to_be_hidden()
    expect(listener.locator("#speakers .stage-person")).to_have_count(1)
    expect(listener.locator(".dock")).to_be_visible()
    same = listener.evaluate(
        """() => window.browseMark !== undefined && window.spacesRoom.socket === window.browseMark.socket
          && window.spacesRoom.socket.readyState === WebSocket.OPEN
          && window.spacesAudioPlayer.context === window.browseMark.context"""
    )
    assert same, "the room came back on the same document, socket and AudioContext"
    keeps_decoding(listener)
    assert listener.evaluate("window.spacesAudioStats.decodeErrors") == 0
    assert listener.errors == [] and host_page.errors == []

    # Another Space's room is an ordinary navigation: one room per document.
    other = LiveSpaceFactory(host=make_host(username="leo"), title="Another room")
    listener.locator(".site-nav").get_by_role("link", name="Home").click()
    expect(mini).to_be_visible()
    listener.evaluate(f"window.spacesBrowse.open('/spaces/{other.pk}/')")
    expect(listener).to_have_url(f"{base}/spaces/{other.pk}/")
    listener.wait_for_function("window.browseMark === undefined && document.getElementById('room') !== null")
    expect(listener.locator("#room")).to_have_attribute("data-connected", "true")
    assert listener.locator("#room").count() == 1

    # Leaving from the mini-player ends the listening for real.
    listener.locator(".site-nav").get_by_role("link", name="Home").click()
    expect(mini).to_be_visible()
    listener.locator("#mini-leave").click()
    listener.wait_for_function("window.spacesRoom === undefined")
    expect(listener.locator("#mini-player")).to_have_count(0)
