"""The platform's cut: a tiered schedule over each creator's lifetime gross earnings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from .models import CreatorProfile

Schedule = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class FeeSplit:
    gross_cents: int
    platform_fee_cents: int
    creator_net_cents: int


def _validated(schedule: Schedule) -> Schedule:
    if not schedule or schedule[0][0] != 0:
        raise ValueError("The fee schedule must start at 0 cents of lifetime earnings.")
    starts = [start for start, _ in schedule]
    if starts != sorted(set(starts)):
        raise ValueError("The fee schedule's thresholds must strictly increase.")
    if any(not 0 <= bps <= 10_000 for _, bps in schedule):
        raise ValueError("Fee rates are basis points between 0 and 10,000.")
    return schedule


def fee_split(*, lifetime_gross_cents: int, gross_cents: int, schedule: Schedule) -> FeeSplit:
    """Charge each tier's rate on the part of this sale that falls inside that tier; round half up once."""
    if gross_cents < 0 or lifetime_gross_cents < 0:
        raise ValueError("Amounts can't be negative.")
    schedule = _validated(schedule)
    start, end = lifetime_gross_cents, lifetime_gross_cents + gross_cents
    weighted = 0
    for index, (tier_start, bps) in enumerate(schedule):
        tier_end = schedule[index + 1][0] if index + 1 < len(schedule) else None
        low = max(start, tier_start)
        high = end if tier_end is None else min(end, tier_end)
        if high > low:
            weighted += (high - low) * bps
    fee = (weighted + 5_000) // 10_000
    return FeeSplit(gross_cents=gross_cents, platform_fee_cents=fee, creator_net_cents=gross_cents - fee)


def marginal_fee_bps(*, lifetime_gross_cents: int, schedule: Schedule) -> int:
    """The rate the next cent earned pays: what a subscription's fee percentage is set from."""
    rate = 0
    for tier_start, bps in _validated(schedule):
        if lifetime_gross_cents >= tier_start:
            rate = bps
    return rate


def platform_fee_for(*, creator: CreatorProfile, gross_cents: int) -> FeeSplit:
    """The split of a sale of `gross_cents` for this creator given what they have earned so far."""
    return fee_split(
        lifetime_gross_cents=creator.lifetime_gross_cents,
        gross_cents=gross_cents,
        schedule=settings.PLATFORM_FEE_SCHEDULE,
    )
