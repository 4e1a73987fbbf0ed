"""Webhook delivery as a task, retried with Stripe's backoff until the endpoint takes the event."""

from __future__ import annotations

import threading

from celery import current_app, shared_task
from django.db import connection

from . import store, webhooks


@shared_task(bind=True, max_retries=len(webhooks.RETRY_SECONDS))
def deliver_event(self, event_id: str) -> bool:
    if webhooks.event_deliver(event_id=event_id):
        return True
    attempt = self.request.retries
    if attempt >= self.max_retries:
        return False
    countdown = webhooks.RETRY_SECONDS[attempt]
    if current_app.conf.task_always_eager:
        # In-process tasks (the embedded default) ignore countdowns: wait on a timer thread instead
        # of blocking the request that paid, as a worker's delayed retry would.
        timer = threading.Timer(countdown, _retry_in_thread, args=(event_id, attempt + 1))
        timer.daemon = True
        timer.start()
        return False
    raise self.retry(countdown=countdown)


def _retry_in_thread(event_id: str, attempt: int) -> None:
    try:
        deliver_event.apply(args=(event_id,), retries=attempt)
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
