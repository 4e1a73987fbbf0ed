"""Two people message each other in real browsers: a reply arrives in the open conversation without a reload."""

import pytest
from playwright.sync_api import Browser, expect

from accounts import services
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Counts the page's open sockets, so the test waits until the reader is listening.
COUNT_OPEN_SOCKETS = """
window.openSockets = 0;
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("open", () => { window.openSockets += 1; });
  }
};
"""


def test_a_reply_arrives_in_the_open_conversation_without_reload(browser: Browser, live_daphne):  # noqa: F811
    def build():
        ana = UserFactory(username="ana", display_name="Ana")
        ben = UserFactory(username="ben", display_name="Ben")
        message = services.message_send(sender=ana, recipient=ben, body="Are you coming tonight?")
        return ana, ben, message.conversation

    ana, ben, conversation = off_the_loop(build)
    base = f"http://{live_daphne}"
    pages = {}
    for person in (ana, ben):
        context = browser.new_context()
        context.add_init_script(COUNT_OPEN_SOCKETS)
        signed_in(context, base, person)
        pages[person.username] = context.new_page()

    ana_page = pages["ana"]
    errors = []
    ana_page.on("pageerror", lambda error: errors.append(error))
    ana_page.goto(f"{base}{conversation.get_absolute_url()}")
    # Listening before the event: the page's socket is open.
    ana_page.wait_for_function("() => window.openSockets > 0")
    marker = ana_page.evaluate("() => { window.notReloaded = true; return true; }")

    ben_page = pages["ben"]
    ben_page.goto(f"{base}{conversation.get_absolute_url()}")
    ben_page.get_by_role("textbox", name="Message").fill("Yes! Saving you a seat <3")
    ben_page.get_by_role("button", name="Send").click()
    expect(ben_page.locator("#thread")).to_contain_text("Saving you a seat <3")

    expect(ana_page.locator("#thread li.theirs").last).to_contain_text("Yes! Saving you a seat <3")
    assert marker and ana_page.evaluate("() => window.notReloaded === true")
    assert errors == []
    assert_accessible(ana_page)
    shoot(ana_page, "conversation")

    ana_page.get_by_role("textbox", name="Message").fill("Great, see you")
    ana_page.get_by_role("button", name="Send").click()
    expect(ben_page.locator("#thread li.theirs").last).to_contain_text("Great, see you")
