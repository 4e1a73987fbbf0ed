"""Background work for the money side: applying Stripe's events, with retries."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import services, stripe_gateway, tickets
from .models import ProcessedStripeEvent, Ticket
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
    return services.stripe_event_apply(event_pk=event_pk)


@shared_task
def reapply_stuck_stripe_events(older_than_minutes: int = 5) -> int:
    """Requeue events stored but not applied (a lost task message, a handler that failed every retry)."""
    now = timezone.now()
    stuck = ProcessedStripeEvent.objects.filter(
        processed_at__isnull=True,
        received_at__lt=now - timedelta(minutes=older_than_minutes),
        received_at__gt=now - timedelta(days=3),
    ).values_list("pk", flat=True)
    count = 0
    for pk in stuck:
        apply_stripe_event.delay(pk)
        count += 1
    return count


# --- Ticketed Spaces ---

_REFUND_RETRIES = {
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
    return tickets.ticket_refund_apply(ticket_id=ticket_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(**_REFUND_RETRIES)
def refund_unseated_payment(self, hold_id: int, payment_intent_id: str) -> bool:
    return tickets.unseated_payment_refund(
        hold_id=hold_id, payment_intent_id=payment_intent_id, final_attempt=self.request.retries >= self.max_retries
    )


@shared_task(autoretry_for=(PaymentProviderError,), retry_backoff=True, max_retries=5)
def expire_checkout_sessions(session_ids: list[str]) -> int:
    """Close checkouts of a cancelled Space at Stripe; expiring a closed session is a no-op."""
    for session_id in session_ids:
        stripe_gateway.checkout_session_expire(session_id=session_id)
    return len(session_ids)


@shared_task
def release_expired_seat_holds() -> int:
    """Beat: seats whose checkout ran out go back on sale (their sessions expired at Stripe first)."""
    return tickets.seat_holds_release_expired()


@shared_task
def requeue_pending_refunds() -> int:
    """Beat: a refund whose task message was lost runs again; refund_ticket is safe to run twice."""
    pending = Ticket.objects.filter(status=Ticket.Status.REFUND_PENDING).values_list("pk", flat=True)
    count = 0
    for ticket_id in pending:
        refund_ticket.delay(ticket_id)
        count += 1
    return count
