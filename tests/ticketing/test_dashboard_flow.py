"""The dashboard reads what the real purchase, refund and tip flows leave behind (fake Stripe, signed webhooks)."""

from __future__ import annotations

from tests.accounts.factories import UserFactory
from ticketing import dashboard, tickets
from ticketing.models import Ticket

from .test_tips import completed, start
from .tickets_support import buy, paid_event, ticketed_space


def test_purchases_a_refund_and_a_tip_add_up_on_the_dashboard(
    provider, post_event, django_capture_on_commit_callbacks, alice, bob, charlie
):
    offer = ticketed_space(price_cents=1_500, quantity=10)
    space, host = offer.space, offer.space.host
    for viewer in [UserFactory() for _ in range(9)] + [alice, bob, charlie]:
        tickets.ticket_offer_page_viewed(offer=offer, viewer=viewer)
    for buyer in (alice, bob, charlie):
        post_event(paid_event(provider, buy(offer, buyer)))
    with django_capture_on_commit_callbacks(execute=True):
        tickets.ticket_refund_request(ticket=Ticket.objects.get(buyer=bob), by=bob)
    assert Ticket.objects.get(buyer=bob).status == Ticket.Status.REFUNDED

    space.state = space.State.LIVE
    space.save(update_fields=["state"])
    tip, _ = start(space, charlie, amount_cents=1_000)
    post_event(completed(tip))

    [row] = dashboard.dashboard_for(creator=host).spaces
    # Three $15 tickets at 3% (45¢ each), bob's refunded; a $10 tip at 3%.
    assert (row.sold, row.left, row.purchases) == (2, 8, 3)
    assert (row.tickets.count, row.tickets.gross_cents, row.tickets.platform_fee_cents) == (3, 4_500, 135)
    assert row.refunds == dashboard.Refunds(count=1, gross_cents=1_500, platform_fee_cents=45)
    assert (row.tips.count, row.tips.gross_cents, row.tips.platform_fee_cents) == (1, 1_000, 30)
    assert (row.gross_cents, row.platform_fee_cents, row.creator_net_cents) == (4_000, 120, 3_880)
    # Twelve people looked before buying; the three buyers' later visits don't count.
    assert row.conversion == 3 / 12
