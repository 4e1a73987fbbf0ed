"""How long the creators' sales dashboard takes for a creator with many Spaces, tickets and tips.

Seeds one creator with `--spaces` ticketed Spaces of `--tickets` paid tickets each (every tenth
refunded, one pending, one failed per Space), one tip per Space and a year of Super Follow
renewals on PostgreSQL, then times `dashboard.dashboard_for` and the whole page through Django's
test client, counting the queries each takes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/spaces_bench \\
        python bench/dashboard.py [--spaces 200] [--tickets 25] [--runs 20]

The last line is
`dashboard_queries=<n> dashboard_p50_ms=<x> dashboard_p95_ms=<y> page_queries=<n> page_p50_ms=<z> spaces=<n> sales=<n>`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from control_plane import prepare_environment


def seed(spaces: int, tickets: int):
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from rooms.models import Space
    from ticketing.models import CreatorProfile, Sale, SeatHold, Ticket, TicketOffer, Tip

    call_command("migrate", verbosity=0)
    creator, _ = User.objects.get_or_create(username="bench_creator", defaults={"email": "bench_creator@bench.local"})
    # A clean slate for this creator, children before parents (tickets and sales protect theirs).
    Sale.objects.filter(creator=creator).delete()
    Ticket.objects.filter(offer__space__host=creator).delete()
    Tip.objects.filter(host=creator).delete()
    Space.objects.filter(host=creator).delete()
    CreatorProfile.objects.update_or_create(
        user=creator,
        defaults={
            "stripe_account_id": "acct_bench",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
        },
    )
    names = [f"bench_b{i:04d}" for i in range(tickets)]
    User.objects.bulk_create(
        [User(username=n, email=f"{n}@bench.local", password="!") for n in names], ignore_conflicts=True
    )
    buyers = list(User.objects.filter(username__in=names).order_by("username"))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    made = Space.objects.bulk_create(
        [
            Space(host=creator, title=f"Bench Space {i}", state=Space.State.ENDED, created_at=start + timedelta(days=i))
            for i in range(spaces)
        ]
    )
    offers = TicketOffer.objects.bulk_create(
        [
            TicketOffer(space=s, price_cents=1_000, quantity=tickets * 2, sold_count=tickets, page_views=tickets * 8)
            for s in made
        ]
    )
    holds = SeatHold.objects.bulk_create(
        [
            SeatHold(
                offer=o,
                buyer=b,
                status=SeatHold.Status.PAID,
                price_cents=1_000,
                application_fee_cents=30,
                expires_at=start,
                stripe_checkout_session_id=f"cs_bench_{o.pk}_{b.pk}",
            )
            for o in offers
            for b in buyers
        ],
        batch_size=2_000,
    )
    statuses = {0: Ticket.Status.REFUNDED, 1: Ticket.Status.REFUND_PENDING, 2: Ticket.Status.REFUND_FAILED}
    Ticket.objects.bulk_create(
        [
            Ticket(
                hold=h,
                offer_id=h.offer_id,
                buyer_id=h.buyer_id,
                payment_intent_id=f"pi_{h.stripe_checkout_session_id}",
                status=statuses.get(i % 10, Ticket.Status.VALID),
                refunded_at=start + timedelta(days=i % 365) if i % 10 == 0 else None,
            )
            for i, h in enumerate(holds)
        ],
        batch_size=2_000,
    )
    sales = [
        Sale(
            creator=creator,
            buyer_id=h.buyer_id,
            kind=Sale.Kind.TICKET,
            gross_cents=1_000,
            platform_fee_cents=30,
            creator_net_cents=970,
            stripe_reference=h.stripe_checkout_session_id,
            space_id=h.offer.space_id,
            created_at=start + timedelta(days=i % 365),
        )
        for i, h in enumerate(holds)
    ]
    sales += [
        Sale(
            creator=creator,
            buyer=buyers[0],
            kind=Sale.Kind.TIP,
            gross_cents=500,
            platform_fee_cents=15,
            creator_net_cents=485,
            stripe_reference=f"cs_bench_tip_{s.pk}",
            space=s,
            created_at=s.created_at,
        )
        for s in made
    ]
    sales += [
        Sale(
            creator=creator,
            buyer=buyers[1],
            kind=Sale.Kind.SUPER_FOLLOW,
            gross_cents=999,
            platform_fee_cents=30,
            creator_net_cents=969,
            stripe_reference=f"in_bench_{month}",
            created_at=start + timedelta(days=30 * month),
        )
        for month in range(12)
    ]
    Sale.objects.bulk_create(sales, batch_size=2_000)
    return creator, len(sales)


def timed(fn, runs: int) -> tuple[list[float], int]:
    """Milliseconds per run, and the queries of one run (counted at the cursor: a request resets the log)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return times, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=25)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    prepare_environment()
    creator, sales = seed(args.spaces, args.tickets)

    from django.test import Client

    from ticketing import dashboard

    client = Client(HTTP_HOST="localhost")
    client.force_login(creator)

    def page() -> None:
        assert client.get("/money/creator/dashboard/").status_code == 200

    selector_ms, selector_queries = timed(lambda: dashboard.dashboard_for(creator=creator), args.runs)
    page_ms, page_queries = timed(page, args.runs)
    p95 = statistics.quantiles(selector_ms, n=20)[-1]
    print(
        f"dashboard_queries={selector_queries} dashboard_p50_ms={statistics.median(selector_ms):.1f} "
        f"dashboard_p95_ms={p95:.1f} page_queries={page_queries} page_p50_ms={statistics.median(page_ms):.1f} "
        f"spaces={args.spaces} sales={sales}"
    )


if __name__ == "__main__":
    main()
