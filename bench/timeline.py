"""The home timeline on a site with many posts: how long `accounts.selectors.timeline_for` takes.

In a scratch database of its own (`--database`, dropped and made again; never DATABASE_URL's) it seeds in bulk
A accounts writing P posts (a tenth of them reposts, a few accounts suspended), then times the first and the
second page of the timeline, in this process, for two readers: one who follows a quarter of the accounts, and
one who follows three. Each figure is the median (and p95) of R calls after a few unmeasured ones.

    python bench/timeline.py
    python bench/timeline.py --posts 1000000

The last line is `timeline_p50_ms=<many follows, first page> few_follows_p50_ms=<ms> posts=<P>`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout  # noqa: E402  (the scratch database)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/spaces_timeline"


def seed(accounts: int, posts: int) -> tuple:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Follow, Post, User

    rng = random.Random(1)
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"tl{i}", password=password, display_name=f"Reader {i}") for i in range(accounts)]
    )
    many, few = users[0], users[1]
    Follow.objects.bulk_create([Follow(follower=many, followee=u) for u in users[2 : 2 + accounts // 4]])
    Follow.objects.bulk_create([Follow(follower=few, followee=u) for u in users[-3:]])
    now = timezone.now()
    originals = posts - posts // 10
    Post.objects.bulk_create(
        (
            Post(author=users[rng.randrange(2, accounts)], body=f"post {i}", created_at=now - timedelta(seconds=7 * i))
            for i in range(originals)
        ),
        batch_size=5000,
    )
    ids = list(Post.objects.values_list("pk", flat=True))
    shared: set[tuple[int, int]] = set()
    while len(shared) < posts - originals:
        shared.add((users[rng.randrange(2, accounts)].pk, rng.choice(ids)))
    Post.objects.bulk_create(
        (
            Post(author_id=author, body="", repost_of_id=post, created_at=now - timedelta(seconds=11 * i))
            for i, (author, post) in enumerate(shared)
        ),
        batch_size=5000,
    )
    User.objects.filter(pk__in=[u.pk for u in users[2:8]]).update(is_active=False)  # suspended, some followed
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return many, few


def timed(call, runs: int) -> tuple[float, float]:
    for _ in range(5):
        call()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=330_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch database, dropped and made again")
    args = parser.parse_args()

    fanout.django_setup(args.database)
    from accounts import selectors

    began = time.monotonic()
    many, few = seed(args.accounts, args.posts)
    print(
        f"seeded accounts={args.accounts} posts={args.posts} in {time.monotonic() - began:.0f} s "
        f"load_average={os.getloadavg()[0]:.1f}",
        flush=True,
    )
    first = {}
    for label, reader in (("many_follows", many), ("few_follows", few)):
        page = selectors.timeline_for(user=reader)
        p50, p95 = timed(lambda r=reader: selectors.timeline_for(user=r), args.runs)
        next_p50, next_p95 = timed(
            lambda r=reader, c=page.next_cursor: selectors.timeline_for(user=r, cursor=c), args.runs
        )
        first[label] = p50
        print(
            f"{label}: first page p50 {p50:.1f} ms p95 {p95:.1f} ms, second page p50 {next_p50:.1f} ms "
            f"p95 {next_p95:.1f} ms ({len(page.items)} posts a page)",
            flush=True,
        )
    print(
        f"timeline_p50_ms={first['many_follows']:.1f} few_follows_p50_ms={first['few_follows']:.1f} posts={args.posts}"
    )


if __name__ == "__main__":
    main()
