"""The gateway drives the real stripe library against the built-in test provider and sends what Stripe expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ticketing.webhook_events import WEBHOOK_SECRET
from ticketing import stripe_gateway
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import ready_account_id


def test_connect_account_create_requests_an_express_account_with_transfers(provider):
    state = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="acct-user-7")

    (request,) = provider.requests_to("POST", "/v1/accounts")
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
    assert state.id in provider.accounts
    assert (state.charges_enabled, state.payouts_enabled, state.details_submitted) == (False, False, False)
    assert "external_account" in state.requirements_due


def test_same_idempotency_key_returns_the_same_account(provider):
    first = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="k1")
    again = stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="k1")
    assert first.id == again.id
    assert len(provider.accounts) == 1


def test_onboarding_link_and_account_retrieve(provider):
    account = stripe_gateway.connect_account_create(email="c@example.com", user_id=1, idempotency_key="k")
    url = stripe_gateway.connect_onboarding_link(
        account_id=account.id, refresh_url="https://spaces.test/r", return_url="https://spaces.test/ok"
    )
    (request,) = provider.requests_to("POST", "/v1/account_links")
    assert request.params == {
        "account": account.id,
        "refresh_url": "https://spaces.test/r",
        "return_url": "https://spaces.test/ok",
        "type": "account_onboarding",
    }
    assert url.startswith(f"https://spaces.test/money/test-provider/connect/{account.id}/")

    provider.account_complete(account.id)
    state = stripe_gateway.connect_account_retrieve(account_id=account.id)
    assert (state.charges_enabled, state.payouts_enabled, state.details_submitted) == (True, True, True)
    assert state.requirements_due == ()
    assert provider.requests_to("GET", f"/v1/accounts/{account.id}")


def test_checkout_payment_is_a_destination_charge_with_the_platform_fee(provider):
    creator_account = ready_account_id()
    expires = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    session = stripe_gateway.checkout_payment_create(
        connected_account_id=creator_account,
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

    (request,) = provider.requests_to("POST", "/v1/checkout/sessions")
    sent = request.params
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [
        {
            "quantity": "1",
            "price_data": {"currency": "usd", "unit_amount": "1500", "product_data": {"name": "Ticket: Friday jam"}},
        }
    ]
    assert sent["payment_intent_data"]["application_fee_amount"] == "45"
    assert sent["payment_intent_data"]["transfer_data"] == {"destination": creator_account}
    assert sent["expires_at"] == str(int(expires.timestamp()))
    assert sent["success_url"].endswith("session_id={CHECKOUT_SESSION_ID}")
    assert sent["metadata"] == {"hold": "42"}
    assert sent["customer_email"] == "buyer@example.com"
    assert request.idempotency_key == "hold-42"
    assert session.id.startswith("cs_test_")
    assert session.url == f"https://spaces.test/money/test-provider/checkout/{session.id}/"
    assert session.expires_at == int(expires.timestamp())


def test_checkout_subscription_sends_fee_percent_and_destination(provider):
    creator_account = ready_account_id()
    session = stripe_gateway.checkout_subscription_create(
        connected_account_id=creator_account,
        monthly_amount_cents=499,
        application_fee_percent="3.00",
        product_name="Super Follow @bob",
        success_url="https://spaces.test/ok",
        cancel_url="https://spaces.test/@bob/",
        metadata={"super_follow": "abc"},
        idempotency_key="sf-abc",
    )
    (request,) = provider.requests_to("POST", "/v1/checkout/sessions")
    sent = request.params
    assert sent["mode"] == "subscription"
    assert sent["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "499"
    assert sent["subscription_data"] == {
        "application_fee_percent": "3.00",
        "transfer_data": {"destination": creator_account},
        "metadata": {"super_follow": "abc"},
    }
    assert "expires_at" not in sent
    assert provider.sessions[session.id]["mode"] == "subscription"


def _ticket_checkout(**overrides) -> stripe_gateway.CheckoutSession:
    fields = {
        "connected_account_id": ready_account_id(),
        "amount_cents": 1500,
        "application_fee_cents": 45,
        "product_name": "Ticket",
        "success_url": "https://spaces.test/ok",
        "cancel_url": "https://spaces.test/no",
        "expires_at": datetime.now(UTC) + timedelta(minutes=30),
        "metadata": {},
        "idempotency_key": "paid",
    }
    return stripe_gateway.checkout_payment_create(**{**fields, **overrides})


def _paid_intent(provider) -> str:
    return provider.session_complete(_ticket_checkout().id)["payment_intent"]


def test_refund_reverses_the_transfer_and_fee_and_retries_do_not_refund_twice(provider):
    intent = _paid_intent(provider)
    first = stripe_gateway.refund_create(payment_intent_id=intent, idempotency_key="refund-ticket-1")
    retried = stripe_gateway.refund_create(payment_intent_id=intent, idempotency_key="refund-ticket-1")

    assert first == retried
    assert len(provider.refunds) == 1
    sent = provider.requests_to("POST", "/v1/refunds")[0].params
    assert sent == {"payment_intent": intent, "reverse_transfer": "true", "refund_application_fee": "true"}


def test_a_second_refund_of_a_charge_is_charge_already_refunded(provider):
    intent = _paid_intent(provider)
    stripe_gateway.refund_create(payment_intent_id=intent, idempotency_key="first")
    with pytest.raises(stripe_gateway.ChargeAlreadyRefunded):
        stripe_gateway.refund_create(payment_intent_id=intent, idempotency_key="second")


def test_requests_without_a_test_key_are_refused(provider, settings):
    settings.STRIPE_SECRET_KEY = "sk_live_real_money"
    stripe_gateway._client_for.cache_clear()
    with pytest.raises(stripe_gateway.PaymentProviderError):
        stripe_gateway.connect_account_create(email="c@example.com", user_id=7, idempotency_key="live")
    assert provider.accounts == {}


def test_stripe_refusal_becomes_a_payment_provider_error(provider):
    with pytest.raises(stripe_gateway.PaymentProviderError):
        _ticket_checkout(amount_cents=100, application_fee_cents=101, idempotency_key="bad-fee")
    assert provider.sessions == {}


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
