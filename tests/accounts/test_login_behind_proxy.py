"""Behind the reverse proxy, allauth's login limits count each client's own address, not the proxy's."""

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # every request reaches the server from the proxy


def _login(client, login: str, password: str, *, client_address: str, forwarded_prefix: str = ""):
    return client.post(
        reverse("account_login"),
        {"login": login, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{forwarded_prefix}{client_address}",
    )


@override_settings(ACCOUNT_RATE_LIMITS={}, TRUSTED_PROXY_HOPS=1, ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_one_attacker_failing_logins_does_not_lock_out_everyone_else(client):
    people = [UserFactory(username=f"person{i}") for i in range(12)]
    attacker = "203.0.113.66"
    # One client fails logins again and again, a different account each time (past allauth's 10 a minute
    # per address), each time claiming another address in front of its own: only the proxy's view counts.
    refused = None
    for attempt in range(15):
        guess = f"guess{attempt}"
        page = _login(client, guess, "wrong", client_address=attacker, forwarded_prefix=f"198.51.100.{attempt}, ")
        if "Too many failed login attempts" in page.content.decode():
            refused = attempt
            break
    assert refused == 10, f"the attacker was refused after {refused} failures, not after allauth's 10 per address"
    # Everyone else, each from their own address behind the same proxy, still logs in.
    for i, person in enumerate(people):
        client.logout()
        page = _login(client, person.username, PASSWORD, client_address=f"192.0.2.{i + 10}")
        assert page.status_code == 302, f"{person.username} was locked out by someone else's failures"
    # The attacker's own address stays refused, with allauth's message, even with the right password.
    client.logout()
    page = _login(client, people[0].username, "wrong-again", client_address=attacker)
    assert "Too many failed login attempts" in page.content.decode()


@override_settings(ACCOUNT_RATE_LIMITS={}, TRUSTED_PROXY_HOPS=0, ALLAUTH_TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_a_forwarded_header_is_ignored(rf):
    from accounts.adapter import AccountAdapter

    request = rf.get("/", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="203.0.113.1")
    assert AccountAdapter().get_client_ip(request) == "192.0.2.7"


@override_settings(TRUSTED_PROXY_HOPS=2)
def test_the_client_is_counted_from_the_right_by_trusted_hops(rf):
    from spaces_site.client_ip import client_ip

    spoofed = rf.get("/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.2")
    assert client_ip(spoofed) == "203.0.113.9"
    direct = rf.get("/", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(direct) == "192.0.2.50", "a request that skipped the proxies is its own peer"
