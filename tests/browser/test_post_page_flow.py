"""A post's own page, in a real browser at 390 and 1280 px: deleting it, and one by someone you blocked."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts import engagement, services
from accounts.models import Post
from tests.accounts.factories import PostFactory, UserFactory
from tests.browser.support import shoot, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def ivy(transactional_db):
    # Ivy writes posts and replies, and deletes them again
    return UserFactory(username="ivy", display_name="Ivy Chen")


def test_deleting_a_post_on_its_own_page_leaves_the_page(page: Page, live_server, ivy):
    post = PostFactory(author=ivy, body="A thought I take back")
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    page.wait_for_load_state("load")  # htmx sends the delete

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".focused-post").get_by_role("button", name="Delete").click()

    # Not the post's page emptied to a reply box for a post that is gone: home, saying so.
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Post deleted.")).to_be_visible()
    assert not Post.objects.filter(pk=post.pk).exists()
    shoot(page, "post-deleted-from-its-page")


def test_deleting_a_reply_on_its_own_page_goes_back_to_the_post_it_answered(page: Page, live_server, ivy):
    maya = UserFactory(username="maya", display_name="Maya Okafor")
    question = PostFactory(author=maya, body="Who is coming tonight?")
    reply = engagement.reply_create(author=ivy, to=question, body="Me!")
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{reply.get_absolute_url()}")
    page.wait_for_load_state("load")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".focused-post").get_by_role("button", name="Delete").click()

    page.wait_for_url(f"{live_server.url}{question.get_absolute_url()}")
    expect(page.get_by_text("Post deleted.")).to_be_visible()
    expect(page.locator(".focused-post")).to_contain_text("Who is coming tonight?")
    expect(page.locator(".replies")).to_contain_text("No replies yet.")


def test_deleting_a_reply_in_a_thread_removes_only_its_card(page: Page, live_server, ivy):
    question = PostFactory(author=UserFactory(username="maya"), body="Who is coming tonight?")
    engagement.reply_create(author=ivy, to=question, body="Me!")
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{question.get_absolute_url()}")
    page.wait_for_load_state("load")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".replies").get_by_role("button", name="Delete").click()

    expect(page.locator(".replies")).not_to_contain_text("Me!")
    assert page.url == f"{live_server.url}{question.get_absolute_url()}"


def test_a_reply_to_a_post_deleted_meanwhile_says_so_and_keeps_the_words(page: Page, live_server, ivy):
    maya = UserFactory(username="maya", display_name="Maya Okafor")
    post = PostFactory(author=maya, body="Who is coming tonight?")
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    page.get_by_label("Your reply").fill("Me, with two friends!")
    Post.objects.filter(pk=post.pk).delete()  # Maya deletes it in another tab
    page.get_by_role("button", name="Reply", exact=True).click()

    # It was the site's "Not found. There is nothing here.", and the reply was lost.
    expect(page.get_by_role("heading", name="That post was deleted")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your reply")).to_have_value("Me, with two friends!")
    shoot(page, "reply-to-a-deleted-post")


def test_liking_a_post_deleted_meanwhile_says_it_was_deleted(page: Page, live_server, ivy):
    post = PostFactory(author=UserFactory(username="maya"), body="Who is coming tonight?")
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    page.wait_for_load_state("load")  # htmx sends the like
    Post.objects.filter(pk=post.pk).delete()  # Maya deletes it in another tab
    page.get_by_role("button", name="Like, 0 so far").click()
    # The click did nothing: the server's 404 was not drawn.
    expect(page.get_by_role("alert")).to_have_text("This post was deleted.")


def test_the_page_of_a_post_by_someone_you_blocked_offers_unblock_not_reply_like_or_repost(
    page: Page, live_server, ivy
):
    sam = UserFactory(username="sam", display_name="Sam Rivera")
    post = PostFactory(author=sam, body="Tonight: modular synths")
    services.block_create(blocker=ivy, blocked=sam)
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{post.get_absolute_url()}")

    expect(page.locator(".focused-post")).to_contain_text("Tonight: modular synths")
    # It offered a reply box, Like, Repost and Quote, each refused only once used.
    expect(page.get_by_role("textbox", name="Your reply")).to_have_count(0)
    for name in ("Like", "Repost"):
        expect(page.get_by_role("button", name=re.compile(f"^{name}"))).to_have_count(0)
    expect(page.get_by_role("link", name="Quote")).to_have_count(0)
    expect(page.get_by_text("You blocked @sam, so you can't reply to, like or repost their posts.")).to_be_visible()
    shoot(page, "post-by-someone-you-blocked")

    page.get_by_role("button", name="Unblock").click()
    expect(page.get_by_text("You unblocked @sam.")).to_be_visible()
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    expect(page.get_by_role("textbox", name="Your reply")).to_be_visible()
