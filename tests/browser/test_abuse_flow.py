"""A lookalike sign-up and an image bomb are refused in place, with the field's error, in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tests.accounts.factories import UserFactory
from tests.accounts.test_uploads import image_bytes, png_header_only
from tests.browser.test_people_flow import assert_accessible, sign_up

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SHOTS = "/tmp/spaces-abuse-shots"


def no_horizontal_overflow(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_lookalike_of_a_handle_is_refused_at_sign_up(page: Page, live_server):
    UserFactory(username="maya", display_name="Maya Okafor")
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Email").fill("impostor@example.com")
    page.get_by_label("Username").fill("mаya")  # Cyrillic а
    page.locator("#id_password1").fill("a-long-pass-phrase")
    page.locator("#id_password2").fill("a-long-pass-phrase")
    page.get_by_label("Display name").fill("Maya Okafor")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_text("looks too much like the existing account @maya")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("impostor@example.com")


@pytest.mark.parametrize("width", [390, 1280])
def test_an_image_bomb_gets_a_field_error_and_a_real_photo_is_kept(page: Page, live_server, tmp_path, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_up(page, live_server.url, f"photo{width}")
    page.goto(f"{live_server.url}/settings/profile/")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(100_000, 100_000))
    page.get_by_label("Avatar").set_input_files(str(bomb))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text="at most 25 megapixels")).to_be_visible()
    no_horizontal_overflow(page)
    assert_accessible(page)
    page.screenshot(path=f"{SHOTS}/avatar-error-{width}.png", full_page=True)

    photo = tmp_path / "me.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(1200, 900)))
    page.get_by_label("Avatar").set_input_files(str(photo))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
