"""The sales dashboard in Debian's Chromium on a live Daphne (tipping itself: test_money_browser.py)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.rooms.factories import LiveSpaceFactory
from tests.rooms.test_browser import signed_in_page
from tests.ticketing.factories import make_creator
from ticketing import ledger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(live_daphne):  # noqa: F811 - the imported fixture
    return f"http://{live_daphne}"


def test_the_dashboard_draws_the_earnings_chart_and_passes_axe(browser, server):
    creator = make_creator("dana")
    space = LiveSpaceFactory(host=creator, title="Late night jazz")
    for index, cents in enumerate((500, 2_000)):
        ledger.sale_record(creator=creator, kind="tip", gross_cents=cents, stripe_reference=f"cs_{index}", space=space)
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
