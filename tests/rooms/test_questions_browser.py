"""Questions from the audience in Debian's Chromium: a listener asks, the host sees it live, upvotes and pins it to
the stage, the listener sees it pinned on the stage, then answered. A too-long question is refused in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.browser.support import signed_in_page
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.test_stage_browser import VIEWPORTS, shots_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "Supercalifragilisticexpialidociousvoicenames"


def test_a_listener_asks_the_host_pins_it_and_the_listener_sees_it_on_the_stage(browser, live_daphne, tmp_path):
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Ask me anything about synths")
    base = f"http://{live_daphne}"
    listener = signed_in_page(
        browser, base, UserFactory(username="sam", display_name="Sam"), viewport=VIEWPORTS["phone"]
    )
    host_page = signed_in_page(browser, base, host, viewport=VIEWPORTS["desktop"])
    errors = []
    for page in (listener, host_page):
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(f"/spaces/{space.pk}/")
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(host_page.locator("#ask-form")).to_be_hidden()  # the hosts answer; listeners ask

    ask = listener.get_by_label("Ask the hosts a question")
    ask.fill("x" * 280)
    expect(listener.locator("#ask-left")).to_have_text("0")
    # What the browser lets through past maxlength (a paste, an old page) is refused by the server, in place.
    listener.evaluate("window.spacesRoom.send({ type: 'ask', text: 'y'.repeat(300) })")
    expect(listener.locator("#ask-error")).to_have_text("A question can be at most 280 characters; yours has 300.")

    question = f"Which filter makes that {LONG}{LONG} sound?"
    ask.fill(question)
    listener.get_by_role("button", name="Ask", exact=True).click()
    mine = listener.locator("#questions .question")
    expect(mine).to_contain_text("You asked")
    expect(ask).to_have_value("")

    seen = host_page.locator("#questions .question")
    expect(seen).to_contain_text(question)
    expect(seen).to_contain_text("Sam (@sam) asked · 0 upvotes")
    seen.get_by_role("button", name="Upvote").click()
    expect(seen).to_contain_text("1 upvote")
    seen.get_by_role("button", name="Pin to the stage").click()
    expect(host_page.locator("#stage-question")).to_contain_text(question)

    stage = listener.locator("#stage-question")
    expect(stage).to_be_visible()
    expect(stage).to_contain_text("Question from @sam")
    expect(mine.locator(".question-state")).to_have_text("On the stage")
    listener.screenshot(path=str(shots_dir(tmp_path) / "questions-phone-listener.png"), full_page=True)
    host_page.screenshot(path=str(shots_dir(tmp_path) / "questions-desktop-host.png"), full_page=True)
    for page in (listener, host_page):
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{overflow}px of horizontal overflow with a long question on the stage"

    seen.get_by_role("button", name="Mark answered").click()
    expect(mine.locator(".question-state")).to_have_text("Answered")
    expect(stage).to_be_hidden()
    assert errors == []
