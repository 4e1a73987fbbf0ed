"""The host's real room page in Chromium marks their Super Followers as they join a Space for Super Followers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rooms.models import Invitation, Role, Space
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory
from tests.rooms.test_browser import signed_in_page
from tests.ticketing.factories import make_creator

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_host_sees_the_super_follower_badge_and_a_stranger_is_turned_away(browser, live_daphne):  # noqa: F811
    creator = make_creator()
    space = LiveSpaceFactory(host=creator, title="Backstage", audience=Space.Audience.SUPER_FOLLOWERS)
    fan = UserFactory(display_name="Fay Fan")
    SuperFollowSubscriptionFactory(
        subscriber=fan, plan=SuperFollowPlanFactory(creator=creator, price_cents=299), status="active"
    )
    guest = UserFactory(display_name="Gus Guest")
    Invitation.objects.create(space=space, user=guest, role=Role.SPEAKER, invited_by=creator)
    stranger = UserFactory()
    base_url = f"http://{live_daphne}"
    errors = []

    host_page = signed_in_page(browser, base_url, creator)
    host_page.on("pageerror", lambda error: errors.append(error))
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true")

    for person in (fan, guest):
        page = signed_in_page(browser, base_url, person)
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(f"/spaces/{space.pk}/")
        expect(page.locator("#room")).to_have_attribute("data-connected", "true")
        # Nobody but the host is shown who super-follows them.
        expect(page.locator(".tag.super-follower")).to_have_count(0)

    fan_row = host_page.locator(f'#listeners li[data-user="{fan.pk}"]')
    expect(fan_row).to_contain_text("Fay Fan")
    expect(fan_row.locator(".tag.super-follower")).to_have_text("Super Follower")
    guest_row = host_page.locator(f'#listeners li[data-user="{guest.pk}"]')
    expect(guest_row).to_contain_text("Gus Guest")
    expect(guest_row.locator(".tag.super-follower")).to_have_count(0)

    refused = signed_in_page(browser, base_url, stranger)
    response = refused.goto(f"/spaces/{space.pk}/")
    assert response.status == 403
    expect(refused.get_by_role("alert")).to_contain_text("This Space is for @dana's Super Followers.")
    expect(refused.get_by_role("button", name="Super Follow @dana for $2.99 a month")).to_be_visible()
    assert errors == []
