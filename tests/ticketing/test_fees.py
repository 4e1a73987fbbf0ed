"""The platform's cut: 3% until $50,000 of lifetime earnings, 20% after, split across the boundary."""

from __future__ import annotations

import pytest

from ticketing.fees import fee_split, marginal_fee_bps, platform_fee_for
from ticketing.models import CreatorProfile

SCHEDULE = ((0, 300), (5_000_000, 2000))


@pytest.mark.parametrize(
    ("lifetime", "gross", "fee"),
    [
        (0, 1_000, 30),
        (0, 299, 9),  # 8.97 rounds to 9
        (0, 499, 15),
        (0, 999, 30),
        (0, 50, 2),  # 1.5 rounds half up
        (4_999_000, 1_000, 30),  # ends exactly on the boundary: all at 3%
        (5_000_000, 1_000, 200),
        (7_000_000, 999, 200),  # 199.8
        (4_999_500, 1_000, 115),  # 500 at 3% (15) + 500 at 20% (100)
        (4_990_000, 20_000, 2_300),  # 10,000 at 3% (300) + 10,000 at 20% (2,000)
    ],
)
def test_fee_split_follows_the_schedule(lifetime, gross, fee):
    split = fee_split(lifetime_gross_cents=lifetime, gross_cents=gross, schedule=SCHEDULE)
    assert split.platform_fee_cents == fee
    assert split.creator_net_cents == gross - fee
    assert split.gross_cents == gross


def test_a_sale_crossing_the_boundary_costs_what_two_sales_either_side_would():
    crossing = fee_split(lifetime_gross_cents=4_999_000, gross_cents=3_000, schedule=SCHEDULE)
    below = fee_split(lifetime_gross_cents=4_999_000, gross_cents=1_000, schedule=SCHEDULE)
    above = fee_split(lifetime_gross_cents=5_000_000, gross_cents=2_000, schedule=SCHEDULE)
    assert crossing.platform_fee_cents == below.platform_fee_cents + above.platform_fee_cents == 430


def test_marginal_rate_changes_at_the_threshold():
    assert marginal_fee_bps(lifetime_gross_cents=0, schedule=SCHEDULE) == 300
    assert marginal_fee_bps(lifetime_gross_cents=4_999_999, schedule=SCHEDULE) == 300
    assert marginal_fee_bps(lifetime_gross_cents=5_000_000, schedule=SCHEDULE) == 2000


def test_platform_fee_for_reads_the_schedule_setting_and_the_creators_lifetime(settings):
    creator = CreatorProfile(lifetime_gross_cents=4_999_500)
    assert platform_fee_for(creator=creator, gross_cents=1_000).platform_fee_cents == 115

    settings.PLATFORM_FEE_SCHEDULE = ((0, 500), (1_000, 1000))
    split = platform_fee_for(creator=CreatorProfile(lifetime_gross_cents=500), gross_cents=1_000)
    assert split.platform_fee_cents == 75  # 500 at 5% + 500 at 10%
    assert split.creator_net_cents == 925


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ((), "start at 0"),
        (((100, 300),), "start at 0"),
        (((0, 300), (0, 2000)), "strictly increase"),
        (((0, 300), (10, 10_001)), "basis points"),
    ],
)
def test_a_malformed_schedule_is_refused(schedule, message):
    with pytest.raises(ValueError, match=message):
        fee_split(lifetime_gross_cents=0, gross_cents=100, schedule=schedule)


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        fee_split(lifetime_gross_cents=0, gross_cents=-1, schedule=SCHEDULE)
