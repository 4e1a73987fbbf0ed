"""A reader likes, reposts, replies to and quotes a post, and follows a hashtag, in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts import engagement, services
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _build_people():
    maya = UserFactory(username="maya", display_name="Maya Okafor")
    reader = UserFactory(username="reader", display_name="Rae Reader")
    services.follow_create(follower=reader, followee=maya)
    post = services.post_create(author=maya, body="Synth night at nine with @reader #SynthNight")
    engagement.reply_create(author=UserFactory(display_name="Ana"), to=post, body="Saving a seat")
    return maya, reader, post


@pytest.fixture
def people(transactional_db):
    return off_the_loop(_build_people)


def test_like_repost_reply_quote_and_hashtag_in_the_browser(page: Page, live_server, people):
    maya, reader, post = people
    base = live_server.url
    signed_in(page.context, base, reader)
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
