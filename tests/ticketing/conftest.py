"""Fixtures for the money tests: a local fake of Stripe's API that the real library talks to."""

from __future__ import annotations

import pytest

from spaces_site.celery import app as celery_app
from ticketing import stripe_gateway

from .fake_stripe import FakeStripeServer

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
