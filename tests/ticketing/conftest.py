"""Fixtures for the money tests: the built-in payments test provider, read and steered as tests need.

Dana the creator is in tests/personas.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from spaces_site.celery import app as celery_app
from ticketing import stripe_gateway
from ticketing.models import SuperFollowPlan
from ticketing.test_provider import api, store
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import SuperFollowPlanFactory
from .provider import Provider
from .webhook_events import WEBHOOK_SECRET


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
