"""The room as a stage, in Debian's Chromium at a phone's 390 px and a desktop's 1280 px, for the host, a co-host,
a speaker and a listener: nothing overflows sideways (long titles, names, pinned posts and questions wrap), no
control of the dock is covered by anything (captions, menus), and axe-core finds nothing. Screenshots go to the
test's tmp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from rooms.models import PinnedPost, Question, Role, RoomSocket
from tests.accounts.factories import PostFactory, UserFactory
from tests.browser.support import signed_in_page
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "Supercalifragilisticexpialidociousvoicenames"  # 44 characters, no place to break
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

# Every visible control of the dock, with whether the element at its centre is the control itself.
DOCK_HITS = """() => [...document.querySelectorAll('.dock button, .dock a, .dock summary')]
  .filter((node) => node.checkVisibility())
  .map((node) => { const r = node.getBoundingClientRect(); const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    const inView = r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
    return { name: node.textContent.trim(), inView, clear: !!hit && (node === hit || node.contains(hit)),
             hit: hit ? hit.outerHTML.slice(0, 80) : null }; })"""


def shots_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("SPACES_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_room_is_a_stage_that_fits_with_an_uncovered_dock_in_every_role(
    browser, live_daphne, server, tmp_path, viewport
):
    from axe_playwright_python.sync_playwright import Axe

    host = make_host(username="maya", display_name=f"Maya {LONG}")
    space = LiveSpaceFactory(host=host, title=f"Night synths and {LONG}{LONG[:20]} live")
    speaker = UserFactory(username="ivy", display_name=f"Ivy {LONG}")
    RoomSocket.objects.create(participant=seat(space, speaker, Role.SPEAKER), process=server)
    listener = UserFactory(username="sam", display_name="Sam")
    for n in range(6):
        guest = seat(space, UserFactory(username=f"guest{n}", display_name=f"Guest {n}"))
        RoomSocket.objects.create(participant=guest, process=server)
    seat(space, listener)
    cohost = UserFactory(username="noor", display_name=f"Noor {LONG}")
    RoomSocket.objects.create(participant=seat(space, cohost, Role.COHOST), process=server)
    # A long question on the stage, and an open one only the hosts and its author see.
    question = f"Which {LONG}{LONG} filter?"
    Question.objects.create(space=space, author=listener, text=question, pinned_at=space.started_at)
    Question.objects.create(space=space, author=listener, text="And the delay?")
    post = PostFactory(author=host, body=f"Read this before the show: https://example.com/{LONG * 3}/{LONG}")
    PinnedPost.objects.create(space=space, post=post, pinned_by=host)
    folder = shots_dir(tmp_path)
    base_url = f"http://{live_daphne}"

    for role, user in (("host", host), ("cohost", cohost), ("speaker", speaker), ("listener", listener)):
        page = signed_in_page(browser, base_url, user, viewport=VIEWPORTS[viewport])
        errors = []
        page.on("pageerror", lambda error, errors=errors: errors.append(error))
        page.goto(f"/spaces/{space.pk}/")
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
        expect(page.locator("#speakers .stage-person")).to_have_count(3)
        expect(page.locator("#stage-question")).to_contain_text("filter?")
        expect(page.locator("#questions .question")).to_have_count(1 if role == "speaker" else 2)
        expect(page.locator("#listeners .listener-tile").first).to_be_visible()
        page.screenshot(path=str(folder / f"room-{viewport}-{role}.png"), full_page=True)

        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{role} at {viewport}: {overflow}px of horizontal overflow"
        for scroll in ("0", "document.body.scrollHeight"):
            page.evaluate(f"window.scrollTo(0, {scroll})")
            hits = page.evaluate(DOCK_HITS)
            assert hits, "the dock has controls"
            covered = [h for h in hits if not (h["inView"] and h["clear"])]
            assert covered == [], f"{role} at {viewport}, scrolled to {scroll}: {covered}"
        # A host's tools open on the person and stay within the screen.
        menu = page.locator(f'#speakers li[data-user="{speaker.pk if role != "speaker" else host.pk}"] .person-menu')
        menu.locator("summary").click()
        expect(menu.locator(".person-menu-items")).to_be_visible()
        if role == "host":
            expect(menu.get_by_role("button", name="Mute")).to_be_visible()
        page.screenshot(path=str(folder / f"room-{viewport}-{role}-menu.png"))
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{role} at {viewport} with a menu open: {overflow}px of horizontal overflow"
        menu.locator("summary").click()

        results = Axe().run(page)
        assert results.violations_count == 0, f"{role} at {viewport}: {results.generate_report()}"
        assert errors == []
        page.context.close()
