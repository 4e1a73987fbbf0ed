"""What happens at the provider: objects created, paid, refunded, and the events each change sends.

Shared by the API (`api.py`) and the hosted pages (`views.py`); every change that Stripe would
announce stores an event and delivers it after commit (`webhooks.py`).
"""

from __future__ import annotations

import calendar
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.urls import reverse

from . import store
from .store import Obj
from .tasks import deliver_event as deliver_event_task

# The API version the objects and events are shaped after.
API_VERSION = "2025-10-29.clover"


def new_id(prefix: str) -> str:
    return (
        f"{prefix}_{'test_' if prefix == 'cs' else ''}{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"
    )


def _save(kind: str, data: dict[str, Any], private: dict[str, Any] | None = None) -> Obj:
    return store.create(kind, data, private)


def event_emit(event_type: str, obj: dict[str, Any], *, origin: str | None) -> Obj:
    """Store an event about `obj` and deliver it to the webhook endpoint once the change is committed."""
    data = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    event = _save("event", data, {"origin": origin, "attempts": []})
    # After the provider's change is stored, and after the caller's own transaction (if any) commits:
    # Stripe's webhook arrives after its API answered.
    store.after_commit(lambda: transaction.on_commit(lambda: deliver_event_task.delay(event.id)))
    return event


# --- Connect ------------------------------------------------------------------------------------


def account_create(*, email: str | None, controller: dict[str, Any], metadata: dict[str, Any]) -> Obj:
    data = {
        "id": new_id("acct"),
        "object": "account",
        "business_type": None,
        "capabilities": {"card_payments": "inactive", "transfers": "inactive"},
        "charges_enabled": False,
        "controller": controller,
        "country": "US",
        "created": int(time.time()),
        "default_currency": "usd",
        "details_submitted": False,
        "email": email,
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": {"currently_due": ["business_profile.url", "external_account", "tos_acceptance.date"]},
        "type": "express",
    }
    return _save("account", data)


def account_onboarding_complete(*, account: Obj, origin: str | None) -> Obj:
    """The creator finished the hosted onboarding: the account can take charges and pay out."""
    account.data.update(
        business_type="individual",
        capabilities={"card_payments": "active", "transfers": "active"},
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        requirements={"currently_due": []},
    )
    account.save()
    event_emit("account.updated", account.data, origin=origin)
    return account


# --- Checkout -----------------------------------------------------------------------------------


def session_create(*, params: dict[str, Any], amount: int, expires_at: int | None, origin: str) -> Obj:
    session_id = new_id("cs")
    currency = ((params["line_items"][0].get("price_data") or {}).get("currency") or "usd").lower()
    data = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": params.get("cancel_url"),
        "created": int(time.time()),
        "currency": currency,
        "customer": None,
        "customer_email": params.get("customer_email"),
        "expires_at": expires_at or int(time.time()) + 86_400,
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "mode": params["mode"],
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": params.get("success_url"),
        "url": origin + reverse("ticketing:stripe_test_provider:checkout", kwargs={"session_id": session_id}),
    }
    private = {
        "origin": origin,
        "line_items": params["line_items"],
        "payment_intent_data": params.get("payment_intent_data") or {},
        "subscription_data": params.get("subscription_data") or {},
    }
    return _save("checkout.session", data, private)


def session_current(session: Obj) -> Obj:
    """An open session past its `expires_at` expires when next looked at, as Stripe's own sweep would."""
    if session.data["status"] == "open" and session.data["expires_at"] <= time.time():
        return session_expire(session)
    return session


def session_expire(session: Obj) -> Obj:
    session.data["status"] = "expired"
    session.data["url"] = None
    session.save()
    event_emit("checkout.session.expired", session.data, origin=session.private.get("origin"))
    return session


def session_pay(*, session: Obj, email: str, card_brand: str, card_last4: str) -> Obj:
    """The customer paid with a card that succeeds: charge it and tell the webhook endpoint."""
    if session.data["status"] != "open":
        raise ValueError(f"{session.id} is {session.data['status']}, it can't be paid")
    origin = session.private.get("origin")
    now = int(time.time())
    card = {"brand": card_brand, "last4": card_last4}
    customer = _save(
        "customer",
        {"id": new_id("cus"), "object": "customer", "email": email, "created": now, "livemode": False},
    )
    session.data.update(
        customer=customer.id,
        customer_details={"email": email},
        payment_status="paid",
        status="complete",
        url=None,
    )
    if session.data["mode"] == "payment":
        intent_data = session.private.get("payment_intent_data") or {}
        intent, charge = _charge(
            amount=session.data["amount_total"],
            currency=session.data["currency"],
            customer=customer.id,
            card=card,
            fee=int(intent_data.get("application_fee_amount") or 0),
            destination=(intent_data.get("transfer_data") or {}).get("destination"),
            metadata=intent_data.get("metadata") or {},
        )
        session.data["payment_intent"] = intent.id
        session.save()
        event_emit("checkout.session.completed", session.data, origin=origin)
        event_emit("charge.succeeded", charge.data, origin=origin)
        return session
    subscription = _subscription_start(session=session, customer=customer.id, card=card, now=now)
    session.data["subscription"] = subscription.id
    session.save()
    event_emit("checkout.session.completed", session.data, origin=origin)
    event_emit("customer.subscription.created", subscription.data, origin=origin)
    return session


