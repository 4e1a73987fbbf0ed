"""Fixtures for the money tests: the built-in payments test provider, read and steered as tests need.

Dana the creator is in tests/personas.py."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from spaces_site.celery import app as celery_app
from ticketing import stripe_gateway
from ticketing.models import SuperFollowPlan
from ticketing.test_provider import api, engine, store
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import SuperFollowPlanFactory
from .factories import make_creator as make_creator  # where tests imported it from before

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


class Provider:
    """The test provider's state as the tests read it: its objects by kind, its request log, its faults."""

    @property
    def fail_next(self) -> list[tuple[int, str]]:
        return api.faults.next

    @property
    def fail_path(self) -> dict[str, tuple[int, str]]:
        return api.faults.path

    def _objects(self, kind: str) -> dict[str, dict[str, Any]]:
        return {o.id: o.data for o in store.all_of(kind)}

    accounts = property(lambda self: self._objects("account"))
    sessions = property(lambda self: self._objects("checkout.session"))
    refunds = property(lambda self: self._objects("refund"))
    subscriptions = property(lambda self: self._objects("subscription"))
    events = property(lambda self: self._objects("event"))

    @property
    def requests(self) -> list[store.LoggedRequest]:
        return store.requests()

    def requests_to(self, method: str, path: str) -> list[store.LoggedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def session_complete(self, session_id: str) -> dict[str, Any]:
        """The buyer paid with 4242 on the hosted page: the session as `checkout.session.completed` carries it.

        The provider's own events are delivered on commit; tests that post their own event run outside
        captured on-commit callbacks, so only theirs reaches the endpoint."""
        with store.atomic():
            session = store.get("checkout.session", session_id)
            return engine.session_pay(
                session=session, email="buyer@example.com", card_brand="visa", card_last4="4242"
            ).data

    def account_complete(self, account_id: str) -> dict[str, Any]:
        with store.atomic():
            return engine.account_onboarding_complete(account=store.get("account", account_id), origin=None).data

    def subscription_add(self, subscription_id: str, **fields: Any) -> None:
        with store.atomic():
            store.create(
                "subscription", {"id": subscription_id, "object": "subscription", "status": "active", **fields}
            )


def _forget_provider_records() -> None:
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.STRIPE_TEST_PROVIDER_DB}{suffix}").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def fresh_provider():
    """Each test starts with a provider that has seen nothing (live servers share its file)."""
    _forget_provider_records()
    api.faults.reset()
    yield
    api.faults.reset()
    store.close()


@pytest.fixture
def provider(db, settings):
    """The built-in test provider, reached in-process by the real stripe library (the test settings' default)."""
    settings.STRIPE_SECRET_KEY = "sk_test_spaces_builtin_provider"
    settings.STRIPE_HTTP_CLIENT = "ticketing.test_provider.transport.InProcessHTTPClient"
    settings.STRIPE_TEST_WEBHOOK_URL = None
    stripe_gateway._client_for.cache_clear()
    yield Provider()
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


@pytest.fixture
def plan(creator) -> SuperFollowPlan:
    """Dana's Super Follow plan at $2.99 (Dana, `creator`, is in tests/personas.py)."""
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
