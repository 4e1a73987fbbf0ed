"""A room page whose account changed its password on another device, in Debian's Chromium at 390 and 1280 px:
the page already in the Space is refused on its next connect (the session it holds was ended: Channels'
check behind accounts/socket_logins.py), sent to the sign-in page, and brought back to the room after signing
in. Screenshots go to $SPACES_SCREENSHOTS (else the test's tmp dir)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.test_admission_browser import shots_dir
from tests.rooms.test_audio_browser import room_page
from tests.rooms.test_stage_browser import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-brand-new-pass-phrase"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_after_a_password_change_elsewhere_the_room_asks_to_sign_in_and_comes_back(
    browser, live_daphne, tmp_path, viewport
):
    space = LiveSpaceFactory(host=make_host(username="maya"), title="Voices")
    sam = UserFactory(username="sam")
    room = f"/spaces/{space.pk}/"
    page = room_page(browser, f"http://{live_daphne}", sam, room)
    page.set_viewport_size(VIEWPORTS[viewport])
    page.wait_for_selector("#room[data-connected=true]", state="attached", timeout=15_000)
    assert Session.objects.count() == 1

    sam.set_password(NEW_PASSWORD)  # on another device
    sam.save(update_fields=["password"])
    page.evaluate("window.spacesRoom.socket.close()")  # the network drops; the page connects again

    page.wait_for_url("**/accounts/login/**", timeout=15_000)
    assert not Session.objects.exists(), "the session signed in with the old password was ended"
    banner = page.get_by_role("status").filter(has_text="You were signed out on this device")
    assert "Sign in to listen to Voices, hosted by @maya." in banner.inner_text()
    page.screenshot(path=shots_dir(tmp_path) / f"signed-out-room-{viewport}.png")
    page.fill("input[name=login]", "sam")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"**{room}", timeout=15_000)
    page.wait_for_selector("#room[data-connected=true]", state="attached", timeout=15_000)
    assert page.errors == []
