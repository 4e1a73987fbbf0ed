"""Direct messages with someone who has since blocked you, or stopped taking messages, in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from accounts import services
from accounts.models import User
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _conversation():
    # Sam wrote to Ivy; then the rules between them change
    sam = UserFactory(username="sam", display_name="Sam Rivera")
    ivy = UserFactory(username="ivy", display_name="Ivy Chen")
    return sam, ivy, services.message_send(sender=sam, recipient=ivy, body="Loved your quote").conversation


def test_a_conversation_with_someone_who_blocked_you_reads_but_offers_no_message_box(page: Page, live_server):
    sam, ivy, conversation = off_the_loop(_conversation)
    off_the_loop(lambda: services.block_create(blocker=sam, blocked=ivy))
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{conversation.get_absolute_url()}")

    expect(page.locator("#thread")).to_contain_text("Loved your quote")
    # It offered the box and the Send button, and refused what was typed only once it was sent.
    expect(page.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_have_count(0)
    expect(page.locator("#message-refused")).to_have_text("@sam isn't accepting messages from you.")
    assert_accessible(page)
    shoot(page, "conversation-blocked")


def test_a_conversation_with_someone_who_takes_no_messages_says_so(page: Page, live_server):
    sam, ivy, conversation = off_the_loop(_conversation)
    User.objects.filter(pk=sam.pk).update(message_policy=User.MessagePolicy.NOBODY)
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    expect(page.locator("#message-refused")).to_have_text("@sam doesn't accept direct messages.")

    User.objects.filter(pk=sam.pk).update(message_policy=User.MessagePolicy.EVERYONE)
    page.reload()
    page.get_by_role("textbox", name="Message").fill("Thank you!")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thread")).to_contain_text("Thank you!")


def test_a_profile_offers_message_only_to_those_its_owner_takes_messages_from(page: Page, live_server):
    def people():
        # Maya takes messages from people she follows; she follows Sam, not Ivy
        maya = UserFactory(username="maya", display_name="Maya Okafor", message_policy=User.MessagePolicy.FOLLOWED)
        sam, ivy = UserFactory(username="sam"), UserFactory(username="ivy")
        services.follow_create(follower=maya, followee=sam)
        return maya, sam, ivy

    maya, sam, ivy = off_the_loop(people)
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{maya.get_absolute_url()}")
    expect(page.get_by_role("button", name="Follow @maya")).to_be_visible()
    # It offered Message, and the new message page refused it once written.
    expect(page.get_by_role("link", name="Message", exact=True)).to_have_count(0)
    shoot(page, "profile-no-messages")

    page.context.clear_cookies()
    signed_in(page.context, live_server.url, sam)
    page.goto(f"{live_server.url}{maya.get_absolute_url()}")
    page.get_by_role("link", name="Message", exact=True).click()
    expect(page.get_by_label("To (username)")).to_have_value("maya")
