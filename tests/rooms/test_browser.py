"""Real pages in Debian's Chromium against a live Daphne: join, request to speak, host approves."""

import os

import pytest
from django.test import Client
from playwright.sync_api import expect

from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def signed_in_page(browser, base_url: str, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=base_url)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}])
    return context.new_page()


def test_listener_requests_to_speak_and_host_approves_in_real_pages(browser, live_daphne):
    host = make_host(display_name="Maya Host")
    space = LiveSpaceFactory(host=host, title="Browser Space")
    listener = UserFactory(display_name="Sam Listener")
    base_url = f"http://{live_daphne}"

    host_page = signed_in_page(browser, base_url, host)
    host_page.goto(f"/spaces/{space.pk}/")
    expect(host_page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(host_page.locator("#my-role")).to_have_text("Host")

    listener_page = signed_in_page(browser, base_url, listener)
    listener_page.goto(f"/spaces/{space.pk}/")
    expect(listener_page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(listener_page.locator("#my-role")).to_have_text("Listener")
    expect(host_page.locator(f'#listeners li[data-user="{listener.pk}"]')).to_contain_text("Sam Listener")

    listener_page.get_by_role("button", name="Request to speak").click()
    request = host_page.locator(f'#hands li[data-user="{listener.pk}"]')
    expect(request).to_contain_text("Hand raised")
    request.get_by_role("button", name="Approve").click()

    expect(listener_page.locator("#my-role")).to_have_text("Speaker")
    expect(listener_page.get_by_role("button", name="Unmute")).to_be_visible()
    expect(host_page.locator(f'#speakers li[data-user="{listener.pk}"]')).to_contain_text("Sam Listener")
    assert Participant.objects.get(space=space, user=listener).role == Role.SPEAKER

    # A reload reconnects and keeps the role.
    listener_page.reload()
    expect(listener_page.locator("#room")).to_have_attribute("data-connected", "true")
    expect(listener_page.locator("#my-role")).to_have_text("Speaker")
