"""Webhook delivery as a task, retried with Stripe's backoff until the endpoint takes the event."""

from __future__ import annotations

import threading

from celery import shared_task
from django.db import connection

from . import store, webhooks


@shared_task(bind=True, max_retries=len(webhooks.RETRY_SECONDS))
def deliver_event(self, event_id: str) -> bool:
    if webhooks.event_deliver(event_id=event_id):
        return True
    attempt = self.request.retries
    if attempt >= self.max_retries:
        return False
    if self.request.is_eager:
        # In-process tasks (the embedded default) ignore countdowns: wait on a timer thread instead
        # of blocking the request that paid, as a worker's delayed retry would.
        _retry_later(event_id, attempt + 1)
        return False
    raise self.retry(countdown=webhooks.RETRY_SECONDS[attempt])


def _retry_later(event_id: str, attempt: int) -> None:
    timer = threading.Timer(webhooks.RETRY_SECONDS[attempt - 1], _retry_in_thread, args=(event_id, attempt))
    timer.daemon = True
    timer.start()


def _retry_in_thread(event_id: str, attempt: int) -> None:
    try:
        if not webhooks.event_deliver(event_id=event_id) and attempt < len(webhooks.RETRY_SECONDS):
            _retry_later(event_id, attempt + 1)
    finally:
        connection.close()
        store.close()


@shared_task
def redeliver_undelivered_events(older_than_seconds: int = 60) -> int:
    """Beat: events whose delivery task was lost (the change's caller rolled back, a worker died) go out again."""
    event_ids = store.undelivered_events(older_than_seconds=older_than_seconds)
    for event_id in event_ids:
        deliver_event.delay(event_id)
    return len(event_ids)
