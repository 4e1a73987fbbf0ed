"""Background work for the money side: applying Stripe's events, with retries."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import services
from .models import ProcessedStripeEvent
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
