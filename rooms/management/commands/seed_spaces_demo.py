"""Gives the demo hosts live and scheduled Spaces; running it again changes nothing while they last."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import User
from rooms import services
from rooms.models import Space


class Command(BaseCommand):
    help = "Schedule the demo host's Space (idempotent)."

    def handle(self, *args, **options) -> None:
        maya = User.objects.filter(username="maya").first()
        if maya is None:
            self.stdout.write("No demo host yet; run seed_demo first.")
            return
        _seed_live_and_upcoming(self.stdout)
        if Space.objects.filter(host=maya, state__in=[Space.State.SCHEDULED, Space.State.LIVE]).exists():
            self.stdout.write("The demo host already has a Space coming up.")
            return
        start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        cohosts = list(User.objects.filter(username="ivy"))
        space = services.space_create(
            host=maya, title="Synths after dark", topics="music,synths,tech", scheduled_for=start, cohosts=cohosts
        )
        self.stdout.write(self.style.SUCCESS(f"Scheduled “{space.title}” for {start:%Y-%m-%d %H:%M} UTC."))


# (host, title, topics, minutes from now: None is live now)
DEMO_SPACES = [
    ("nora", "Friday jazz listening party", "jazz,music,vinyl", None),
    ("priya", "AI without the hype: open Q&A", "ai,speechtech,tech", None),
    ("omar", "Balcony gardening clinic", "gardening,compost", 180),
    ("nora", "Monk requests night", "jazz,piano", 60 * 26),
    ("priya", "How speech recognition fails", "ai,speechtech", 60 * 50),
]


def _seed_live_and_upcoming(stdout) -> None:
    """A few Spaces live and coming up whenever the demo starts: each one is created unless its host
    already has a Space with that title live or scheduled."""
    now = timezone.now()
    for username, title, topics, minutes in DEMO_SPACES:
        host = User.objects.filter(username=username).first()
        if host is None:
            continue
        active = Space.objects.filter(host=host, state__in=[Space.State.SCHEDULED, Space.State.LIVE])
        if active.filter(title=title).exists() or (minutes is None and active.filter(state=Space.State.LIVE).exists()):
            continue
        when = None if minutes is None else (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        space = services.space_create(host=host, title=title, topics=topics, scheduled_for=when)
        if space.is_live:
            _seat_demo_listeners(space)
        stdout.write(f"{'Live' if space.is_live else 'Scheduled'}: “{title}” by @{username}.")


def _seat_demo_listeners(space: Space) -> None:
    from rooms.models import Participant, Role

    fans = User.objects.filter(follower_links__followee=space.host, username__startswith="fan")
    listeners = fans.order_by("pk")[: 12 + space.pk % 20]
    Participant.objects.bulk_create(
        [Participant(space=space, user=fan, role=Role.LISTENER, connections=1) for fan in listeners],
        ignore_conflicts=True,
    )
