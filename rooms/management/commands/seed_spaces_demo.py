"""Gives the demo host one scheduled Space; running it again changes nothing."""

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
        if Space.objects.filter(host=maya, state__in=[Space.State.SCHEDULED, Space.State.LIVE]).exists():
            self.stdout.write("The demo host already has a Space coming up.")
            return
        start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        cohosts = list(User.objects.filter(username="ivy"))
        space = services.space_create(
            host=maya, title="Synths after dark", topics="music,synths,tech", scheduled_for=start, cohosts=cohosts
        )
        self.stdout.write(self.style.SUCCESS(f"Scheduled “{space.title}” for {start:%Y-%m-%d %H:%M} UTC."))
