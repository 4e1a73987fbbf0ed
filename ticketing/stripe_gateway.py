"""The one door to Stripe: every call the project makes to Stripe's API goes through here."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import stripe
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class PaymentProviderError(Exception):
    """Stripe refused a request or could not be reached.

    The message is plain and safe to show: it names a reference under which the provider's own
    error was logged, never the error itself.
    """

    def __init__(self, message: str, code: str | None = None, reference: str = "") -> None:
        super().__init__(message)
        # Stripe's error code (e.g. "charge_already_refunded"), for callers that treat some as success.
        self.code = code
        self.reference = reference


class ChargeAlreadyRefunded(PaymentProviderError):
    """The charge was refunded before: a retried refund whose idempotency key Stripe no longer keeps."""


class WebhookSignatureInvalid(Exception):
    """A webhook body whose signature is missing, forged or too old."""


@dataclass(frozen=True)
class AccountState:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...]


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: int | None


@dataclass(frozen=True)
class Refund:
    id: str
    status: str


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str, retries: int, http_client: str | None) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base, "connect": api_base, "files": api_base},
        max_network_retries=retries,
        http_client=import_string(http_client)() if http_client else None,
    )


def _client() -> stripe.StripeClient:
    return _client_for(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_HTTP_CLIENT,
    )


def _provider_error(exc: stripe.StripeError, operation: str) -> PaymentProviderError:
    """Log Stripe's error under a fresh reference and return the plain error that names it."""
    reference = secrets.token_hex(4).upper()
    logger.error(
        "Payment provider error %s during %s: %s (code=%s, request=%s)",
        reference,
        operation,
        exc,
        getattr(exc, "code", None),
        getattr(exc, "request_id", None),
        exc_info=exc,
    )
    message = (
        "Payments are unavailable right now; nothing was charged. "
        f"Please try again in a few minutes (reference {reference})."
    )
    return PaymentProviderError(message, code=getattr(exc, "code", None), reference=reference)


def _call(method, params: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
    options = {"idempotency_key": idempotency_key} if idempotency_key else None
    try:
        result = method(params=params, options=options) if options else method(params=params)
        return result.to_dict()
    except stripe.StripeError as exc:
        raise _provider_error(exc, getattr(method, "__qualname__", "a request")) from exc


def account_state_from(account: dict[str, Any]) -> AccountState:
    """Read the fields the project keeps from an account object (API response or webhook dict)."""
    requirements = account.get("requirements") or {}
    return AccountState(
        id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        requirements_due=tuple(requirements.get("currently_due") or ()),
    )


def connect_account_create(*, email: str, user_id: int, idempotency_key: str) -> AccountState:
    """An Express-style connected account that receives a creator's share of each destination charge.

    Described through `controller` (the replacement for the deprecated `type=express`): the platform
    pays Stripe's fees and carries losses, Stripe collects requirements, the creator gets the
    Express dashboard.
    """
    params = {
        "controller": {
            "stripe_dashboard": {"type": "express"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "stripe",
        },
        "email": email,
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "metadata": {"user_id": str(user_id)},
    }
    return account_state_from(_call(_client().v1.accounts.create, params, idempotency_key))


def connect_account_retrieve(*, account_id: str) -> AccountState:
    try:
        account = _client().v1.accounts.retrieve(account_id).to_dict()
    except stripe.StripeError as exc:
        raise _provider_error(exc, "accounts.retrieve") from exc
    return account_state_from(account)


def connect_onboarding_link(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """A single-use URL that takes the creator through Stripe's hosted onboarding."""
    params = {"account": account_id, "refresh_url": refresh_url, "return_url": return_url, "type": "account_onboarding"}
    return _call(_client().v1.account_links.create, params)["url"]


def _session(result: Any) -> CheckoutSession:
    return CheckoutSession(id=result["id"], url=result["url"], expires_at=result.get("expires_at"))


def checkout_payment_create(
    *,
    connected_account_id: str,
    amount_cents: int,
    application_fee_cents: int,
    product_name: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
    metadata: dict[str, str],
    idempotency_key: str,
    customer_email: str | None = None,
) -> CheckoutSession:
    """A one-off payment charged on the platform and sent to the creator minus the platform's cut."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.STRIPE_CURRENCY,
                    "unit_amount": amount_cents,
                    "product_data": {"name": product_name},
                },
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": application_fee_cents,
            "transfer_data": {"destination": connected_account_id},
            "metadata": metadata,
        },
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
        "metadata": metadata,
    }
    if customer_email:
        params["customer_email"] = customer_email
    return _session(_call(_client().v1.checkout.sessions.create, params, idempotency_key))


def checkout_subscription_create(
    *,
    connected_account_id: str,
    monthly_amount_cents: int,
    application_fee_percent: str,
    product_name: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str],
    idempotency_key: str,
    customer_email: str | None = None,
) -> CheckoutSession:
    """A monthly subscription whose invoices go to the creator minus the platform's percentage."""
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.STRIPE_CURRENCY,
                    "unit_amount": monthly_amount_cents,
                    "recurring": {"interval": "month"},
                    "product_data": {"name": product_name},
                },
            }
        ],
        "subscription_data": {
            "application_fee_percent": application_fee_percent,
            "transfer_data": {"destination": connected_account_id},
            "metadata": metadata,
        },
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
    }
    if customer_email:
        params["customer_email"] = customer_email
    return _session(_call(_client().v1.checkout.sessions.create, params, idempotency_key))


