"""The gateway drives the real stripe library against the local fake and sends what Stripe expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing import stripe_gateway

from .conftest import WEBHOOK_SECRET
from .fake_stripe import sign_webhook


def test_connect_account_create_requests_an_express_account_with_transfers(fake_stripe):
    state = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="acct-user-7")

    (request,) = fake_stripe.requests_to("POST", "/v1/accounts")
    assert request.params["controller"] == {
        "stripe_dashboard": {"type": "express"},
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
        "requirement_collection": "stripe",
    }
    assert "type" not in request.params
    assert request.params["email"] == "c@example.com"
    assert request.params["capabilities"]["transfers"]["requested"] == "true"
    assert request.params["metadata"] == {"user_id": "7"}
    assert request.idempotency_key == "acct-user-7"
    assert request.headers["authorization"] == "Bearer sk_test_fake_key"
    assert state.id in fake_stripe.accounts
    assert (state.charges_enabled, state.payouts_enabled, state.details_submitted) == (False, False, False)
    assert "external_account" in state.requirements_due


def test_same_idempotency_key_returns_the_same_account(fake_stripe):
    first = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="k1")
    again = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="k1")
    assert first.id == again.id
    assert len(fake_stripe.accounts) == 1


def test_onboarding_link_and_account_retrieve(fake_stripe):
    account = stripe_gateway.connect_account_create(email="c@example.com", user_id=1, idempotency_key="k")
    url = stripe_gateway.connect_onboarding_link(
        account_id=account.id, refresh_url="https://spaces.test/r", return_url="https://spaces.test/ok"
    )
    (request,) = fake_stripe.requests_to("POST", "/v1/account_links")
    assert request.params == {
        "account": account.id,
        "refresh_url": "https://spaces.test/r",
        "return_url": "https://spaces.test/ok",
        "type": "account_onboarding",
    }
    assert url.startswith("https://connect.stripe.test/setup/")

    fake_stripe.accounts[account.id].update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
    fake_stripe.accounts[account.id]["requirements"] = {"currently_due": []}
    state = stripe_gateway.connect_account_retrieve(account_id=account.id)
    assert (state.charges_enabled, state.payouts_enabled, state.details_submitted) == (True, True, True)
    assert state.requirements_due == ()
    assert fake_stripe.requests_to("GET", f"/v1/accounts/{account.id}")


def test_checkout_payment_is_a_destination_charge_with_the_platform_fee(fake_stripe):
    expires = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    session = stripe_gateway.checkout_payment_create(
        connected_account_id="acct_creator",
        amount_cents=1500,
        application_fee_cents=45,
        product_name="Ticket: Friday jam",
        success_url="https://spaces.test/money/done/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://spaces.test/spaces/1/",
        expires_at=expires,
        metadata={"hold": "42"},
        idempotency_key="hold-42",
        customer_email="buyer@example.com",
    )

    (request,) = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    sent = request.params
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [
        {
            "quantity": "1",
            "price_data": {"currency": "usd", "unit_amount": "1500", "product_data": {"name": "Ticket: Friday jam"}},
        }
    ]
    assert sent["payment_intent_data"]["application_fee_amount"] == "45"
    assert sent["payment_intent_data"]["transfer_data"] == {"destination": "acct_creator"}
    assert sent["expires_at"] == str(int(expires.timestamp()))
    assert sent["success_url"].endswith("session_id={CHECKOUT_SESSION_ID}")
    assert sent["metadata"] == {"hold": "42"}
    assert sent["customer_email"] == "buyer@example.com"
    assert request.idempotency_key == "hold-42"
    assert session.id.startswith("cs_test_")
    assert session.url.endswith(session.id)
    assert session.expires_at == int(expires.timestamp())


def test_checkout_subscription_sends_fee_percent_and_destination(fake_stripe):
    session = stripe_gateway.checkout_subscription_create(
        connected_account_id="acct_creator",
        monthly_amount_cents=499,
        application_fee_percent="3.00",
        product_name="Super Follow @bob",
        success_url="https://spaces.test/ok",
        cancel_url="https://spaces.test/@bob/",
        metadata={"super_follow": "abc"},
        idempotency_key="sf-abc",
    )
    (request,) = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    sent = request.params
    assert sent["mode"] == "subscription"
    assert sent["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "499"
    assert sent["subscription_data"] == {
        "application_fee_percent": "3.00",
        "transfer_data": {"destination": "acct_creator"},
        "metadata": {"super_follow": "abc"},
    }
    assert "expires_at" not in sent
    assert fake_stripe.sessions[session.id]["mode"] == "subscription"


def test_refund_reverses_the_transfer_and_fee_and_retries_do_not_refund_twice(fake_stripe):
    first = stripe_gateway.refund_create(payment_intent_id="pi_1", idempotency_key="refund-ticket-1")
    retried = stripe_gateway.refund_create(payment_intent_id="pi_1", idempotency_key="refund-ticket-1")

    assert first == retried
    assert len(fake_stripe.refunds) == 1
    sent = fake_stripe.requests_to("POST", "/v1/refunds")[0].params
    assert sent == {"payment_intent": "pi_1", "reverse_transfer": "true", "refund_application_fee": "true"}


def test_stripe_refusal_becomes_a_payment_provider_error(fake_stripe):
    with pytest.raises(stripe_gateway.PaymentProviderError, match="application fee"):
        stripe_gateway.checkout_payment_create(
            connected_account_id="acct_creator",
            amount_cents=100,
            application_fee_cents=101,
            product_name="Ticket",
            success_url="https://spaces.test/ok",
            cancel_url="https://spaces.test/no",
            expires_at=datetime.now(UTC) + timedelta(minutes=30),
            metadata={},
            idempotency_key="bad-fee",
        )
    assert fake_stripe.sessions == {}


def test_webhook_with_a_good_signature_is_verified_and_parsed():
    body = b'{"id": "evt_1", "object": "event", "type": "account.updated", "data": {"object": {}}}'
    event = stripe_gateway.webhook_event_verify(payload=body, signature_header=sign_webhook(body, WEBHOOK_SECRET))
    assert event["id"] == "evt_1"
    assert event["type"] == "account.updated"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "t=1,v1=00",
        sign_webhook(b'{"id": "evt_other"}', WEBHOOK_SECRET),
        sign_webhook(b'{"id": "evt_1", "object": "event"}', "whsec_someone_else"),
    ],
    ids=["missing", "garbage", "other-body", "other-secret"],
)
def test_webhook_with_a_bad_signature_is_refused(header):
    body = b'{"id": "evt_1", "object": "event"}'
    with pytest.raises(stripe_gateway.WebhookSignatureInvalid):
        stripe_gateway.webhook_event_verify(payload=body, signature_header=header)


def test_webhook_signed_too_long_ago_is_refused():
    body = b'{"id": "evt_1", "object": "event"}'
    stale = sign_webhook(body, WEBHOOK_SECRET, timestamp=int(datetime.now(UTC).timestamp()) - 3600)
    with pytest.raises(stripe_gateway.WebhookSignatureInvalid, match="tolerance"):
        stripe_gateway.webhook_event_verify(payload=body, signature_header=stale)
