"""A reader likes, reposts, replies to and quotes a post, and follows a hashtag, in a real browser."""

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from playwright.sync_api import Page, expect

from accounts import engagement, services
from tests.accounts.factories import UserFactory
from tests.browser.test_people_flow import assert_accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SHOTS = Path("/tmp/spaces-shots")


def signed_in(page: Page, base: str, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def shoot(page: Page, name: str) -> None:
    """Screenshots at phone and desktop widths (looked at by people, not asserted), and no sideways scroll."""
    SHOTS.mkdir(exist_ok=True)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)


def _build_people():
    try:
        maya = UserFactory(username="maya", display_name="Maya Okafor")
        reader = UserFactory(username="reader", display_name="Rae Reader")
        services.follow_create(follower=reader, followee=maya)
        post = services.post_create(author=maya, body="Synth night at nine with @reader #SynthNight")
        engagement.reply_create(author=UserFactory(display_name="Ana"), to=post, body="Saving a seat")
        return maya, reader, post
    finally:
        connection.close()


@pytest.fixture
def people(transactional_db):
    # A thread of its own: Playwright's loop runs in this one, and the services' live pushes use async_to_sync.
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(_build_people).result(timeout=30)


def test_like_repost_reply_quote_and_hashtag_in_the_browser(page: Page, live_server, people):
    maya, reader, post = people
    base = live_server.url
    signed_in(page, base, reader)
    page.goto(f"{base}/")
    page.wait_for_load_state("load")
    card = page.locator(f"#post-{post.pk}")

    like = card.get_by_role("button", name=re.compile("^Like"))
    like.click()
    expect(card.get_by_role("button", name="Like, 1 so far")).to_have_attribute("aria-pressed", "true")
    card.get_by_role("button", name=re.compile("^Repost")).click()
    expect(card.get_by_role("button", name="Repost, 1 so far")).to_have_attribute("aria-pressed", "true")
    assert_accessible(page)
    shoot(page, "home")

    card.get_by_role("link", name=re.compile("^Reply, 1 reply")).click()
    expect(page.get_by_role("heading", name="Replies (1)")).to_be_visible()
    page.get_by_label("Your reply").fill("See you there @maya")
    page.get_by_role("button", name="Reply", exact=True).click()
    replies = page.locator(".replies")
    expect(replies).to_contain_text("See you there")
    expect(page.get_by_role("heading", name="Replies (2)")).to_be_visible()
    assert_accessible(page)
    shoot(page, "post")

    page.goto(f"{base}/posts/{post.pk}/quote/")
    assert_accessible(page)
    page.get_by_label("Add a comment").fill("Everyone should come")
    page.get_by_role("button", name="Post quote").click()
    expect(page.locator(".quoted")).to_contain_text("Synth night at nine")

    page.goto(f"{base}/")
    page.locator(f"#post-{post.pk}").get_by_role("link", name="#SynthNight").click()
    expect(page.get_by_role("heading", name="#synthnight")).to_be_visible()
    assert_accessible(page)
    shoot(page, "hashtag")
