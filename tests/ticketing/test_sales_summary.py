"""The creator's earnings: figures from the ledger against hand-computed ones, in constant queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from django.urls import reverse

from ticketing import ledger, selectors
from ticketing.models import CreatorProfile, Sale, SuperFollowSubscription

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory

JAN = datetime(2026, 1, 15, 12, tzinfo=UTC)
FEB = datetime(2026, 2, 3, 9, tzinfo=UTC)


def _sales(creator, alice, bob):
    CreatorProfile.objects.filter(user=creator).update(lifetime_gross_cents=4_999_000)
    records = [
        (Sale.Kind.SUPER_FOLLOW, 999, alice, JAN),  # all below the threshold: fee 30
        (Sale.Kind.TIP, 2_000, bob, JAN),  # 1 cent below, 1,999 above: 0.03 + 399.8 -> 400
        (Sale.Kind.TIP, 500, alice, FEB),  # above: 100
    ]
    for index, (kind, gross, buyer, when) in enumerate(records):
        sale = ledger.sale_record(
            creator=creator, kind=kind, gross_cents=gross, buyer=buyer, stripe_reference=f"ref_{index}"
        )
        Sale.objects.filter(pk=sale.pk).update(created_at=when)


def test_the_summary_matches_hand_computed_figures(creator, alice, bob, charlie):
    _sales(creator, alice, bob)
    plan = SuperFollowPlanFactory(creator=creator, price_cents=999)
    SuperFollowSubscriptionFactory(plan=plan, subscriber=alice, status=SuperFollowSubscription.Status.ACTIVE)
    SuperFollowSubscriptionFactory(plan=plan, subscriber=bob, status=SuperFollowSubscription.Status.PAST_DUE)
    SuperFollowSubscriptionFactory(plan=plan, subscriber=charlie, status=SuperFollowSubscription.Status.CANCELED)

    summary = selectors.sales_summary_for(creator=creator)

    assert summary.by_kind["super_follow"] == selectors.Totals(1, 999, 30, 969)
    assert summary.by_kind["tip"] == selectors.Totals(2, 2_500, 500, 2_000)
    assert summary.total == selectors.Totals(3, 3_499, 530, 2_969)
    assert summary.months == [
        {"month": "2026-01", "gross_cents": 2_999, "platform_fee_cents": 430, "creator_net_cents": 2_569},
        {"month": "2026-02", "gross_cents": 500, "platform_fee_cents": 100, "creator_net_cents": 400},
    ]
    assert (summary.live_super_followers, summary.super_follows_monthly_cents) == (2, 1_998)


def test_the_summary_takes_the_same_queries_however_many_sales(creator, alice, bob, django_assert_num_queries):
    with django_assert_num_queries(3):
        selectors.sales_summary_for(creator=creator)
    for index in range(30):
        ledger.sale_record(creator=creator, kind=Sale.Kind.TIP, gross_cents=100 + index, stripe_reference=f"r{index}")
    with django_assert_num_queries(3):
        summary = selectors.sales_summary_for(creator=creator)
    assert summary.total.count == 30


def test_the_creator_page_shows_the_totals_and_chart_data(client, creator, alice, bob):
    _sales(creator, alice, bob)
    client.force_login(creator)
    page = client.get(reverse("ticketing:creator")).content.decode()
    assert '<td id="earnings-gross">$34.99</td>' in page
    assert '<td id="earnings-net">$29.69</td>' in page
    assert 'id="earnings-by-month"' in page
    assert '"month": "2026-02"' in page


def test_the_csv_export_lists_each_sale_of_the_signed_in_creator_only(client, creator, alice, bob):
    _sales(creator, alice, bob)
    ledger.sale_record(creator=alice, kind=Sale.Kind.TIP, gross_cents=700, stripe_reference="not_dana")
    client.force_login(creator)
    response = client.get(reverse("ticketing:sales_csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "date", "kind", "space_id", "space", "buyer", "gross", "platform_fee", "net", "stripe_reference", "refunded"
    ]  # fmt: skip
    assert [row[1:] for row in rows[1:]] == [
        ["super_follow", "", "", "alice", "9.99", "0.30", "9.69", "ref_0", ""],
        ["tip", "", "", "bob", "20.00", "4.00", "16.00", "ref_1", ""],
        ["tip", "", "", "alice", "5.00", "1.00", "4.00", "ref_2", ""],
    ]
