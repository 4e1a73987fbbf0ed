"""`seed_demo` leaves leo with a money story, paid through the test provider, and changes nothing the second time."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import Post
from ticketing import dashboard
from ticketing.models import CreatorProfile, Sale, SuperFollowPlan, SuperFollowSubscription, Ticket, TicketOffer, Tip


def _money() -> tuple:
    return (
        Sale.objects.count(),
        Ticket.objects.count(),
        Tip.objects.count(),
        SuperFollowSubscription.objects.count(),
        SuperFollowPlan.objects.count(),
        TicketOffer.objects.count(),
    )


@pytest.mark.django_db(transaction=True)  # commits as `make run` does, so each payment's webhook runs in turn
def test_seed_demo_makes_leo_a_ready_creator_with_sales_once(provider):
    call_command("seed_demo")

    profile = CreatorProfile.objects.select_related("user").get(user__username="leo")
    leo = profile.user
    assert profile.payout_ready and profile.super_follows_enrolled
    assert profile.stripe_account_id in provider.accounts
    assert SuperFollowPlan.objects.filter(creator=leo, active=True).count() == 2
    offer = TicketOffer.objects.get(space__host=leo)
    assert offer.space.state == "scheduled"
    assert (offer.sold_count, offer.quantity) == (13, 40)
    assert Ticket.objects.filter(offer=offer, status=Ticket.Status.REFUNDED).count() == 1
    assert SuperFollowSubscription.objects.filter(creator=leo, status="active").count() == 9
    assert Tip.objects.filter(host=leo, status=Tip.Status.PAID).count() == 5
    assert Post.objects.filter(author=leo, audience=Post.Audience.SUPER_FOLLOWERS).exists()
    figures = dashboard.dashboard_for(creator=leo)
    assert figures.refunds.count == 1
    assert figures.gross_cents > 0 and len(figures.chart["months"]) >= 2
    # Every payment went through the provider's checkout and its signed webhooks.
    assert len(provider.requests_to("POST", "/v1/checkout/sessions")) == 14 + 9 + 5
    assert len(provider.refunds) == 1

    before = _money()
    call_command("seed_demo")
    assert _money() == before
