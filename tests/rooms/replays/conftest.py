"""Replay tests run their background work as production does when REDIS_URL is set: a real worker."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from spaces_site.celery import app


@pytest.fixture(autouse=True)
def tasks_run_in_process(request):
    """Overrides the rooms default: with REDIS_URL, tests that use `recording_worker` have their tasks run by
    that real worker, as in production; every other test runs them in-process."""
    if django_settings.REDIS_URL and "recording_worker" in request.fixturenames:
        yield
        return
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def recording_worker(settings):
    settings.REPLAYS_LEASE_SECONDS = 3
    settings.REPLAYS_FLUSH_SECONDS = 1
    if not django_settings.REDIS_URL:
        yield None
        return
    assert not app.conf.task_always_eager
    with start_worker(
        app, pool="threads", concurrency=3, queues=["recordings", "celery"], perform_ping_check=False
    ) as worker:
        yield worker
