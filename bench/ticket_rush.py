"""A ticket rush: many buyers start checkouts for one Space at once; how fast seats go and that none oversell.

Runs `ticket_purchase_start` from W threads (own database connections) for B buyers against an offer
of T tickets on PostgreSQL, with the local fake Stripe server standing in for Stripe's API (one HTTP
request per successful hold, as in production). Reports the latency of each attempt by outcome and
the counts the database ends with.

    python bench/ticket_rush.py [--buyers 2000] [--tickets 500] [--workers 32] \\
        [--server postgres://postgres@127.0.0.1:5432] [--database spaces_bench_tickets]

The database is a scratch one (never DATABASE_URL's), dropped, created and migrated on each run.
The last line is
`holds=<n> sold_out=<n> oversold=<n> held_p50_ms=<x> held_p95_ms=<y> sold_out_p50_ms=<z> attempts_per_s=<r>`.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"


def prepare_database(server: str, name: str) -> None:
    """A scratch database of its own, made afresh each run (the fake Stripe's ids start again at 1).

    Never the one DATABASE_URL names: this script drops what it uses.
    """
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{server}/{name}"


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL, without a database")
    parser.add_argument("--database", default="spaces_bench_tickets", help="scratch database, dropped each run")
    args = parser.parse_args()

    prepare_database(args.server, args.database)
    import django

    django.setup()
    from datetime import date, timedelta

    from django.conf import settings
    from django.core.exceptions import ValidationError
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from accounts.models import User
    from rooms.models import Space
    from tests.ticketing.factories import ready_account_id
    from ticketing import stripe_gateway, tickets
    from ticketing.models import CreatorProfile, SeatHold, TicketOffer
    from ticketing.test_provider import store as provider_store

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    host = User.objects.create_user(
        username=f"rushhost{run}", email=f"h{run}@bench.test", date_of_birth=date(1990, 1, 1)
    )
    User.objects.filter(pk=host.pk).update(followers_count=5000)
    host.refresh_from_db()
    CreatorProfile.objects.create(
        user=host,
        stripe_account_id=ready_account_id(),
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        super_follows_enrolled_at=timezone.now(),
    )
    space = Space.objects.create(host=host, title="Ticket rush", scheduled_for=timezone.now() + timedelta(days=1))
    offer = tickets.ticket_offer_create(space=space, by=host, price_cents=1500, quantity=args.tickets)
    User.objects.bulk_create(
        [User(username=f"rush{run}{i}", email=f"b{i}{run}@bench.test") for i in range(args.buyers)]
    )
    buyers = list(User.objects.filter(username__startswith=f"rush{run}").exclude(pk=host.pk))
    offer = TicketOffer.objects.select_related("space__host").get(pk=offer.pk)

    held_ms: list[float] = []
    sold_out_ms: list[float] = []
    lock = threading.Lock()
    urls = {"success_url": "https://bench.test/done", "cancel_url": "https://bench.test/"}

    def attempt(buyer: User) -> None:
        started = time.perf_counter()
        try:
            tickets.ticket_purchase_start(offer=offer, buyer=buyer, **urls)
            bucket = held_ms
        except ValidationError:
            bucket = sold_out_ms
        with lock:
            bucket.append((time.perf_counter() - started) * 1000)

    def worker(queue: list[User]) -> None:
        # One connection per worker for the whole run, as a Daphne process keeps it.
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    buyer = queue.pop()
                attempt(buyer)
        finally:
            connections.close_all()
            provider_store.close()

    logging.getLogger("stripe").setLevel(logging.WARNING)
    # The built-in payments test provider, called in-process by the real stripe library.
    settings.STRIPE_SECRET_KEY = "sk_test_bench"
    settings.STRIPE_HTTP_CLIENT = "ticketing.test_provider.transport.InProcessHTTPClient"
    stripe_gateway._client_for.cache_clear()
    queue = list(reversed(buyers))
    threads = [threading.Thread(target=worker, args=(queue,)) for _ in range(args.workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    references = {f"seat-hold-{h.reference}" for h in SeatHold.objects.filter(offer=offer)}
    sessions = sum(
        1 for r in provider_store.requests() if r.path == "/v1/checkout/sessions" and r.idempotency_key in references
    )

    offer.refresh_from_db()
    holds = SeatHold.objects.filter(offer=offer, status=SeatHold.Status.HELD).count()
    oversold = max(holds - args.tickets, 0)
    print(f"{args.buyers} buyers, {args.tickets} tickets, {args.workers} threads: {elapsed:.2f} s")
    print(f"held: {len(held_ms)} (Checkout Sessions created: {sessions}), refused: {len(sold_out_ms)}")
    print(f"offer counts: held={offer.held_count} sold={offer.sold_count} of {offer.quantity}")
    print(
        f"holds={holds} sold_out={len(sold_out_ms)} oversold={oversold} "
        f"held_p50_ms={percentile(held_ms, 50):.1f} held_p95_ms={percentile(held_ms, 95):.1f} "
        f"sold_out_p50_ms={percentile(sold_out_ms, 50):.1f} attempts_per_s={args.buyers / elapsed:.0f}"
    )


if __name__ == "__main__":
    main()
