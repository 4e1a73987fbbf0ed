"""The built-in payments test provider: its hosted pages, its signed and retried webhooks, and where test mode shows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stripe
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.ticketing.factories import make_creator
from ticketing import webhooks as stripe_events
from ticketing.models import ProcessedStripeEvent, SeatHold, Ticket
from ticketing.test_provider import store, webhooks

from .tickets_support import scheduled_space

ROOT = Path(__file__).resolve().parents[2]
CARD = {"email": "fan@example.com", "expiry": "12 / 34", "cvc": "123", "name": "Fan"}


@pytest.fixture
def checkout(client, provider):
    """A fan's open ticket checkout at the provider: (hold, the hosted page's path)."""
    from ticketing import tickets

    space = scheduled_space(make_creator("leo"))
    offer = tickets.ticket_offer_create(space=space, by=space.host, price_cents=1500, quantity=5)
    fan = UserFactory(username="fan")
    client.force_login(fan)
    response = client.post(reverse("ticketing:ticket_buy", args=[space.pk]))
    hold = SeatHold.objects.get(offer=offer)
    assert response.status_code == 303
    assert response["Location"] == f"http://testserver/money/test-provider/checkout/{hold.stripe_checkout_session_id}/"
    return hold, response["Location"].removeprefix("http://testserver")


def test_the_hosted_checkout_names_the_sites_icon(client, checkout):
    _, path = checkout
    assert 'rel="icon" href="/static/favicon.svg"' in client.get(path).content.decode()  # not a 404 for /favicon.ico


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"number": "4242 4242 4242 4241"}, "number", "Your card number is invalid."),
        ({"number": "4242"}, "number", "Your card number is incomplete."),
        ({"number": "4242 4242 4242 424²"}, "number", "Your card number is invalid."),
        ({"number": "4242 4242 4242 4242", "expiry": "13 / 30"}, "expiry", "Your card's expiration month is invalid."),
        ({"number": "4242 4242 4242 4242", "expiry": "1"}, "expiry", "Your card's expiration date is incomplete."),
        ({"number": "4242 4242 4242 4242", "cvc": "1"}, "cvc", "Your card's security code is incomplete."),
        ({"number": "4000 0000 0000 0002"}, "number", "Your card was declined."),
        ({"number": "4000 0000 0000 9995"}, "number", "Your card has insufficient funds."),
        ({"number": "5105 1051 0510 5100"}, "number", "used a non test card"),
    ],
)
def test_the_card_form_refuses_bad_and_declined_cards_and_sells_nothing(
    client, checkout, django_capture_on_commit_callbacks, fields, field, message
):
    hold, path = checkout
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {**CARD, **fields})
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert not Ticket.objects.exists()
    assert store.get("checkout.session", hold.stripe_checkout_session_id).data["status"] == "open"


def test_4242_pays_and_the_signed_webhook_issues_the_ticket_before_the_buyer_lands(
    client, checkout, provider, django_capture_on_commit_callbacks
):
    hold, path = checkout
    page = client.get(path).content.decode()
    assert "Pay $15.00" in page and "Test mode" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {**CARD, "number": "4242424242424242"})

    assert response.status_code == 303
    assert response["Location"] == f"http://testserver/money/tickets/done/?session_id={hold.stripe_checkout_session_id}"
    ticket = Ticket.objects.get()
    session = provider.sessions[hold.stripe_checkout_session_id]
    assert (session["status"], session["payment_status"]) == ("complete", "paid")
    assert ticket.payment_intent_id == session["payment_intent"]
    event = ProcessedStripeEvent.objects.get(type="checkout.session.completed")
    assert event.processed_at is not None
    delivered = [e for e in store.all_of("event") if e.data["type"] == "checkout.session.completed"]
    assert delivered[0].private["attempts"][0]["status"] == 200
    # Paid once: the page now says so instead of taking another card.
    assert client.get(path).status_code == 410


def test_onboarding_is_one_click_and_the_account_turns_ready(client, provider, django_capture_on_commit_callbacks):
    user = make_creator("leo", profile=False)
    client.force_login(user)
    link = client.post(reverse("ticketing:payout_start"))["Location"]
    assert link.startswith("http://testserver/money/test-provider/connect/")
    path = link.removeprefix("http://testserver")
    assert "Complete onboarding" in client.get(path).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        back = client.post(path)
    assert back["Location"] == "http://testserver/money/creator/payout/return/"
    page = client.get(back["Location"], follow=True).content.decode()
    assert "Payout account: Ready to receive payouts." in page
    assert ProcessedStripeEvent.objects.filter(type="account.updated", processed_at__isnull=False).exists()
    # A used link sends the creator to refresh_url for a new one, as Stripe does.
    assert client.get(path)["Location"] == "http://testserver/money/creator/payout/refresh/"


def test_the_signature_is_stripes_scheme_and_the_endpoint_checks_it(settings):
    body = b'{"id": "evt_1"}'
    header = webhooks.signature_header(body, "whsec_x", timestamp=1700000000)
    assert (
        header
        == f"t=1700000000,v1={stripe.WebhookSignature._compute_signature('1700000000.' + body.decode(), 'whsec_x')}"
    )


@pytest.mark.django_db(transaction=True)
def test_a_webhook_the_endpoint_fails_is_retried_until_it_is_taken(client, provider, monkeypatch):
    monkeypatch.setattr(webhooks, "RETRY_SECONDS", (0.2,) * 10)
    real_receive, failures = stripe_events.stripe_webhook_receive, [RuntimeError("the database is restarting")]

    def flaky_receive(**kwargs):
        if failures:
            raise failures.pop()
        return real_receive(**kwargs)

    monkeypatch.setattr(stripe_events, "stripe_webhook_receive", flaky_receive)
    # The endpoint's 500 is the provider's to see; the test client would otherwise re-raise it on the page's request.
    client.raise_request_exception = False
    user = make_creator("leo", profile=False)
    client.force_login(user)
    path = client.post(reverse("ticketing:payout_start"))["Location"].removeprefix("http://testserver")
    client.post(path)

    def delivered():
        [event] = [e for e in store.all_of("event") if e.data["type"] == "account.updated"]
        return event.private.get("delivered_at") and event

    deadline = time.monotonic() + 20
    while not (event := delivered()):
        assert time.monotonic() < deadline, "the retried delivery never arrived"
        time.sleep(0.05)
    assert [a["status"] for a in event.private["attempts"]] == [500, 200]
    assert ProcessedStripeEvent.objects.filter(type="account.updated", processed_at__isnull=False).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_api_is_also_served_over_http_for_other_processes(live_daphne):  # noqa: F811
    client = stripe.StripeClient(
        "sk_test_from_another_process",
        base_addresses={"api": f"http://{live_daphne}/money/test-provider"},
        max_network_retries=0,
    )
    account = client.v1.accounts.create(params={"email": "c@example.com"}, options={"idempotency_key": "k"})
    assert account.id.startswith("acct_")
    assert client.v1.accounts.retrieve(account.id).email == "c@example.com"
    with pytest.raises(stripe.InvalidRequestError, match="No such account"):
        client.v1.account_links.create(
            params={
                "account": "acct_nope",
                "type": "account_onboarding",
                "refresh_url": "http://x/r",
                "return_url": "http://x/ok",
            }
        )


def test_money_pages_show_the_test_mode_banner_and_other_pages_do_not(client, db):
    client.force_login(make_creator("leo"))
    assert 'id="test-mode-banner"' in client.get(reverse("ticketing:creator")).content.decode()
    assert 'id="test-mode-banner"' in client.get(reverse("ticketing:dashboard")).content.decode()
    assert 'id="test-mode-banner"' not in client.get(reverse("home")).content.decode()


def test_production_settings_refuse_to_start_in_test_mode():
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(DJANGO_SETTINGS_MODULE="spaces_site.settings.prod", DJANGO_SECRET_KEY="x" * 60)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: STRIPE_SECRET_KEY must be set" in result.stderr


def test_events_reach_the_endpoint_even_for_a_site_this_server_does_not_answer_to(
    provider, django_capture_on_commit_callbacks
):
    from ticketing import tickets

    space = scheduled_space(make_creator("leo"))
    offer = tickets.ticket_offer_create(space=space, by=space.host, price_cents=1500, quantity=5)
    hold = tickets.ticket_purchase_start(
        offer=offer,
        buyer=UserFactory(),
        success_url="https://elsewhere.test/done",
        cancel_url="https://elsewhere.test/",
    )
    with django_capture_on_commit_callbacks(execute=True):
        provider.session_complete(hold.stripe_checkout_session_id)
    assert Ticket.objects.filter(hold=hold).exists()
    statuses = {e.data["type"]: e.private["attempts"][-1]["status"] for e in store.all_of("event")}
    assert statuses["checkout.session.completed"] == 200
