"""Workers that cannot starve each other: money's tasks run while every caption slot is taken by live Spaces."""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest
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
from tests.ticketing.factories import make_creator
from tests.ticketing.webhook_events import tip_checkout_event
from ticketing.models import Tip
from ticketing.test_provider.webhooks import signature_header as sign_webhook

pytestmark = [
    pytest.mark.skipif(not postgres_configured(), reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]

SPACES_PER_CAPTION_WORKER = 2
LIVE_SPACES = 6  # more than the one captions worker takes on: the rest wait for captioning capacity


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
            CAPTIONS_SPACES_PER_WORKER=str(SPACES_PER_CAPTION_WORKER),
            SPACES_HOST_GRACE_SECONDS="3600",
        )
        started = []
        try:
            # The README's shape: a worker per queue, beat (its sweep dispatches a captioner per live Space), a server.
            started = start_all(
                lambda: start_daphne(env),
                lambda: start_worker(env, queues=["captions"], pool="solo", name="captions"),
                lambda: start_worker(env, queues=["celery"], concurrency=1, name="celery"),
                lambda: start_beat(env),
            )
            server = started[0]

            wait_until(
                lambda: captioned_spaces() == SPACES_PER_CAPTION_WORKER,
                seconds=120,
                what="the captions worker to fill every caption slot, with more live Spaces waiting",
            )
            busy_before = captioned_spaces()

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
            busy_after = captioned_spaces()
        finally:
            stop_all(started, timeout=5)

    print(
        f"stripe event applied {applied_after:.2f} s after the webhook; Spaces captioned "
        f"before={busy_before} after={busy_after} of {LIVE_SPACES} live, caption slots={SPACES_PER_CAPTION_WORKER}"
    )
    assert busy_after == SPACES_PER_CAPTION_WORKER, "the caption slots freed up meanwhile: nothing was busy"
