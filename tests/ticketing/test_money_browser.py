"""Money journeys in Debian's Chromium on a live Daphne, paid on the built-in test provider's checkout (no network)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Post
from accounts.services import post_create
from rooms import services as room_services
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory
from tests.rooms.test_browser import signed_in_page
from tests.ticketing.factories import make_creator
from ticketing import ledger, tickets
from ticketing.models import SeatHold, SuperFollowSubscription, Ticket, TicketOffer, Tip

from .factories import SuperFollowPlanFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The live server applies Stripe's events itself, as `make run` does, even when a broker is configured.
LIVE_DAPHNE_ENV = {"CELERY_TASK_ALWAYS_EAGER": "1"}


@pytest.fixture
def server(live_daphne):  # noqa: F811 - the imported fixture
    return f"http://{live_daphne}"


def pay(page, card: str, *, expiry: str = "12 / 34", cvc: str = "123") -> None:
    """Fill in the test provider's hosted checkout and submit it."""
    expect(page.locator("#test-mode-banner")).to_contain_text("Test mode")
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiration (MM / YY)").fill(expiry)
    page.get_by_label("CVC").fill(cvc)
    page.get_by_label("Cardholder name").fill("Alice Fan")
    page.locator("form button[type=submit]").click()


def in_own_thread(function, **kwargs):
    """Services that push to sockets use async_to_sync, which can't run in Playwright's (looping) thread."""

    def run():
        try:
            return function(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(run).result(timeout=30)


def ticketed_space(host, *, price_cents: int = 1500) -> TicketOffer:
    space = SpaceFactory(host=host, title="Friday jam", scheduled_for=timezone.now() + timedelta(hours=2))
    return tickets.ticket_offer_create(space=space, by=host, price_cents=price_cents, quantity=20)


def test_a_fan_buys_a_ticket_with_4242_and_enters_the_ticketed_space(browser, server):
    host = make_creator("leo")
    offer = ticketed_space(host)
    fan = UserFactory(username="alice", display_name="Alice", email="alice@example.com")
    errors = []
    page = signed_in_page(browser, server, fan)
    page.on("pageerror", lambda error: errors.append(error))

    page.goto(f"/money/spaces/{offer.space_id}/tickets/")
    expect(page.locator("#test-mode-banner")).to_be_visible()
    page.get_by_role("button", name="Buy a ticket for $15.00").click()

    expect(page).to_have_url(
        f"{server}/money/test-provider/checkout/{SeatHold.objects.get().stripe_checkout_session_id}/"
    )
    expect(page.get_by_role("heading", name="Pay $15.00")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("alice@example.com")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    pay(page, "4242 4242 4242 4242")

    expect(page.locator("#ticket-status")).to_have_text("Valid")
    ticket = Ticket.objects.get(buyer=fan)
    assert ticket.status == Ticket.Status.VALID
    offer.refresh_from_db()
    assert (offer.sold_count, offer.held_count) == (1, 0)

    in_own_thread(room_services.space_start, space=offer.space, by=host)
    page.goto(f"/spaces/{offer.space_id}/")
    expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(page.locator("#my-role")).to_have_text("Listener")
    assert errors == []


def test_declined_and_mistyped_cards_say_why_and_sell_nothing(browser, server):
    offer = ticketed_space(make_creator("leo"))
    page = signed_in_page(browser, server, UserFactory(username="alice", email="alice@example.com"))
    page.goto(f"/money/spaces/{offer.space_id}/tickets/")
    page.get_by_role("button", name="Buy a ticket for $15.00").click()
    checkout_url = page.url

    for card, expiry, message in [
        ("4000 0000 0000 0002", "12 / 34", "Your card was declined."),
        ("4000 0000 0000 9995", "12 / 34", "Your card has insufficient funds."),
        ("4242 4242 4242 4241", "12 / 34", "Your card number is invalid."),
        ("4242 4242 4242 4242", "01 / 20", "Your card's expiration year is in the past."),
    ]:
        pay(page, card, expiry=expiry)
        expect(page).to_have_url(checkout_url)
        expect(page.get_by_text(message)).to_be_visible()

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert not Ticket.objects.exists()
    offer.refresh_from_db()
    assert (offer.sold_count, offer.held_count) == (0, 1)  # the seat stays held until the checkout expires
    assert SeatHold.objects.get().status == SeatHold.Status.HELD


def test_a_fan_super_follows_leo_and_reads_his_subscriber_only_post(browser, server):
    leo = make_creator("leo")
    SuperFollowPlanFactory(creator=leo, price_cents=499)
    post_create(author=leo, body="Backstage notes for my Super Followers", audience=Post.Audience.SUPER_FOLLOWERS)
    fan = UserFactory(username="alice", email="alice@example.com")
    page = signed_in_page(browser, server, fan)

    page.goto("/@leo/")
    expect(page.get_by_text("Super Follow @leo to see this post")).to_be_visible()
    expect(page.get_by_text("Backstage notes for my Super Followers")).to_have_count(0)
    page.get_by_role("button", name="Super Follow @leo for $4.99 a month").click()

    expect(page.get_by_role("heading", name="Pay $4.99 per month")).to_be_visible()
    pay(page, "4242 4242 4242 4242")

    expect(page).to_have_url(
        f"{server}/money/super-follows/done/?session_id={SuperFollowSubscription.objects.get().stripe_checkout_session_id}"
    )
    expect(page.locator("main")).to_contain_text("Active")
    page.goto("/@leo/")
    expect(page.get_by_text("Backstage notes for my Super Followers")).to_be_visible()
    subscription = SuperFollowSubscription.objects.get()
    assert subscription.status == SuperFollowSubscription.Status.ACTIVE
    assert subscription.stripe_subscription_id.startswith("sub_")


def test_a_listener_tips_from_the_room_in_a_new_tab_and_the_room_keeps_going(browser, server):
    host = make_creator("dana")
    space = LiveSpaceFactory(host=host, title="Late night jazz")
    errors = []
    host_page = signed_in_page(browser, server, host)
    host_page.on("pageerror", lambda error: errors.append(error))
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true")

    room = signed_in_page(browser, server, UserFactory(username="alice", display_name="Alice"))
    room.on("pageerror", lambda error: errors.append(error))
    room.goto(f"/spaces/{space.pk}/")
    expect(room.locator("#room")).to_have_attribute("data-connected", "true")
    # Mark this page and watch its socket: a navigation or a reconnect would lose the mark or log a drop.
    room.evaluate(
        """() => {
          window.stayedHere = true;
          window.socketDrops = 0;
          new MutationObserver(() => {
            if (document.getElementById("room").dataset.connected !== "true") window.socketDrops += 1;
          }).observe(document.getElementById("room"), { attributes: true, attributeFilter: ["data-connected"] });
        }"""
    )

    room.get_by_label("Tip (US dollars)").fill("12.50")
    with room.context.expect_page() as opened:
        room.get_by_role("button", name="Tip @dana").click()
    checkout = opened.value
    expect(checkout.get_by_role("heading", name="Pay $12.50")).to_be_visible()
    expect(room.locator("#tip-note")).to_contain_text("Checkout opened in a new tab")
    pay(checkout, "4242 4242 4242 4242")
    expect(checkout.locator("#tip-status")).to_have_text("Paid")

    expect(host_page.locator("#tip-feed li")).to_have_text(["Alice (@alice) tipped $12.50"])
    expect(room.locator("#tip-feed li")).to_have_text(["Alice (@alice) tipped $12.50"])
    expect(room.locator("#tip-note")).to_have_text("Your $12.50 tip went through. Thank you!")
    assert room.url == f"{server}/spaces/{space.pk}/"
    assert room.evaluate("() => [window.stayedHere, window.socketDrops]") == [True, 0]
    expect(room.locator("#room")).to_have_attribute("data-connected", "true")
    tip = Tip.objects.get()
    assert (tip.status, tip.amount_cents, tip.application_fee_cents) == (Tip.Status.PAID, 1_250, 38)
    assert errors == []


def test_a_creator_finds_the_dashboard_and_it_reads_on_a_phone(browser, server):
    leo = make_creator("leo")
    space = LiveSpaceFactory(host=leo, title="A rather long title for a Space about product design")
    for index, cents in enumerate((500, 2_000, 1_250)):
        ledger.sale_record(creator=leo, kind="tip", gross_cents=cents, stripe_reference=f"cs_{index}", space=space)
    offer = ticketed_space(leo, price_cents=99_900)
    TicketOffer.objects.filter(pk=offer.pk).update(page_views=12_345)
    context = browser.new_context(base_url=server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.context.add_cookies(signed_in_page(browser, server, leo).context.cookies())

    page.goto("/@leo/")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Creator tools")).to_be_visible()
    page.get_by_role("link", name="Sales dashboard").click()
    expect(page.get_by_role("heading", name="Sales dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_have_attribute(
        "aria-current", "page"
    )
    page.wait_for_function("window.earningsChart !== undefined")

    layout = page.evaluate(
        """() => {
          const box = document.querySelector(".table-scroll");
          const figures = [...document.querySelectorAll(".figures .figure")].map((f) => f.getBoundingClientRect());
          return {
            pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            tableScrolls: box.scrollWidth > box.clientWidth,
            boxRight: box.getBoundingClientRect().right,
            chartHeight: document.getElementById("earnings-chart").getBoundingClientRect().height,
            twoCardsAbreast: figures[0].top === figures[1].top,
          };
        }"""
    )
    assert layout["pageOverflow"] == 0
    assert layout["tableScrolls"] and layout["boxRight"] <= 390
    assert layout["chartHeight"] >= 200
    assert layout["twoCardsAbreast"]
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

    page.set_viewport_size({"width": 1280, "height": 800})  # a desktop reads every column without scrolling
    assert page.evaluate("(box => box.scrollWidth - box.clientWidth)(document.querySelector('.table-scroll'))") <= 0


def test_a_fan_finds_the_ticket_they_bought_in_their_purchases_and_reads_its_refund_when_the_host_cancels(
    browser, server
):
    host = make_creator("leo")
    offer = ticketed_space(host)
    fan = UserFactory(username="alice", display_name="Alice", email="alice@example.com")
    page = signed_in_page(browser, server, fan)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/money/spaces/{offer.space_id}/tickets/")
    page.get_by_role("button", name="Buy a ticket for $15.00").click()
    pay(page, "4242 4242 4242 4242")
    expect(page.locator("#ticket-status")).to_have_text("Valid")

    page.get_by_role("link", name="Your purchases").click()
    tickets_bought = page.locator("#purchased-tickets li")
    expect(tickets_bought).to_have_count(1)
    expect(tickets_bought).to_contain_text("Friday jam")
    expect(tickets_bought).to_contain_text("$15.00, bought")
    expect(tickets_bought).to_contain_text("Valid")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0

    host_page = signed_in_page(browser, server, host)
    host_page.goto(f"/spaces/{offer.space_id}/")
    host_page.get_by_role("link", name="Cancel Space").click()
    expect(host_page.locator("#cancel-refunds")).to_have_text(
        "1 ticket holder will be refunded in full ($15.00 in all)."
    )
    host_page.get_by_role("button", name="Yes, cancel the Space").click()
    expect(host_page.locator(".flash")).to_be_visible()

    page.goto("/")
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Your purchases").click()
    expect(tickets_bought).to_contain_text("Refunded on")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_an_unannounced_tip_reaches_the_host_alone_and_the_tipper_reads_where_to_see_it_go_through(browser, server):
    host = make_creator("dana")
    space = LiveSpaceFactory(host=host, title="Late night jazz")
    host_page = signed_in_page(browser, server, host)
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true")
    room = signed_in_page(browser, server, UserFactory(username="alice", display_name="Alice"))
    room.goto(f"/spaces/{space.pk}/")
    expect(room.locator("#room")).to_have_attribute("data-connected", "true")

    room.get_by_label("Tip (US dollars)").fill("5")
    room.get_by_label("Announce my tip in the Space").uncheck()
    with room.context.expect_page() as opened:
        room.get_by_role("button", name="Tip @dana").click()
    expect(room.locator("#tip-note")).to_have_text(
        "Checkout opened in a new tab. Pay there; its page says when your tip goes through."
    )
    checkout = opened.value
    pay(checkout, "4242 4242 4242 4242")
    expect(checkout.locator("#tip-status")).to_have_text("Paid")
    expect(checkout.get_by_text("Thank you! @dana has been told.")).to_be_visible()

    expect(host_page.locator("#tip-feed li")).to_have_text(["Alice (@alice) tipped $5.00 (only you see this)"])
    # Nothing was announced to the room: someone who joins after the payment reaches the tipper's page after any
    # announcement would have, so once the tipper's count shows them the feed has had its chance.
    expect(room.locator("#listener-count")).to_have_text("1")
    latecomer = signed_in_page(browser, server, UserFactory(username="bo", display_name="Bo"))
    latecomer.goto(f"/spaces/{space.pk}/")
    expect(room.locator("#listener-count")).to_have_text("2")
    expect(room.locator("#tip-feed li")).to_have_count(0)
    expect(room.locator("#tip-note")).to_have_text(
        "Checkout opened in a new tab. Pay there; its page says when your tip goes through."
    )
