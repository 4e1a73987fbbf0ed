"""Fixtures for the money tests: a local fake of Stripe's API that the real library talks to."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import User
from spaces_site.celery import app as celery_app
from tests.accounts.factories import UserFactory
from ticketing import stripe_gateway
from ticketing.models import SuperFollowPlan

from .factories import CreatorProfileFactory, SuperFollowPlanFactory
from .fake_stripe import FakeStripeServer, sign_webhook

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def fake_stripe(settings):
    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_SECRET_KEY = "sk_test_fake_key"
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        stripe_gateway._client_for.cache_clear()
        yield fake
    stripe_gateway._client_for.cache_clear()


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """With a real broker the webhook's task would wait for a worker; run it here instead."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def make_creator(
    username: str = "dana", *, followers: int = 1000, born: date | None = date(1990, 5, 17), profile: dict | bool = True
) -> User:
    """A user with an audience; `profile=True` adds a ready payout account enrolled in Super Follows,
    a dict overrides that profile's fields, `False` leaves the user with no creator profile."""
    user = UserFactory(username=username, display_name=username.title(), date_of_birth=born)
    User.objects.filter(pk=user.pk).update(followers_count=followers)
    user.refresh_from_db()
    if profile is not False:
        CreatorProfileFactory(user=user, **(profile if isinstance(profile, dict) else {}))
    return user


@pytest.fixture
def creator(db) -> User:
    return make_creator()


@pytest.fixture
def plan(creator) -> SuperFollowPlan:
    return SuperFollowPlanFactory(creator=creator, price_cents=299)


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A webhook body shaped like Stripe's, for `obj` as `data.object`."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


@pytest.fixture
def post_event(db, client, django_capture_on_commit_callbacks):
    """POST a signed body to the webhook endpoint and run what it queues, as the worker would."""

    def post(body: bytes, *, signature: str | None = "sign", **kwargs):
        headers = {}
        if signature == "sign":
            signature = sign_webhook(body, WEBHOOK_SECRET)
        if signature is not None:
            headers["HTTP_STRIPE_SIGNATURE"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("ticketing:stripe_webhook"), data=body, content_type="application/json", **headers, **kwargs
            )

    return post


def tip_checkout_event(
    tip, *, paid: bool = True, event_type: str = "checkout.session.completed", event_id: str | None = None
) -> bytes:
    """Stripe's event for a tip's Checkout Session (paid by default)."""
    return stripe_event(
        event_type,
        {
            "id": tip.stripe_checkout_session_id,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid" if paid else "unpaid",
            "amount_total": tip.amount_cents,
            "metadata": {"tip": str(tip.reference)},
        },
        event_id=event_id,
    )
