"""Workers that cannot starve each other: money's tasks run while every caption slot is taken by live Spaces."""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest
import redis
from django.db import connection

from captions.models import CaptionLease
from tests.accounts.factories import UserFactory
from tests.processes import (
    NEEDS_POSTGRES,
    database_url,
    postgres_configured,
    production_env,
    redis_server,
    start_all,
    start_beat,
    start_daphne,
    start_worker,
    stop_all,
    wait_until,
)
from tests.rooms.factories import LiveSpaceFactory
from tests.ticketing.conftest import make_creator, tip_checkout_event
from tests.ticketing.fake_stripe import sign_webhook
from ticketing.models import Tip

pytestmark = [
    pytest.mark.skipif(not postgres_configured(), reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]

CAPTION_SLOTS = 1
LIVE_SPACES = 10  # more than the captions worker takes on (even one captioning several): tasks wait in its queue


def captions_backlog(client: redis.Redis) -> int:
    """Caption tasks waiting in the broker (a list per priority step: `captions`, `captions\\x06\\x163`…)."""
    return sum(client.llen(key) for key in client.scan_iter(match="captions*") if client.type(key) == b"list")


def captioned_spaces() -> int:
    return CaptionLease.objects.exclude(holder=CaptionLease.PENDING).count()


def test_a_stripe_event_is_applied_while_every_caption_slot_is_busy(tmp_path):
    host = make_creator("tipped_host")
    tipped = LiveSpaceFactory(host=host, title="Money while captioning")
    LiveSpaceFactory.create_batch(LIVE_SPACES - 1)
    tip = Tip.objects.create(
        space=tipped,
        tipper=UserFactory(username="tipper"),
        host=host,
        amount_cents=500,
        application_fee_cents=15,
        announce=True,
        stripe_checkout_session_id=f"cs_test_{uuid.uuid4().hex}",
    )

    with redis_server() as broker:
        env = production_env(
            database_url=database_url(connection.settings_dict["NAME"]),
            redis_url=broker.url(0),
            static_root=tmp_path / "static",
            CAPTIONS_SWEEP_SECONDS="1",
            SPACES_HOST_GRACE_SECONDS="3600",
        )
        started = []
        try:
            # The README's shape: a worker per queue, beat (its sweep dispatches a captioner per live Space), a server.
            started = start_all(
                lambda: start_daphne(env),
                lambda: start_worker(env, queues=["captions"], concurrency=CAPTION_SLOTS, name="captions"),
                lambda: start_worker(env, queues=["celery"], concurrency=1, name="celery"),
                lambda: start_beat(env),
            )
            server = started[0]
            client = redis.Redis.from_url(broker.url(0))

            wait_until(
                lambda: captioned_spaces() >= 1 and captions_backlog(client) > 0,
                seconds=120,
                what="the captions worker to caption a live Space with more caption tasks queued behind it",
            )
            busy_before = captions_backlog(client)

            body = tip_checkout_event(tip)
            request = urllib.request.Request(
                f"{server.url}/money/stripe/webhook/",
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign_webhook(body, env["STRIPE_WEBHOOK_SECRET"]),
                    "X-Forwarded-Proto": "https",
                },
            )
            sent = time.monotonic()
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback server
                assert response.status == 200
            wait_until(
                lambda: Tip.objects.filter(pk=tip.pk, status=Tip.Status.PAID).exists(),
                seconds=30,
                what="the celery worker to apply the tip's Stripe event",
            )
            applied_after = time.monotonic() - sent
            busy_after = captions_backlog(client)
        finally:
            stop_all(started, timeout=5)

    print(
        f"stripe event applied {applied_after:.2f} s after the webhook; caption tasks queued "
        f"before={busy_before} after={busy_after}, caption slots={CAPTION_SLOTS}, live Spaces={LIVE_SPACES}"
    )
    assert busy_after > 0, "the caption slots freed up meanwhile: the test did not show the queues apart"
