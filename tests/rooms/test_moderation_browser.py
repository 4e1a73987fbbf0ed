"""A report reaches staff, who suspend the host from the admin: the room ends for those listening."""

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.support import SHOTS, signed_in_page
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = pytest.mark.browser


def test_staff_suspend_a_reported_host_and_the_listeners_room_ends(browser, live_daphne):
    host = make_host(username="maya", display_name="Maya Host")
    space = LiveSpaceFactory(host=host, title="Shouting match")
    base_url = f"http://{live_daphne}"
    listener_page = signed_in_page(browser, base_url, UserFactory(display_name="Sam"), f"/spaces/{space.pk}/")
    listener_page.set_viewport_size({"width": 390, "height": 844})
    host_page = signed_in_page(browser, base_url, host, f"/spaces/{space.pk}/")
    host_home = signed_in_page(browser, base_url, host, "/")  # another device of hers, on her timeline
    expect(host_home.locator("body")).to_have_attribute("data-events-connected", "true")
    for page in (listener_page, host_page):
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")

    reporter_page = signed_in_page(browser, base_url, UserFactory(display_name="Ria"), f"/spaces/{space.pk}/")
    reporter_page.locator(f'#speakers li[data-user="{host.pk}"] summary').click()
    reporter_page.get_by_role("link", name="Report", exact=True).click()
    expect(reporter_page.get_by_role("heading", name="Report @maya in “Shouting match”")).to_be_visible()
    reporter_page.get_by_label("Hateful conduct").check()
    reporter_page.get_by_role("button", name="Send report").click()

    staff_page = signed_in_page(browser, base_url, UserFactory(is_staff=True, is_superuser=True), "/admin/")
    staff_page.set_viewport_size({"width": 1280, "height": 900})
    staff_page.get_by_role("link", name="Space reports").click()
    staff_page.get_by_role("row", name="Shouting match").get_by_role("checkbox").check()
    staff_page.get_by_label("Action:").select_option(
        label="Suspend the reported accounts (a report on a Space as a whole: its host)"
    )
    staff_page.get_by_role("button", name="Go").click()
    expect(staff_page.get_by_text("Suspended @maya; their live Spaces ended.")).to_be_visible()
    expect(staff_page.get_by_role("row", name="Shouting match")).to_contain_text("Actioned")
    staff_page.screenshot(path=SHOTS / "moderation-suspended-1280.png")

    # Sam was listening: the room ends for them.
    expect(listener_page.get_by_role("heading", name="This Space has ended")).to_be_visible()
    # Her profile is gone: the page names her without a link to it.
    expect(listener_page.locator(".space-head")).to_contain_text("Hosted by Maya Host (@maya, suspended)")
    expect(listener_page.get_by_role("link", name="Maya Host")).to_have_count(0)
    listener_page.screenshot(path=SHOTS / "moderation-ended-for-the-listener-390.png", full_page=True)
    # Maya's room ends too, and the page it opens finds her signed out; her password no longer signs her in.
    expect(host_page.get_by_role("heading", name="This Space is over")).to_be_visible()
    # Her timeline on the other device is signed out at once, not left receiving her messages.
    expect(host_home.get_by_role("link", name="Sign in")).to_be_visible()
    expect(host_home.get_by_role("link", name="Messages")).to_have_count(0)
    host_home.screenshot(path=SHOTS / "moderation-signed-out-elsewhere-1280.png")
    host_page.get_by_role("link", name="Sign in").click()
    host_page.get_by_label("Login").fill("maya")
    host_page.get_by_label("Password").fill(PASSWORD)
    host_page.get_by_role("button", name="Sign In").click()
    expect(host_page.get_by_role("heading", name="Account Inactive")).to_be_visible()
    assert (
        listener_page.errors == [] and host_page.errors == [] and reporter_page.errors == [] and host_home.errors == []
    )
