"""Discovery pages in a real browser: people search, who to follow, the Spaces tab, a host's profile and replays."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import engagement, services
from rooms import services as room_services
from rooms.models import Space
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.replays.test_profile_replays import replay

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _build():
    reader = UserFactory(username="reader", display_name="Rae Reader")
    friend = UserFactory(username="friend", display_name="Fran Friend")
    host = make_host(username="nora", display_name="Nora Lindqvist")
    services.follow_create(follower=reader, followee=friend)
    services.follow_create(follower=friend, followee=host)
    LiveSpaceFactory(host=host, title="Friday jazz listening party", topics="jazz,music")
    room_services.space_create(host=host, title="Monk requests", scheduled_for=timezone.now() + timedelta(days=1))
    replay(host, "Blue Note at dawn", hours_ago=20)
    replay(host, "Tickets only", audience=Space.Audience.TICKETED, hours_ago=2)
    post = services.post_create(author=reader, body="Who plays #jazz tonight?")
    for person in UserFactory.create_batch(3):
        engagement.like_create(user=person, post=post)
    return reader


def test_search_people_follow_a_suggestion_and_browse_spaces(page: Page, live_server):
    reader = off_the_loop(_build)
    base = live_server.url
    signed_in(page.context, base, reader)
    page.goto(f"{base}/")
    page.wait_for_load_state("load")
    suggestions = page.get_by_role("complementary", name="Discover")
    expect(suggestions).to_contain_text("Followed by 1 person you follow")
    page.get_by_role("searchbox", name="Search people").fill("lindqvist")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 person like “lindqvist”")).to_be_visible()
    assert_accessible(page)
    shoot(page, "people-search")

    page.get_by_role("link", name="Nora Lindqvist @nora").click()
    expect(page.get_by_role("heading", name="Spaces by Nora Lindqvist")).to_be_visible()
    expect(page.get_by_text("Monk requests")).to_be_visible()
    replays = page.get_by_role("region", name="Replays")
    expect(replays.get_by_role("link", name="Blue Note at dawn")).to_be_visible()
    expect(replays).not_to_contain_text("Tickets only")  # a ticketed Space's replay: ticket holders only
    assert_accessible(page)
    shoot(page, "profile")
    replays.get_by_role("link", name="Blue Note at dawn").click()
    expect(page.get_by_role("heading", name="Replay", exact=True)).to_be_visible()

    page.goto(f"{base}/spaces/")
    expect(page.get_by_role("navigation", name="Topics").get_by_role("link", name="#jazz")).to_be_visible()
    assert_accessible(page)
    shoot(page, "spaces-tab")

    page.goto(f"{base}/notifications/")
    expect(page.get_by_text("and 2 others liked your post")).to_be_visible()
    assert_accessible(page)

    page.goto(f"{base}/settings/profile/")
    expect(page.get_by_text("Who can message you")).to_be_visible()
    assert_accessible(page)
