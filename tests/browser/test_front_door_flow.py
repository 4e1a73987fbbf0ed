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


def test_a_visitor_opens_a_shared_replay_link_sees_there_is_a_replay_and_signs_in_to_it(browser: Browser, live_server):
    def build():
        from django.core.files.base import ContentFile

        from rooms import services
        from rooms.replays.models import Recording
        from rooms.replays.storage import replay_storage

        host = make_host(username="dana", display_name="Dana Host")
        space = LiveSpaceFactory(host=host, title="Late night synths")
        Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        audio = replay_storage().save(f"spaces/{space.pk}/replay-shared.m4a", ContentFile(b"x" * 100))
        Recording.objects.filter(pk=space.pk).update(state=Recording.State.READY, audio=audio, duration_ms=60_000)
        UserFactory(username="visitor", display_name="Vee Visitor")
        return space

    space = off_the_loop(build)
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}{space.get_absolute_url()}")  # the shared link
    # The share card and the page say there is a replay, not merely that the Space is over.
    for tag, text in (
        ('meta[property="og:description"]', "Replay: hosted by Dana Host. Tap to listen."),
        ('meta[name="twitter:description"]', "Replay, hosted by Dana Host (@dana)"),
    ):
        expect(page.locator(tag)).to_have_attribute("content", text)
    expect(page.get_by_role("heading", name="Replay")).to_be_visible()
    expect(page.get_by_text("its replay is here to listen to")).to_be_visible()
    assert_accessible(page)
    shoot(page, "preview-replay")

    page.get_by_role("link", name="Sign in to listen").click()
    page.get_by_label("Login").fill("visitor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}{space.get_absolute_url()}")
    expect(page.locator("#replay-audio")).to_be_attached()


def test_a_visitor_opens_a_shared_clip_link_sees_its_card_and_signs_in_to_it(browser: Browser, live_server):
    def build():
        from rooms import services
        from rooms.replays.models import Clip, Recording

        host = make_host(username="dana", display_name="Dana Host")
        space = LiveSpaceFactory(host=host, title="Late night synths")
        recording = Recording.objects.create(space=space)
        space = services.space_end(space=space, by=host)
        Recording.objects.filter(pk=space.pk).update(state=Recording.State.READY, audio="x.m4a", duration_ms=240_000)
        UserFactory(username="visitor", display_name="Vee Visitor")
        return Clip.objects.create(recording=recording, made_by=host, start_ms=60_000, end_ms=90_000)

    clip = off_the_loop(build)
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}{clip.get_absolute_url()}")  # the shared link
    # It went straight to the sign-in page: a share card of "Sign In · Spaces" and no word of the clip.
    expect(page.locator('meta[property="og:title"]')).to_have_attribute("content", "Clip of “Late night synths”")
    expect(page.locator('meta[property="og:description"]')).to_have_attribute(
        "content", "30 seconds of a Space hosted by Dana Host. Tap to listen."
    )
    expect(page.get_by_role("heading", name="Clip of “Late night synths”")).to_be_visible()
    assert_accessible(page)
    shoot(page, "preview-clip")

    page.get_by_role("link", name="Sign in to listen").click()
    page.get_by_label("Login").fill("visitor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}{clip.get_absolute_url()}")
    expect(page.get_by_role("heading", name="Post this clip")).to_be_visible()
