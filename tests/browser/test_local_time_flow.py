"""The browser's time zone reaches the account, and Spaces read in local time; cancelling asks first; at its time
the host is asked to start, readers see "starting soon", and a Space never started reads as missed."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Route, expect

from accounts.models import User
from rooms import services
from rooms.models import Space
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible
from tests.rooms.factories import make_host

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_reader_in_new_york_sees_the_space_in_new_york_time(browser: Browser, live_server):
    def build():
        host = make_host(username="dana", display_name="Dana")
        start = (timezone.now() + timedelta(days=2)).replace(hour=18, minute=0, second=0, microsecond=0)
        space = services.space_create(host=host, title="Evening synths", scheduled_for=start)
        return host, UserFactory(username="nyc"), space

    def due_and_missed(host):
        """A Space whose time has come, and one the host never started."""
        now = timezone.now()
        due = services.space_create(host=host, title="Morning coffee", scheduled_for=now + timedelta(hours=1))
        missed = services.space_create(host=host, title="Night owls", scheduled_for=now + timedelta(hours=1))
        Space.objects.filter(pk=due.pk).update(scheduled_for=now - timedelta(minutes=2))
        Space.objects.filter(pk=missed.pk).update(scheduled_for=now - timedelta(hours=3), state=Space.State.MISSED)
        return due, missed

    host, reader, space = off_the_loop(build)
    base = live_server.url
    context = browser.new_context(timezone_id="America/New_York")
    signed_in(context, base, reader)
    page = context.new_page()
    page.goto(f"{base}{space.get_absolute_url()}")
    # The first page is drawn in UTC; the browser reports its zone and the page is drawn again.
    expected = space.scheduled_for.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %Z")  # 13:00 EST
    expect(page.locator("time").first).to_contain_text(expected)
    assert User.objects.get(pk=reader.pk).time_zone == "America/New_York"
    assert_accessible(page)
    shoot(page, "scheduled")

    host_context = browser.new_context(timezone_id="America/New_York")
    signed_in(host_context, base, host)
    host_page = host_context.new_page()
    host_page.goto(f"{base}{space.get_absolute_url()}")
    host_page.get_by_role("link", name="Cancel Space").click()
    expect(host_page.get_by_role("heading", name="Cancel “Evening synths”?")).to_be_visible()
    assert_accessible(host_page)
    shoot(host_page, "cancel")
    host_page.get_by_role("button", name="Yes, cancel the Space").click()
    expect(host_page.get_by_role("heading", name="This Space was cancelled")).to_be_visible()

    due, missed = off_the_loop(lambda: due_and_missed(host))
    host_page.goto(f"{base}{due.get_absolute_url()}")
    expect(host_page.get_by_text("It's time: your listeners are waiting.")).to_be_visible()
    expect(host_page.get_by_role("button", name="Start now")).to_be_visible()
    assert_accessible(host_page)
    shoot(host_page, "start-now")
    page.goto(f"{base}{due.get_absolute_url()}")
    expect(page.get_by_text("Starting soon")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{base}{missed.get_absolute_url()}")
    expect(page.get_by_role("heading", name="This Space didn't start")).to_be_visible()
    assert_accessible(page)
    shoot(page, "missed")


def test_a_person_who_starts_typing_before_their_zone_is_known_keeps_what_they_typed(browser: Browser, live_server):
    """The first page is drawn again in local time only if the person has not started on it yet: a reload
    would wipe what they typed, or (as CI once saw) take them back from the link they had just clicked."""
    host, reader, space = off_the_loop(
        lambda: (
            host := make_host(username="dana"),
            UserFactory(username="nyc"),
            services.space_create(host=host, title="Evening synths", scheduled_for=timezone.now() + timedelta(days=2)),
        )
    )
    context = browser.new_context(timezone_id="America/New_York")
    signed_in(context, live_server.url, reader)
    page = context.new_page()
    held: list[Route] = []
    page.route("**/settings/time-zone/", lambda route: held.append(route))
    page.goto(f"{live_server.url}{space.get_absolute_url()}")
    page.evaluate("window.firstDrawing = true")
    page.get_by_role("textbox", name="Send by direct message to").press_sequentially("dana")
    for _ in range(100):  # Playwright hands over the held request while it runs a call
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "the page reports the browser's zone"
    held[0].continue_()

    expect(page.locator("body")).to_have_attribute("data-time-zone", "America/New_York")
    assert page.evaluate("window.firstDrawing === true"), "the page was not drawn again"
    expect(page.get_by_role("textbox", name="Send by direct message to")).to_have_value("dana")
    assert User.objects.get(pk=reader.pk).time_zone == "America/New_York"
    page.reload()
    expected = space.scheduled_for.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %Z")
    expect(page.locator("time").first).to_contain_text(expected)


def test_a_person_who_signs_in_from_new_york_reads_their_first_page_in_new_york_time_at_once(
    browser: Browser, live_server
):
    """The sign-in page already told the server the browser's zone (its cookie), so the first page after it is
    drawn in local time: the account takes the zone without drawing that page again."""
    reader, space = off_the_loop(
        lambda: (
            UserFactory(username="nyc", password="a-long-pass-phrase"),
            services.space_create(
                host=make_host(username="dana"),
                title="Evening synths",
                scheduled_for=timezone.now() + timedelta(days=2),
            ),
        )
    )
    page = browser.new_context(timezone_id="America/New_York").new_page()
    page.goto(f"{live_server.url}/accounts/login/?next={space.get_absolute_url()}")
    page.get_by_label("Login").fill("nyc")
    page.get_by_label("Password").fill("a-long-pass-phrase")
    with page.expect_response("**/settings/time-zone/") as saved:
        page.get_by_role("button", name="Sign In").click()
    assert saved.value.ok

    # Set by time-zone.js on a page it keeps, or drawn by the server on a page drawn again.
    expect(page.locator("body")).to_have_attribute("data-time-zone", "America/New_York")
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate", "drawn again"
    expected = space.scheduled_for.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M %Z")
    expect(page.locator("time").first).to_contain_text(expected)
    assert User.objects.get(pk=reader.pk).time_zone == "America/New_York"
