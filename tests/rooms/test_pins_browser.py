"""Pinning posts in a live Space from the room page, in Debian's Chromium: what the host types, what the room
says back, and what the listener (already in the room) sees."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rooms.models import PinnedPost
from tests.accounts.factories import PostFactory, UserFactory
from tests.browser.support import signed_in_page
from tests.rooms.factories import LiveSpaceFactory, make_host

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pin_that_fails_keeps_what_was_typed_and_a_pin_that_works_says_so(browser, live_daphne):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Synths at night")
    post = PostFactory(author=host, body="Patch notes for tonight")
    base_url = f"http://{live_daphne}"
    listener_page = signed_in_page(browser, base_url, UserFactory(username="sam"), f"/spaces/{space.pk}/")
    host_page = signed_in_page(browser, base_url, host, f"/spaces/{space.pk}/")
    for page in (host_page, listener_page):
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    box, status = host_page.locator("#pin-post"), host_page.locator("#connection-status")

    box.fill(f"{base_url}/posts/{post.pk + 1000}/")
    host_page.get_by_role("button", name="Pin", exact=True).click()
    expect(status).to_have_text("No such post.")
    expect(box).to_have_value(f"{base_url}/posts/{post.pk + 1000}/")  # it was emptied: the link to mend was gone

    box.fill(f"{base_url}/posts/{post.pk}/")
    host_page.get_by_role("button", name="Pin", exact=True).click()
    expect(listener_page.locator("#pins")).to_contain_text("@maya: Patch notes for tonight")
    expect(status).to_have_text("Pinned.")  # not the error of the pin before
    expect(box).to_have_value("")
    assert host_page.errors == [] and listener_page.errors == []


def test_the_host_unpins_a_post_and_it_leaves_the_listeners_room(browser, live_daphne):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Synths at night")
    PinnedPost.objects.create(space=space, post=PostFactory(author=host, body="Patch notes"), pinned_by=host)
    base_url = f"http://{live_daphne}"
    listener_page = signed_in_page(browser, base_url, UserFactory(username="sam"), f"/spaces/{space.pk}/")
    host_page = signed_in_page(browser, base_url, host, f"/spaces/{space.pk}/")
    for page in (host_page, listener_page):
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(listener_page.locator("#pins")).to_contain_text("@maya: Patch notes")
    expect(listener_page.locator("#pins").get_by_role("button", name="Unpin")).to_have_count(0)  # not theirs to do

    # A pin could be added but never taken down: the room had no control for it.
    host_page.locator("#pins").get_by_role("button", name="Unpin").click()
    expect(listener_page.locator("#pins li")).to_have_count(0)
    expect(host_page.locator("#pins li")).to_have_count(0)
    assert not PinnedPost.objects.filter(space=space).exists()
    assert host_page.errors == [] and listener_page.errors == []
