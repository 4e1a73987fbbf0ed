"""What the money side reads: eligibility with reasons, a creator's page, who super-follows whom."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Q

from accounts.models import User
from accounts.selectors import is_blocked_between

from .models import CreatorProfile, SuperFollowPlan, SuperFollowSubscription


def creator_profile_of(*, user: User) -> CreatorProfile | None:
    return CreatorProfile.objects.filter(user=user).first()


def audience_refusals_for(*, user: User) -> list[str]:
    """Why `user` can't earn from an audience yet (followers and age); empty when they can."""
    reasons = []
    needed = settings.SUPER_FOLLOWS_MIN_FOLLOWERS
    if user.followers_count < needed:
        have = intcomma(user.followers_count)
        reasons.append(f"You need at least {intcomma(needed)} followers to earn on Spaces; you have {have}.")
    if user.date_of_birth is None:
        reasons.append("Add your date of birth to your profile: creators must be 18 or older.")
    elif not user.is_adult:
        reasons.append("Creators must be 18 or older.")
    return reasons


def super_follows_refusals_for(*, user: User, profile: CreatorProfile | None) -> list[str]:
    """Every reason `user` can't enrol in Super Follows, in the order they would fix them."""
    reasons = audience_refusals_for(user=user)
    if profile is None or not profile.stripe_account_id:
        reasons.append("Connect a payout account with Stripe.")
    elif not profile.payout_ready:
        reasons.append(f"Your payout account isn't ready yet: {profile.payout_state_label.lower()}.")
    return reasons


@dataclass
class CreatorPage:
    profile: CreatorProfile | None
    audience_refusals: list[str]
    enrol_refusals: list[str]
    plans: list[SuperFollowPlan] = field(default_factory=list)
    live_subscribers: int = 0
    missing_prices: list[int] = field(default_factory=list)


def creator_page_for(*, user: User) -> CreatorPage:
    profile = creator_profile_of(user=user)
    plans = list(SuperFollowPlan.objects.filter(creator=user).order_by("price_cents"))
    offered = {plan.price_cents for plan in plans}
    return CreatorPage(
        profile=profile,
        audience_refusals=audience_refusals_for(user=user),
        enrol_refusals=super_follows_refusals_for(user=user, profile=profile),
        plans=plans,
        live_subscribers=SuperFollowSubscription.objects.filter(
            creator=user, status__in=SuperFollowSubscription.LIVE
        ).count(),
        missing_prices=[price for price in settings.SUPER_FOLLOWS_PRICES_CENTS if price not in offered],
    )


def live_super_follow(*, subscriber: User, creator: User) -> SuperFollowSubscription | None:
    if not subscriber.is_authenticated:
        return None
    return (
        SuperFollowSubscription.objects.filter(
            subscriber=subscriber, creator=creator, status__in=SuperFollowSubscription.LIVE
        )
        .select_related("plan")
        .first()
    )


def live_super_follows_of(*, subscriber: User):
    return SuperFollowSubscription.objects.filter(
        subscriber=subscriber, status__in=SuperFollowSubscription.LIVE
    ).select_related("creator")


def is_super_follower(*, subscriber: User, creator: User) -> bool:
    """The check rooms.access and subscriber-only posts plug into."""
    return live_super_follow(subscriber=subscriber, creator=creator) is not None


@dataclass
class SuperFollowOffer:
    creator: User
    plans: list[SuperFollowPlan]
    subscription: SuperFollowSubscription | None
    can_subscribe: bool


def super_follow_offer_for(*, viewer: User, creator: User) -> SuperFollowOffer:
    """What a creator's profile shows a visitor: the plans on sale, or the visitor's live Super Follow."""
    plans = list(
        SuperFollowPlan.objects.filter(
            creator=creator,
            active=True,
            creator__creator_profile__super_follows_enrolled_at__isnull=False,
            creator__creator_profile__charges_enabled=True,
            creator__creator_profile__payouts_enabled=True,
        ).order_by("price_cents")
    )
    subscription = live_super_follow(subscriber=viewer, creator=creator)
    can_subscribe = (
        bool(plans)
        and viewer.is_authenticated
        and viewer.pk != creator.pk
        and subscription is None
        and not is_blocked_between(viewer, creator)
    )
    return SuperFollowOffer(creator=creator, plans=plans, subscription=subscription, can_subscribe=can_subscribe)


def super_follow_for_checkout(*, subscriber: User, session_id: str) -> SuperFollowSubscription | None:
    """The subscriber's own Super Follow started by this Checkout Session, for the status page."""
    return (
        SuperFollowSubscription.objects.filter(subscriber=subscriber, stripe_checkout_session_id=session_id)
        .select_related("creator", "plan")
        .first()
    )


def super_follows_of(*, subscriber: User) -> list[SuperFollowSubscription]:
    return list(
        SuperFollowSubscription.objects.filter(subscriber=subscriber)
        .filter(Q(status__in=SuperFollowSubscription.LIVE) | Q(status=SuperFollowSubscription.Status.PENDING))
        .select_related("creator", "plan")
        .order_by("-created_at")
    )
