"""Stripe's events: verified and stored once, then applied once by the sub-domain their object belongs to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import stripe_gateway
from .models import ProcessedStripeEvent
from .payouts import payout_account_sync
from .super_follows import (
    super_follow_checkout_completed,
    super_follow_checkout_expired,
    super_follow_invoice_paid,
    super_follow_subscription_changed,
    super_follow_subscription_deleted,
)
from .tasks import apply_stripe_event as apply_stripe_event_task
from .tickets import seat_hold_checkout_completed, seat_hold_checkout_ended, ticket_charge_refunded
from .tips import tip_checkout_completed, tip_checkout_ended

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], object]


class WebhookRejected(Exception):
    """A webhook that must be answered 400: bad signature, stale, or not an event."""


def stripe_webhook_receive(*, payload: bytes, signature_header: str | None) -> tuple[ProcessedStripeEvent, bool]:
    """Verify and store an event; its work runs in a task after commit. Returns (event, first time seen)."""
    try:
        event = stripe_gateway.webhook_event_verify(payload=payload, signature_header=signature_header)
    except stripe_gateway.WebhookSignatureInvalid as exc:
        raise WebhookRejected(str(exc)) from exc
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(event.get("data"), dict):
        raise WebhookRejected("The body is not a Stripe event (id, type and data are required).")
    with transaction.atomic():
        record, created = ProcessedStripeEvent.objects.get_or_create(
            event_id=event_id, defaults={"type": event_type, "payload": event}
        )
        if record.processed_at is None:
            transaction.on_commit(lambda: apply_stripe_event_task.delay(record.pk))
    return record, created


def stripe_event_apply(*, event_pk: int) -> bool:
    """Apply a stored event exactly once: the row lock and `processed_at` make replays no-ops."""
    with transaction.atomic():
        record = ProcessedStripeEvent.objects.select_for_update().get(pk=event_pk)
        if record.processed_at is not None:
            return False
        handler = _HANDLERS.get(record.type)
        if handler is not None:
            handler(record.payload["data"]["object"])
        record.processed_at = timezone.now()
        record.save(update_fields=["processed_at"])
    return True


def stripe_events_requeue_stuck(*, older_than_minutes: int = 5) -> int:
    """Queue again the events stored but not applied (a lost task message, a handler that failed every retry)."""
    now = timezone.now()
    stuck = ProcessedStripeEvent.objects.filter(
        processed_at__isnull=True,
        received_at__lt=now - timedelta(minutes=older_than_minutes),
        received_at__gt=now - timedelta(days=3),
    ).values_list("pk", flat=True)
    count = 0
    for pk in stuck:
        apply_stripe_event_task.delay(pk)
        count += 1
    return count


# A Checkout Session names what it pays for by the one metadata key its sub-domain set when opening it.
_CHECKOUT_COMPLETED: dict[str, Handler] = {
    "seat_hold": seat_hold_checkout_completed,
    "tip": tip_checkout_completed,
    "super_follow": super_follow_checkout_completed,
}
_CHECKOUT_EXPIRED: dict[str, Handler] = {
    "seat_hold": seat_hold_checkout_ended,
    "tip": tip_checkout_ended,
    "super_follow": super_follow_checkout_expired,
}
# A subscription's checkout has no delayed payment method: only tickets and tips can fail this way.
_CHECKOUT_PAYMENT_FAILED: dict[str, Handler] = {
    "seat_hold": seat_hold_checkout_ended,
    "tip": tip_checkout_ended,
}


def _by_metadata(handlers: dict[str, Handler]) -> Handler:
    def dispatch(session: dict[str, Any]) -> None:
        metadata = session.get("metadata") or {}
        owner = next((key for key in handlers if key in metadata), None)
        if owner is None:
            logger.warning("Checkout Session %s belongs to nothing sold here", session.get("id"))
            return
        handlers[owner](session)

    return dispatch


def _account_updated(account: dict[str, Any]) -> None:
    payout_account_sync(state=stripe_gateway.account_state_from(account))


_HANDLERS: dict[str, Handler] = {
    "account.updated": _account_updated,
    "checkout.session.completed": _by_metadata(_CHECKOUT_COMPLETED),
    "checkout.session.async_payment_succeeded": _by_metadata(_CHECKOUT_COMPLETED),
    "checkout.session.expired": _by_metadata(_CHECKOUT_EXPIRED),
    "checkout.session.async_payment_failed": _by_metadata(_CHECKOUT_PAYMENT_FAILED),
    "charge.refunded": ticket_charge_refunded,
    "customer.subscription.created": super_follow_subscription_changed,
    "customer.subscription.updated": super_follow_subscription_changed,
    "customer.subscription.deleted": super_follow_subscription_deleted,
    "invoice.paid": super_follow_invoice_paid,
}
