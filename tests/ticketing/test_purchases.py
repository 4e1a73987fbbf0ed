"""Your purchases: what a person paid for, and where each stands (refunds, renewals, endings)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory
from ticketing.models import SuperFollowSubscription, Ticket, Tip

from .factories import SuperFollowSubscriptionFactory, make_creator
from .tickets_support import buy, paid_event, ticketed_space

pytestmark = pytest.mark.django_db

URL = reverse("ticketing:purchases")


def _tip(tipper, *, status: str, amount_cents: int, session: str) -> Tip:
    host = make_creator(f"host{amount_cents}")
    return Tip.objects.create(
        space=LiveSpaceFactory(host=host, title=f"Space {amount_cents}"),
        tipper=tipper,
        host=host,
        amount_cents=amount_cents,
        application_fee_cents=10,
        status=status,
        paid_at=datetime(2026, 11, 2, 12, tzinfo=UTC) if status == Tip.Status.PAID else None,
        stripe_checkout_session_id=session,
    )


def test_someone_who_bought_nothing_is_told_what_will_show_here(alice_client):
    response = alice_client.get(URL)

    assert response.status_code == 200
    assert b'id="no-purchases"' in response.content
    assert b'id="purchased-tickets"' not in response.content


def test_the_page_lists_only_what_the_person_paid_for_with_where_each_stands(
    alice, alice_client, bob, provider, post_event
):
    offer = ticketed_space(price_cents=2500, title="Friday jam")
    post_event(paid_event(provider, buy(offer, alice)))
    bobs = ticketed_space(price_cents=900, title="Bob's only", host=make_creator("bea"))
    post_event(paid_event(provider, buy(bobs, bob)))
    buy(ticketed_space(price_cents=700, title="Never paid", host=make_creator("cai")), alice)
    active = SuperFollowSubscriptionFactory(
        subscriber=alice,
        plan__creator=make_creator("leo"),
        status=SuperFollowSubscription.Status.ACTIVE,
        current_period_end=datetime(2026, 12, 24, 12, tzinfo=UTC),
    )
    SuperFollowSubscriptionFactory(
        subscriber=alice, plan__creator=make_creator("mia"), status=SuperFollowSubscription.Status.PENDING
    )
    _tip(alice, status=Tip.Status.PAID, amount_cents=1200, session="cs_paid")
    _tip(alice, status=Tip.Status.EXPIRED, amount_cents=1300, session="cs_expired")

    page = alice_client.get(URL).content.decode()

    assert "Friday jam" in page and "$25.00" in page and "<strong>Valid</strong>" in page
    assert "Bob&#x27;s only" not in page and "Never paid" not in page
    assert f"@{active.creator.username}" in page and "renews on" in page and "24 Dec 2026" in page
    assert "@mia" not in page  # a checkout never paid
    assert "$12.00" in page and "Space 1200" in page
    assert "$13.00" not in page


def test_a_refunded_ticket_and_a_cancelled_super_follow_say_so(alice, alice_client, provider, post_event):
    offer = ticketed_space(price_cents=2500, title="Friday jam")
    post_event(paid_event(provider, buy(offer, alice)))
    Ticket.objects.filter(buyer=alice).update(
        status=Ticket.Status.REFUNDED, refunded_at=datetime(2026, 11, 20, 9, tzinfo=UTC)
    )
    SuperFollowSubscriptionFactory(
        subscriber=alice,
        plan__creator=make_creator("leo"),
        status=SuperFollowSubscription.Status.ACTIVE,
        cancel_at_period_end=True,
        current_period_end=datetime(2026, 12, 24, 12, tzinfo=UTC),
    )
    SuperFollowSubscriptionFactory(
        subscriber=alice,
        plan__creator=make_creator("nia"),
        status=SuperFollowSubscription.Status.CANCELED,
        canceled_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
    )

    page = alice_client.get(URL).content.decode()

    assert "<strong>Refunded</strong> on" in page and "20 Nov 2026" in page
    assert "<strong>Cancelled</strong>: ends" in page and "24 Dec 2026" in page
    assert "<strong>Ended</strong> on" in page and "1 Oct 2026" in page


def test_it_is_reached_from_the_person_s_own_profile_and_asks_a_stranger_to_sign_in(alice, alice_client):
    profile = alice_client.get(alice.get_absolute_url()).content.decode()
    assert f'href="{URL}" id="profile-purchases"' in profile
    someone_else = alice_client.get(UserFactory(username="zed").get_absolute_url()).content.decode()
    assert 'id="profile-purchases"' not in someone_else

    alice_client.logout()
    response = alice_client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
