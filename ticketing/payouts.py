"""The creator's payout account: Stripe-hosted onboarding and our copy of the connected account's state."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification, User
from accounts.notifications import notification_create

from . import stripe_gateway
from .ledger import creator_profile_locked
from .models import CreatorProfile
from .selectors import may_earn

logger = logging.getLogger(__name__)


def payout_onboarding_start(*, user: User, refresh_url: str, return_url: str) -> str:
    """The Stripe-hosted onboarding URL for the creator's connected account, creating it the first time."""
    decision = may_earn(user=user)
    if not decision:
        raise ValidationError(list(decision.reasons))
    account_id = _connected_account_for(user)
    return stripe_gateway.connect_onboarding_link(account_id=account_id, refresh_url=refresh_url, return_url=return_url)


@transaction.atomic
def _connected_account_for(user: User) -> str:
    """Committed before the link is asked for, so a failed link never orphans an account at Stripe."""
    profile = creator_profile_locked(user)
    if not profile.stripe_account_id:
        # The key makes a retried request return the account Stripe already made for this person.
        state = stripe_gateway.connect_account_create(
            email=user.email, user_id=user.pk, idempotency_key=f"connect-account-user-{user.pk}"
        )
        profile.stripe_account_id = state.id
        _copy_account_state(profile, state)
        profile.save()
    return profile.stripe_account_id


def _copy_account_state(profile: CreatorProfile, state: stripe_gateway.AccountState) -> None:
    profile.charges_enabled = state.charges_enabled
    profile.payouts_enabled = state.payouts_enabled
    profile.details_submitted = state.details_submitted
    profile.requirements_due = list(state.requirements_due)
    profile.payout_synced_at = timezone.now()


@transaction.atomic
def payout_account_sync(*, state: stripe_gateway.AccountState) -> CreatorProfile | None:
    """Keep our copy of a connected account in step with Stripe; tell the creator when it turns ready."""
    profile = (
        CreatorProfile.objects.select_for_update().select_related("user").filter(stripe_account_id=state.id).first()
    )
    if profile is None:
        logger.warning("Stripe account %s belongs to no creator here", state.id)
        return None
    was_ready = profile.payout_ready
    _copy_account_state(profile, state)
    profile.save()
    if profile.payout_ready != was_ready:
        text = (
            "Your payout account is ready: you can enrol in Super Follows."
            if profile.payout_ready
            else f"Your payout account needs attention: {profile.payout_state_label.lower()}."
        )
        notification_create(
            recipient=profile.user, kind=Notification.Kind.OTHER, text=text, url=reverse("ticketing:creator")
        )
    return profile


def payout_account_refresh(*, user: User) -> CreatorProfile | None:
    """Ask Stripe for the account's state now (the creator came back from onboarding)."""
    profile = CreatorProfile.objects.filter(user=user).first()
    if profile is None or not profile.stripe_account_id:
        return profile
    return payout_account_sync(state=stripe_gateway.connect_account_retrieve(account_id=profile.stripe_account_id))
