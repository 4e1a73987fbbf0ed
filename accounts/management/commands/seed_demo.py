"""Creates a believable demo network; running it again changes nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Follow, Post, User

DEMO_PASSWORD = "spaces-demo-2026"
FAN_COUNT = 1300

# (username, display name, bio, how many fans follow them)
NAMED = [
    ("maya", "Maya Okafor", "Hosts Spaces on music and tech. Tuesdays live.", 650),
    ("leo", "Leo Martins", "Creator. Ticketed Spaces on product design. Super Follows open.", 1200),
    ("sam", "Sam Rivera", "Listener, occasional speaker, always curious.", 40),
    ("ivy", "Ivy Chen", "Co-hosting with Maya. Podcasts and long walks.", 320),
]
FIRST = (
    "Ada Ben Cleo Dev Eli Faye Gus Hana Ian Jo Kai Lena Milo Nia Omar Pia Quinn Rosa Theo Uma Vik Wren Yara Zed".split()
)
LAST = "Adams Baker Cruz Diaz Evans Fox Garcia Hughes Ito Jones Khan Lee Moreau Novak Ortiz Park Reyes Tan".split()
TOPICS = [
    "Just listened to a great Space on synthesizers.",
    "Who else is up early for the product design session?",
    "Hot take: audio rooms beat video calls for brainstorming.",
    "Reminder set for tonight's Space. See you there!",
    "Learning to DJ one Space at a time.",
    "Coffee, code, and a live Space in the background.",
    "That Q&A on indie games was excellent.",
    "Thinking about starting my own Space on gardening.",
]


class Command(BaseCommand):
    help = "Create demo accounts, posts and follows (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first (one start-up for both).")

    def handle(self, *args, **options) -> None:
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        self._seed()

    @transaction.atomic
    def _seed(self) -> None:
        if _network_exists():
            # The second `make run`: skip hashing the password and re-inserting thousands of rows.
            self.stdout.write("Demo network already there.")
            call_command("seed_spaces_demo", stdout=self.stdout)
            transaction.on_commit(lambda: call_command("seed_money_demo", stdout=self.stdout))
            return
        rng = random.Random(2026)
        password = make_password(DEMO_PASSWORD)
        now = timezone.now()

        named = {}
        for username, display_name, bio, _ in NAMED:
            named[username], _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "display_name": display_name,
                    "bio": bio,
                    "email": f"{username}@demo.spaces.local",
                    "password": password,
                    "date_of_birth": date(1990, 5, 17),
                },
            )
        fans = [
            User(
                username=f"fan{i:04d}",
                display_name=f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}",
                email=f"fan{i:04d}@demo.spaces.local",
                password=password,
            )
            for i in range(1, FAN_COUNT + 1)
        ]
        User.objects.bulk_create(fans, ignore_conflicts=True, batch_size=500)
        fan_ids = list(
            User.objects.filter(username__startswith="fan").order_by("username").values_list("pk", flat=True)
        )

        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user_id=pk, email=email, verified=True, primary=True)
                for pk, email in User.objects.filter(emailaddress__isnull=True).values_list("pk", "email")
                if email.endswith("@demo.spaces.local")
            ],
            ignore_conflicts=True,
        )

        follows = []
        for username, _, _, fan_total in NAMED:
            follows += [Follow(follower_id=pk, followee=named[username]) for pk in fan_ids[:fan_total]]
        for a in named.values():
            follows += [Follow(follower=a, followee=b) for b in named.values() if a != b]
        for pk in fan_ids:
            follows += [Follow(follower_id=pk, followee_id=other) for other in rng.sample(fan_ids, 8) if other != pk]
        Follow.objects.bulk_create(follows, ignore_conflicts=True, batch_size=2000)

        if not Post.objects.filter(author__in=named.values()).exists():
            posts = []
            authors = list(named.values()) + [User(pk=pk) for pk in fan_ids[:200]]
            for n in range(600):
                author = authors[n % len(authors)]
                posts.append(Post(author=author, body=rng.choice(TOPICS), created_at=now - timedelta(minutes=7 * n)))
            Post.objects.bulk_create(posts, batch_size=500)

        _recount_follows()
        call_command("seed_spaces_demo", stdout=self.stdout)
        # After the network is committed: its payments go through the test provider's webhooks.
        transaction.on_commit(lambda: call_command("seed_money_demo", stdout=self.stdout))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo network ready: {User.objects.count()} accounts, {Follow.objects.count()} follows, "
                f"{Post.objects.count()} posts. Log in as maya, leo, sam or ivy with password {DEMO_PASSWORD!r}."
            )
        )


def _network_exists() -> bool:
    named = User.objects.filter(username__in=[username for username, *_ in NAMED]).count() == len(NAMED)
    return (
        named
        and User.objects.filter(username__startswith="fan").count() >= FAN_COUNT
        and (Post.objects.filter(author__username=NAMED[0][0]).exists())
    )


def _recount_follows() -> None:
    followers = Follow.objects.filter(followee=OuterRef("pk")).values("followee").annotate(n=Count("pk")).values("n")
    following = Follow.objects.filter(follower=OuterRef("pk")).values("follower").annotate(n=Count("pk")).values("n")
    User.objects.update(
        followers_count=Coalesce(Subquery(followers), 0), following_count=Coalesce(Subquery(following), 0)
    )
