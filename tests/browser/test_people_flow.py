"""A new person signs up, follows an account, posts and reads the timeline in a real browser."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from accounts import services
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.fixture
def maya(transactional_db):
    maya = UserFactory(username="maya", display_name="Maya Okafor")
    services.post_create(author=maya, body="Going live tonight on synthesizers")
    return maya


def sign_up(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Username").fill(username)
    page.locator("#id_password1").fill("a-long-pass-phrase")
    page.locator("#id_password2").fill("a-long-pass-phrase")
    page.get_by_label("Display name").fill("Newcomer")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Home timeline")).to_be_attached()
    # Until htmx has loaded, Follow is a plain form that navigates to the profile instead.
    page.wait_for_load_state("load")


def test_sign_up_follow_post_and_read_the_timeline(page: Page, live_server, maya):
    base = live_server.url
    sign_up(page, base, "newcomer")

    page.get_by_role("button", name="Follow @maya").first.click()
    expect(page.get_by_role("button", name="Unfollow @maya").first).to_be_visible()

    page.get_by_label("What's happening?").fill("My first post on Spaces")
    page.get_by_role("button", name="Post", exact=True).click()
    timeline = page.locator("#timeline")
    expect(timeline.get_by_text("My first post on Spaces")).to_be_visible()
    expect(page.get_by_label("What's happening?")).to_have_value("")
    expect(timeline.get_by_text("Your timeline is empty")).to_be_hidden()  # drawn empty, before the follow

    page.reload()
    expect(timeline.locator("article").first).to_contain_text("My first post on Spaces")
    expect(timeline).to_contain_text("Going live tonight on synthesizers")


def test_an_empty_post_shows_the_error_in_place(page: Page, live_server, maya):
    sign_up(page, live_server.url, "quiet")
    page.get_by_label("What's happening?").fill("   ")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("can't be empty")


def test_timeline_profile_and_sign_up_pages_have_no_axe_violations(page: Page, live_server, maya):
    base = live_server.url
    page.goto(f"{base}/accounts/signup/")
    assert_accessible(page)
    sign_up(page, base, "auditor")
    page.get_by_role("button", name="Follow @maya").first.click()
    expect(page.get_by_role("button", name="Unfollow @maya").first).to_be_visible()
    page.goto(f"{base}/")
    assert_accessible(page)
    page.goto(f"{base}/@maya/")
    expect(page).to_have_title(re.compile("Maya Okafor"))
    assert_accessible(page)


def test_following_from_a_profile_counts_the_new_follower_at_once(page: Page, live_server, maya):
    sign_up(page, live_server.url, "newcomer")
    page.goto(f"{live_server.url}/@maya/")
    page.wait_for_load_state("load")  # htmx, so the button answers in place
    count = page.locator("#followers-count")
    expect(count).to_have_text("0")

    page.get_by_role("button", name="Follow @maya").click()
    expect(page.get_by_role("button", name="Unfollow @maya")).to_be_visible()
    expect(count).to_have_text("1")
    page.get_by_role("button", name="Unfollow @maya").click()
    expect(page.get_by_role("button", name="Follow @maya")).to_be_visible()
    expect(count).to_have_text("0")


def test_caption_settings_are_found_from_the_profile_settings(page: Page, live_server, maya):
    from captions.models import CaptionPreference
    from tests.browser.support import signed_in

    signed_in(page.context, live_server.url, maya)
    page.goto(f"{live_server.url}/@maya/")
    page.get_by_role("link", name="Edit profile").click()
    # The page was only reachable by typing its address (or from inside a live Space).
    page.get_by_role("link", name="Caption settings").click()
    page.get_by_label("Caption my voice when I speak").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Caption settings saved.")).to_be_visible()
    assert not CaptionPreference.objects.get(user=maya).caption_my_voice
    assert_accessible(page)
