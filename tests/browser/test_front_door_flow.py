"""A visitor who is not signed in opens a shared Space link, sees its preview, signs in and lands in the room."""

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.support import off_the_loop, shoot
from tests.browser.test_people_flow import assert_accessible
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_visitor_opens_a_shared_space_link_signs_in_and_lands_in_the_room(browser: Browser, live_daphne):  # noqa: F811
    def build():
        host = make_host(username="dana", display_name="Dana Host")
        space = LiveSpaceFactory(host=host, title="Late night synths")
        UserFactory(username="visitor", display_name="Vee Visitor")
        return space

    space = off_the_loop(build)
    base = f"http://{live_daphne}"
    page = browser.new_context().new_page()

    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Live audio conversations, out loud")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Late night synths"))).to_be_visible()
    assert_accessible(page)
    shoot(page, "front-door")

    page.goto(f"{base}{space.get_absolute_url()}")  # the shared link
    expect(page.locator('meta[property="og:title"]')).to_have_attribute("content", "Late night synths")
    expect(page.get_by_role("heading", name="Live now")).to_be_visible()
    assert_accessible(page)
    shoot(page, "preview")

    page.get_by_role("link", name="Sign in to listen").click()
    page.get_by_label("Login").fill("visitor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(f"{base}{space.get_absolute_url()}")
    expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(page.locator("#my-role")).to_have_text("Listener")
