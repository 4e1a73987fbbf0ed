"""allauth: verification, password reset, rate limits and two-factor authentication."""

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_log_in_with_username_or_email(client, alice):
    for login in ("alice", "alice@example.com"):
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert response.status_code == 302, login
        client.logout()


def test_wrong_password_is_a_form_error(client, alice):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_password_reset_mails_a_working_link(client, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_verification_holds_the_login_until_confirmed(client):
    client.post(
        reverse("account_signup"),
        {
            "email": "v@example.com",
            "username": "vera",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert client.get(reverse("accounts:inbox")).status_code == 302  # not signed in yet
    assert "confirm" in mail.outbox[0].subject.lower()


@override_settings(ACCOUNT_RATE_LIMITS={})
def test_repeated_failed_logins_are_rate_limited(client):
    from tests.accounts.factories import UserFactory

    UserFactory(username="rita")
    pages = [client.post(reverse("account_login"), {"login": "rita", "password": "bad"}) for _ in range(6)]
    assert "Too many failed login attempts" not in pages[0].content.decode()
    assert "Too many failed login attempts" in pages[-1].content.decode()
    right = client.post(reverse("account_login"), {"login": "rita", "password": PASSWORD})
    assert right.status_code == 200, "the correct password is refused too while the limit holds"


def test_two_factor_authentication_can_be_set_up(alice_client):
    asked = alice_client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302 and reverse("account_reauthenticate") in asked.url
    alice_client.post(asked.url, {"password": PASSWORD})
    response = alice_client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    assert (
        response.context["totp_url"].startswith("otpauth://totp/") and "issuer=Spaces" in response.context["totp_url"]
    )


def test_older_posts_load_over_htmx(alice_client, alice):
    from tests.accounts.factories import PostFactory

    PostFactory.create_batch(25, author=alice)
    first = alice_client.get("/")
    cursor = first.context["page"].next_cursor
    more = alice_client.get("/", {"cursor": cursor}, HTTP_HX_REQUEST="true")
    html = more.content.decode()
    assert html.count('class="post"') == 5
    assert "<html" not in html


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_the_sign_up_email_greets_the_site_by_its_name_not_its_host(client):
    client.post(
        reverse("account_signup"),
        {
            "email": "n@example.com",
            "username": "nora",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
        HTTP_HOST="127.0.0.1",
    )
    message = mail.outbox[0]
    assert message.subject.startswith("[Spaces] ")
    assert message.body.startswith("Hello from Spaces!")
    assert "127.0.0.1" not in message.subject
