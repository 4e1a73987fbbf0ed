"""Stripe may deliver the same event to several workers at once: it is still applied once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import Notification
from tests.ticketing.factories import make_creator
from tests.ticketing.webhook_events import WEBHOOK_SECRET, stripe_event
from ticketing.models import ProcessedStripeEvent, Sale, SuperFollowSubscription
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory

DELIVERIES = 8


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_concurrently_is_applied_once(alice):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (run with DATABASE_URL)")
    plan = SuperFollowPlanFactory(creator=make_creator(), price_cents=999)
    subscription = SuperFollowSubscriptionFactory(subscriber=alice, plan=plan, stripe_checkout_session_id="cs_race")
    body = stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_race",
            "object": "checkout.session",
            "mode": "subscription",
            "payment_status": "paid",
            "amount_total": 999,
            "subscription": "sub_race",
            "metadata": {"super_follow": str(subscription.reference)},
        },
        event_id="evt_race",
    )
    barrier = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait()
            response = Client().post(
                reverse("ticketing:stripe_webhook"),
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign_webhook(body, WEBHOOK_SECRET),
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * DELIVERIES
    assert ProcessedStripeEvent.objects.filter(event_id="evt_race", processed_at__isnull=False).count() == 1
    sale = Sale.objects.get()
    assert (sale.gross_cents, sale.platform_fee_cents, sale.creator_net_cents) == (999, 30, 969)
    assert Notification.objects.filter(recipient=plan.creator, text__contains="Super Follows you").count() == 1
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.ACTIVE
