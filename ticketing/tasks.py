"""Background work for the money side: each task fetches by id and calls one service, with retries.

Services enqueue these tasks (imported at their module top as `<name>_task`); a task imports its
service inside its body, so the money modules never import each other in a circle.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from .stripe_gateway import PaymentProviderError


@shared_task(
    autoretry_for=(OperationalError, PaymentProviderError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def apply_stripe_event(event_pk: int) -> bool:
    """Idempotent: a redelivered or retried task finds the event already applied and does nothing."""
    from .webhooks import stripe_event_apply

    return stripe_event_apply(event_pk=event_pk)


@shared_task
def reapply_stuck_stripe_events(older_than_minutes: int = 5) -> int:
    """Beat: events stored but never applied run again."""
    from .webhooks import stripe_events_requeue_stuck

    return stripe_events_requeue_stuck(older_than_minutes=older_than_minutes)


# --- Ticketed Spaces ---

_REFUND_RETRIES: dict[str, Any] = {
    "bind": True,
    "autoretry_for": (PaymentProviderError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**_REFUND_RETRIES)
def refund_ticket(self, ticket_id: int) -> str:
    """Idempotent (NOTES.md "Refunds"); the last retry records refund_failed instead of raising."""
    from .tickets import ticket_refund_apply

    return ticket_refund_apply(ticket_id=ticket_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(**_REFUND_RETRIES)
def refund_unseated_payment(self, hold_id: int, payment_intent_id: str) -> bool:
    from .tickets import unseated_payment_refund

    return unseated_payment_refund(
        hold_id=hold_id, payment_intent_id=payment_intent_id, final_attempt=self.request.retries >= self.max_retries
    )


@shared_task(autoretry_for=(PaymentProviderError,), retry_backoff=True, max_retries=5)
def expire_checkout_sessions(session_ids: list[str]) -> int:
    """Close checkouts of a cancelled Space at Stripe; expiring a closed session is a no-op."""
    from .tickets import checkout_sessions_expire

    return checkout_sessions_expire(session_ids=session_ids)


@shared_task
def release_expired_seat_holds() -> int:
    """Beat: seats whose checkout ran out go back on sale (their sessions expired at Stripe first)."""
    from .tickets import seat_holds_release_expired

    return seat_holds_release_expired()


@shared_task
def requeue_pending_refunds() -> int:
    """Beat: a refund whose task message was lost runs again; refund_ticket is safe to run twice."""
    from .tickets import ticket_refunds_requeue

    return ticket_refunds_requeue()
