"""Factories for creators, plans and Super Follows."""

from __future__ import annotations

from datetime import date

import factory
from django.utils import timezone

from accounts.models import User
from tests.accounts.factories import UserFactory
from ticketing.models import CreatorProfile, SuperFollowPlan, SuperFollowSubscription
from ticketing.test_provider import engine, store


def ready_account_id() -> str:
    """A connected account at the test provider that has finished onboarding (no event sent)."""
    with store.atomic():
        account = engine.account_create(email=None, controller={}, metadata={})
        account.data.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        account.data["requirements"] = {"currently_due": []}
        account.save()
    return account.id


class CreatorProfileFactory(factory.django.DjangoModelFactory):
    """A creator whose payout account is ready (override the flags for other states)."""

    class Meta:
        model = CreatorProfile

    user = factory.SubFactory(UserFactory)
    stripe_account_id = factory.LazyFunction(ready_account_id)
    charges_enabled = True
    payouts_enabled = True
    details_submitted = True
    super_follows_enrolled_at = factory.LazyFunction(timezone.now)


def make_creator(
    username: str = "dana", *, followers: int = 1000, born: date | None = date(1990, 5, 17), profile: dict | bool = True
) -> User:
    """A user with an audience; `profile=True` adds a ready payout account enrolled in Super Follows,
    a dict overrides that profile's fields, `False` leaves the user with no creator profile."""
    user = UserFactory(username=username, display_name=username.title(), date_of_birth=born)
    User.objects.filter(pk=user.pk).update(followers_count=followers)
    user.refresh_from_db()
    if profile is not False:
        CreatorProfileFactory(user=user, **(profile if isinstance(profile, dict) else {}))
    return user


class SuperFollowPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuperFollowPlan

    creator = factory.SubFactory(UserFactory)
    price_cents = 499


class SuperFollowSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuperFollowSubscription

    subscriber = factory.SubFactory(UserFactory)
    plan = factory.SubFactory(SuperFollowPlanFactory)
    creator = factory.SelfAttribute("plan.creator")
    price_cents = factory.SelfAttribute("plan.price_cents")
    application_fee_bps = 300
