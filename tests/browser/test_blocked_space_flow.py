"""A scheduled Space's pages across a block, in a real browser: they offer only what can be done."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts import services
from tests.accounts.factories import UserFactory
from tests.browser.support import off_the_loop, shoot, signed_in
from tests.browser.test_people_flow import assert_accessible
from tests.rooms.factories import SpaceFactory
from ticketing.models import TicketOffer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _ticketed_space_across_a_block(who_blocked: str):
    # Sam hosts a ticketed Space; Ivy reaches its page from a link someone else shared.
    sam = UserFactory(username="sam", display_name="Sam Rivera")
    ivy = UserFactory(username="ivy", display_name="Ivy Chen")
    space = SpaceFactory(host=sam, title="Modular synths at night")
    TicketOffer.objects.create(space=space, price_cents=500, quantity=20)
    blocker, blocked = (sam, ivy) if who_blocked == "host" else (ivy, sam)
    services.block_create(blocker=blocker, blocked=blocked)
    return ivy, space


@pytest.mark.parametrize(
    ("who_blocked", "reason"),
    [
        ("host", "The host has blocked you."),
        ("listener", "You blocked @sam; unblock them to be reminded of their Spaces."),
    ],
)
def test_a_scheduled_space_across_a_block_offers_no_share_reminder_or_tickets(
    page: Page, live_server, who_blocked, reason
):
    ivy, space = off_the_loop(lambda: _ticketed_space_across_a_block(who_blocked))
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}{space.get_absolute_url()}")

    expect(page.get_by_text(reason)).to_be_visible()
    # It offered to share the Space, send it by message and buy a ticket: none of which Ivy can use.
    for name in ("Post to your timeline", "Copy link", "Send", "Set reminder"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("link", name="Tickets")).to_have_count(0)
    expect(page.get_by_role("link", name="Report this Space")).to_be_visible()
    assert_accessible(page)
    shoot(page, f"space-blocked-by-{who_blocked}")


@pytest.mark.parametrize(
    ("who_blocked", "reason"),
    [
        ("host", "The host has blocked you, so you can't buy a ticket."),
        ("listener", "You blocked @sam; unblock them to buy a ticket."),
    ],
)
def test_the_ticket_page_across_a_block_says_why_instead_of_offering_buy(page: Page, live_server, who_blocked, reason):
    ivy, space = off_the_loop(lambda: _ticketed_space_across_a_block(who_blocked))
    signed_in(page.context, live_server.url, ivy)
    page.goto(f"{live_server.url}/money/spaces/{space.pk}/tickets/")

    expect(page.get_by_text(reason)).to_be_visible()
    # It offered "Buy a ticket", which refused only once pressed.
    expect(page.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
    assert_accessible(page)
    shoot(page, f"tickets-blocked-by-{who_blocked}")
