"""The ledger: each payment entered once, split by the fee schedule, and the creator's lifetime earnings it moves."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from accounts.models import User
from rooms.models import Space

from .fees import FeeSplit, platform_fee_for
from .models import CreatorProfile, Sale, SuperFollowSubscription


def creator_profile_locked(user: User) -> CreatorProfile:
    """The creator's profile (made the first time), locked: it orders their sales, enrolment and payout changes."""
    profile, _ = CreatorProfile.objects.get_or_create(user=user)
    return CreatorProfile.objects.select_for_update().get(pk=profile.pk)


@transaction.atomic
def sale_record(
    *,
    creator: User,
    kind: str,
    gross_cents: int,
    stripe_reference: str,
    buyer: User | None = None,
    super_follow: SuperFollowSubscription | None = None,
    space: Space | None = None,
    platform_fee_cents: int | None = None,
) -> Sale:
    """Enter a payment in the ledger once, split by the fee schedule at the creator's lifetime earnings.

    `platform_fee_cents` is the fee Stripe actually took when it was fixed before payment (a ticket's
    `application_fee_amount`), so the ledger matches the money even if the schedule moved meanwhile.
    """
    if gross_cents <= 0:
        raise ValidationError("A sale must be for more than $0.")
    # The row lock orders concurrent sales of one creator, so each is split at the right point.
    profile = creator_profile_locked(creator)
    existing = Sale.objects.filter(stripe_reference=stripe_reference).first()
    if existing is not None:
        return existing
    split = platform_fee_for(creator=profile, gross_cents=gross_cents)
    if platform_fee_cents is not None:
        split = FeeSplit(gross_cents, platform_fee_cents, gross_cents - platform_fee_cents)
    sale = Sale.objects.create(
        creator=creator,
        buyer=buyer,
        kind=kind,
        gross_cents=split.gross_cents,
        platform_fee_cents=split.platform_fee_cents,
        creator_net_cents=split.creator_net_cents,
        stripe_reference=stripe_reference,
        super_follow=super_follow,
        space=space,
    )
    CreatorProfile.objects.filter(pk=profile.pk).update(lifetime_gross_cents=F("lifetime_gross_cents") + gross_cents)
    return sale


def refund_record(*, creator: User, gross_cents: int) -> None:
    """A refunded payment: its Sale line stays (gross > 0 by constraint); the schedule's position moves back.

    Taken under the same lock as `sale_record`, so a refund and a sale of one creator never interleave.
    """
    profile = CreatorProfile.objects.select_for_update().get(user=creator)
    CreatorProfile.objects.filter(pk=profile.pk).update(
        lifetime_gross_cents=Greatest(F("lifetime_gross_cents") - gross_cents, 0)
    )