def refund_create(*, payment_intent_id: str, idempotency_key: str, metadata: dict[str, str] | None = None) -> Refund:
    """Refund a destination charge in full, taking the money back from the creator and the platform's fee."""
    params: dict[str, Any] = {
        "payment_intent": payment_intent_id,
        "reverse_transfer": True,
        "refund_application_fee": True,
    }
    if metadata:
        params["metadata"] = metadata
    try:
        result = _call(_client().v1.refunds.create, params, idempotency_key)
    except PaymentProviderError as exc:
        if exc.code == "charge_already_refunded":
            raise ChargeAlreadyRefunded(str(exc), code=exc.code) from exc
        raise
    return Refund(id=result["id"], status=result["status"])


def checkout_session_expire(*, session_id: str) -> str:
    """Close an open Checkout Session so it can no longer be paid; returns the session's status after.

    Only open sessions can be expired: for one already complete or expired Stripe answers 400, so
    the session is read back and its status ("complete", "expired") returned instead.
    """
    sessions = _client().v1.checkout.sessions
    try:
        return sessions.expire(session_id).to_dict()["status"]
    except stripe.InvalidRequestError:
        pass
    except stripe.StripeError as exc:
        raise _provider_error(exc, "checkout.sessions.expire") from exc
    try:
        return sessions.retrieve(session_id).to_dict()["status"]
    except stripe.StripeError as exc:
        raise _provider_error(exc, "checkout.sessions.retrieve") from exc


def subscription_cancel(*, subscription_id: str, at_period_end: bool) -> str:
    """Stop a subscription now or when the paid period ends; returns Stripe's status for it."""
    subscriptions = _client().v1.subscriptions
    try:
        if at_period_end:
            result = subscriptions.update(subscription_id, params={"cancel_at_period_end": True})
        else:
            result = subscriptions.cancel(subscription_id)
    except stripe.StripeError as exc:
        raise _provider_error(exc, "subscriptions.cancel") from exc
    return result.to_dict()["status"]


def webhook_event_verify(*, payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """The event as a plain dict, only if Stripe's signature over this exact body is valid and fresh.

    The signature is checked by the library's own verifier before the body is parsed at all, so a
    forged body is never interpreted; then the body must be a JSON object.
    """
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, stripe.Webhook.DEFAULT_TOLERANCE
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(str(exc)) from exc
    except ValueError as exc:
        raise WebhookSignatureInvalid(f"The body is not a Stripe event: {exc}") from exc
    if not isinstance(event, dict):
        raise WebhookSignatureInvalid("The body is not a Stripe event: expected a JSON object.")
    return event
