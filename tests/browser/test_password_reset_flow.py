"""A person who forgot their password resets it from the emailed link, on pages drawn like the rest of the site."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.accounts.factories import UserFactory
from tests.browser.support import shoot
from tests.browser.test_people_flow import assert_accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def drawn_like_the_site(page: Page, name: str) -> None:
    """Each box in the site's field block (label, box, muted help, error under it), screenshot at 390 and 1280 px."""
    for box in page.locator("main form input:not([type=hidden])").all():
        expect(box.locator("xpath=ancestor::div[contains(@class, 'field')]")).to_have_count(1)
    shoot(page, name)
    assert_accessible(page)


def test_a_forgotten_password_is_reset_from_the_emailed_link_on_pages_drawn_like_the_site(page: Page, live_server):
    UserFactory(username="maya", email="maya@example.com")
    page.goto(f"{live_server.url}/accounts/password/reset/")
    drawn_like_the_site(page, "password-reset-request")

    page.get_by_label("Email").fill("maya@example.com")
    page.get_by_role("button", name="Reset My Password").click()
    expect(page.get_by_text("We have sent you an email")).to_be_visible()
    drawn_like_the_site(page, "password-reset-sent")

    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Change Password")).to_be_visible()
    # Cancel sits beside the main button as the site's secondary button, not a second main one.
    expect(page.get_by_role("button", name="Cancel")).to_have_class(re.compile(r"\bsecondary\b"))
    page.get_by_label("New Password", exact=True).fill("short")
    page.get_by_label("New Password (again)").fill("short")
    page.get_by_role("button", name="Change Password").click()
    mistake = page.locator(".field.has-error").filter(has=page.get_by_label("New Password", exact=True))
    expect(mistake.get_by_role("alert")).to_contain_text("too short")
    drawn_like_the_site(page, "password-reset-too-short")

    page.get_by_label("New Password", exact=True).fill("a-new-long-pass-phrase")
    page.get_by_label("New Password (again)").fill("a-new-long-pass-phrase")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Your password is now changed.")).to_be_visible()
    drawn_like_the_site(page, "password-reset-done")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Login").fill("maya")
    page.get_by_label("Password").fill("a-new-long-pass-phrase")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Home timeline")).to_be_attached()