def _charge(
    *,
    amount: int,
    currency: str,
    customer: str,
    card: dict[str, str],
    fee: int,
    destination: str | None,
    metadata: dict[str, Any],
) -> tuple[Obj, Obj]:
    intent_id, charge_id = new_id("pi"), new_id("ch")
    transfer = {"destination": destination} if destination else None
    charge = _save(
        "charge",
        {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_refunded": 0,
            "application_fee_amount": fee or None,
            "created": int(time.time()),
            "currency": currency,
            "customer": customer,
            "livemode": False,
            "metadata": metadata,
            "paid": True,
            "payment_intent": intent_id,
            "payment_method_details": {"type": "card", "card": card},
            "refunded": False,
            "refunds": {"object": "list", "data": []},
            "status": "succeeded",
            "transfer_data": transfer,
        },
    )
    intent = _save(
        "payment_intent",
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "application_fee_amount": fee or None,
            "currency": currency,
            "customer": customer,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": metadata,
            "status": "succeeded",
            "transfer_data": transfer,
        },
    )
    return intent, charge


def _month_later(timestamp: int) -> int:
    start = datetime.fromtimestamp(timestamp, tz=UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _subscription_start(*, session: Obj, customer: str, card: dict[str, str], now: int) -> Obj:
    data = session.private.get("subscription_data") or {}
    item = session.private["line_items"][0]
    price = item.get("price_data") or {}
    period_end = _month_later(now)
    subscription_id = new_id("sub")
    subscription = _save(
        "subscription",
        {
            "id": subscription_id,
            "object": "subscription",
            "application_fee_percent": float(data["application_fee_percent"])
            if data.get("application_fee_percent")
            else None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "created": now,
            "currency": session.data["currency"],
            "customer": customer,
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": new_id("si"),
                        "object": "subscription_item",
                        "current_period_start": now,
                        "current_period_end": period_end,
                        "price": {
                            "unit_amount": int(price.get("unit_amount") or 0),
                            "currency": session.data["currency"],
                            "recurring": price.get("recurring") or {"interval": "month"},
                            "product": (price.get("product_data") or {}).get("name"),
                        },
                        "quantity": int(item.get("quantity") or 1),
                    }
                ],
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": data.get("metadata") or {},
            "status": "active",
            "transfer_data": data.get("transfer_data"),
        },
        {"origin": session.private.get("origin"), "card": card},
    )
    invoice = _save(
        "invoice",
        {
            "id": new_id("in"),
            "object": "invoice",
            "amount_paid": session.data["amount_total"],
            "billing_reason": "subscription_create",
            "created": now,
            "currency": session.data["currency"],
            "customer": customer,
            "livemode": False,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"metadata": data.get("metadata") or {}, "subscription": subscription_id},
            },
            "status": "paid",
        },
    )
    subscription.data["latest_invoice"] = invoice.id
    subscription.save()
    event_emit("invoice.paid", invoice.data, origin=session.private.get("origin"))
    return subscription


def subscription_changed(subscription: Obj, event_type: str) -> Obj:
    subscription.save()
    event_emit(event_type, subscription.data, origin=subscription.private.get("origin"))
    return subscription


# --- Refunds ------------------------------------------------------------------------------------


def refund_create(*, intent: Obj, charge: Obj, metadata: dict[str, Any]) -> Obj:
    """A full refund: the transfer to the creator and the platform's fee are reversed with it."""
    refund = _save(
        "refund",
        {
            "id": new_id("re"),
            "object": "refund",
            "amount": charge.data["amount"],
            "charge": charge.id,
            "created": int(time.time()),
            "currency": charge.data["currency"],
            "metadata": metadata,
            "payment_intent": intent.id,
            "status": "succeeded",
        },
    )
    charge.data.update(amount_refunded=charge.data["amount"], refunded=True)
    charge.data["refunds"]["data"].insert(0, refund.data)
    charge.save()
    session = store.find("checkout.session", "payment_intent", intent.id)
    event_emit("charge.refunded", charge.data, origin=session.private.get("origin") if session else None)
    return refund
