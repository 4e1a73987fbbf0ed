"""Rules the database itself enforces on the money tables."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from ticketing.models import CreatorProfile, Sale, SuperFollowPlan, SuperFollowSubscription

from .factories import CreatorProfileFactory, SuperFollowPlanFactory, SuperFollowSubscriptionFactory


def test_a_plan_price_outside_the_set_is_refused_by_the_database(bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        SuperFollowPlan.objects.create(creator=bob, price_cents=300)
    assert not SuperFollowPlan.objects.exists()


def test_one_live_super_follow_per_subscriber_and_creator(alice):
    live = SuperFollowSubscriptionFactory(subscriber=alice, status=SuperFollowSubscription.Status.ACTIVE)
    SuperFollowSubscriptionFactory(subscriber=alice, plan=live.plan, status=SuperFollowSubscription.Status.CANCELED)
    with pytest.raises(IntegrityError), transaction.atomic():
        SuperFollowSubscriptionFactory(subscriber=alice, plan=live.plan, status=SuperFollowSubscription.Status.PAST_DUE)
    assert SuperFollowSubscription.objects.filter(subscriber=alice).count() == 2


def test_a_sale_whose_split_does_not_add_up_is_refused(bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Sale.objects.create(
            creator=bob,
            kind=Sale.Kind.TIP,
            gross_cents=100,
            platform_fee_cents=3,
            creator_net_cents=90,
            stripe_reference="x",
        )
    assert not Sale.objects.exists()


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"stripe_account_id": None}, CreatorProfile.PayoutState.NOT_STARTED),
        ({"details_submitted": False}, CreatorProfile.PayoutState.ONBOARDING),
        ({"payouts_enabled": False, "requirements_due": ["external_account"]}, CreatorProfile.PayoutState.RESTRICTED),
        ({"charges_enabled": False}, CreatorProfile.PayoutState.IN_REVIEW),
        ({}, CreatorProfile.PayoutState.READY),
    ],
)
def test_payout_state_shown_to_the_creator(db, fields, state):
    profile = CreatorProfileFactory.build(**fields)
    assert profile.payout_state == state
    assert profile.payout_ready == (state == CreatorProfile.PayoutState.READY)


def test_plan_factory_builds_an_allowed_price(db):
    assert SuperFollowPlanFactory().price_display == "$4.99"
