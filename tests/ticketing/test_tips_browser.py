"""Real pages in Debian's Chromium against a live Daphne: a listener tips, the room shows it, the dashboard draws it."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.rooms.conftest import live_daphne  # noqa: F401 - the live server fixture
from tests.rooms.factories import LiveSpaceFactory
from tests.rooms.test_browser import signed_in_page
from ticketing import services
from ticketing.models import ProcessedStripeEvent, Tip

from .conftest import WEBHOOK_SECRET, make_creator, tip_checkout_event
from .provider import FakeStripeServer, sign_webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stripe_for_daphne(monkeypatch):
    """The live server's Stripe settings (read from its environment): the local fake and our webhook secret."""
    with FakeStripeServer() as fake:
        monkeypatch.setenv("STRIPE_API_BASE", fake.url)
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fake_key")
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        yield fake


@pytest.fixture
def server(stripe_for_daphne, live_daphne):  # noqa: F811 - the imported fixture
    return f"http://{live_daphne}"


def _stripe_pays(server: str, tip: Tip) -> None:
    """Stripe's signed webhook to the live server; with a broker, this process then does the worker's job."""
    body = tip_checkout_event(tip)
    request = urllib.request.Request(
        f"{server}/money/stripe/webhook/",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign_webhook(body, WEBHOOK_SECRET)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["duplicate"] is False
    if settings.REDIS_URL:
        event = ProcessedStripeEvent.objects.get(event_id=json.loads(body)["id"])
        # A thread of its own, as a worker: Playwright's loop runs in this one, and pushes use async_to_sync.
        with ThreadPoolExecutor(max_workers=1) as worker:
            assert worker.submit(_apply_as_worker, event.pk).result(timeout=10) is True


def _apply_as_worker(event_pk: int) -> bool:
    try:
        return services.stripe_event_apply(event_pk=event_pk)
    finally:
        connection.close()


def test_a_listener_tips_and_the_room_shows_it_live(browser, server, stripe_for_daphne):
    host = make_creator("dana")
    space = LiveSpaceFactory(host=host, title="Late night jazz")
    tipper = UserFactory(username="alice", display_name="Alice")
    errors = []

    host_page = signed_in_page(browser, server, host)
    host_page.on("pageerror", lambda error: errors.append(error))
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(host_page.locator("#tip-form")).to_have_count(0)

    page = signed_in_page(browser, server, tipper)
    page.on("pageerror", lambda error: errors.append(error))
    # Stripe's hosted page can't be reached from here; stand in for it.
    page.route("https://checkout.stripe.test/**", lambda route: route.fulfill(body="<title>Stripe Checkout</title>"))
    page.goto(f"/spaces/{space.pk}/")
    expect(page.locator("#room")).to_have_attribute("data-connected", "true")
    page.get_by_label("Tip (US dollars)").fill("12.50")
    page.get_by_role("button", name="Tip @dana").click()
    expect(page).to_have_title("Stripe Checkout")

    tip = Tip.objects.get()
    assert (tip.amount_cents, tip.announce, tip.status) == (1_250, True, Tip.Status.PENDING)
    [checkout] = stripe_for_daphne.requests_to("POST", "/v1/checkout/sessions")
    assert checkout.params["payment_intent_data"]["application_fee_amount"] == "38"

    listener_page = signed_in_page(browser, server, UserFactory(username="bob"))
    listener_page.on("pageerror", lambda error: errors.append(error))
    listener_page.goto(f"/spaces/{space.pk}/")
    expect(listener_page.locator("#room")).to_have_attribute("data-connected", "true")

    _stripe_pays(server, tip)

    expect(host_page.locator("#tip-feed li")).to_have_text(["Alice (@alice) tipped $12.50"])
    expect(listener_page.locator("#tip-feed li")).to_have_text(["Alice (@alice) tipped $12.50"])
    page.goto(f"/money/tips/done/?session_id={tip.stripe_checkout_session_id}")
    expect(page.locator("#tip-status")).to_have_text("Paid")
    assert errors == []


def test_the_dashboard_draws_the_earnings_chart_and_passes_axe(browser, server):
    creator = make_creator("dana")
    space = LiveSpaceFactory(host=creator, title="Late night jazz")
    for index, cents in enumerate((500, 2_000)):
        services.sale_record(
            creator=creator, kind="tip", gross_cents=cents, stripe_reference=f"cs_{index}", space=space
        )
    errors = []
    page = signed_in_page(browser, server, creator)
    page.on("pageerror", lambda error: errors.append(error))
    page.goto("/money/creator/dashboard/")

    expect(page.get_by_role("heading", name="Sales dashboard")).to_be_visible()
    page.wait_for_function("window.earningsChart !== undefined")
    drawn = page.evaluate("() => window.earningsChart.data.datasets.map((d) => [d.label, d.data])")
    assert drawn == [["Tip", [24.25]]]
    assert page.locator("#earnings-chart").bounding_box()["height"] > 0
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("link", name="Late night jazz").click()
    expect(page.locator("#space-tips")).to_have_text("2 ($25.00)")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert errors == []
