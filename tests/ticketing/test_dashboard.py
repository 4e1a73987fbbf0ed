"""The creators' sales dashboard: figures against hand-computed ones, refunds, conversion, constant queries."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from rooms.models import Space
from tests.accounts.factories import UserFactory
from tests.rooms.factories import SpaceFactory
from tests.ticketing.factories import make_creator
from ticketing import dashboard, ledger
from ticketing.models import CreatorProfile, Sale, SeatHold, Ticket, TicketOffer

JAN = datetime(2026, 1, 15, 12, tzinfo=UTC)
FEB = datetime(2026, 2, 3, 9, tzinfo=UTC)
MAR = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _dated(sale: Sale, when: datetime) -> Sale:
    Sale.objects.filter(pk=sale.pk).update(created_at=when)
    return sale


def sell_ticket(
    offer: TicketOffer, buyer: User, *, when: datetime, fee_cents: int, status=Ticket.Status.VALID, **extra
):
    """A paid seat as the purchase flow leaves it: hold, ticket and the ledger line for the Space."""
    session = f"cs_{offer.pk}_{buyer.username}"
    hold = SeatHold.objects.create(
        offer=offer,
        buyer=buyer,
        status=SeatHold.Status.PAID,
        price_cents=offer.price_cents,
        application_fee_cents=fee_cents,
        expires_at=when,
        stripe_checkout_session_id=session,
    )
    ticket = Ticket.objects.create(
        hold=hold, offer=offer, buyer=buyer, payment_intent_id=f"pi_{session}", status=status, **extra
    )
    sale = ledger.sale_record(
        creator=offer.space.host,
        kind=Sale.Kind.TICKET,
        gross_cents=offer.price_cents,
        stripe_reference=session,
        buyer=buyer,
        space=offer.space,
    )
    assert sale.platform_fee_cents == fee_cents, "the hand-computed fee must match the schedule"
    _dated(sale, when)
    return ticket


def tip_sale(space: Space, buyer: User, cents: int, *, when: datetime) -> Sale:
    sale = ledger.sale_record(
        creator=space.host,
        kind=Sale.Kind.TIP,
        gross_cents=cents,
        stripe_reference=f"cs_tip_{space.pk}_{buyer.username}",
        buyer=buyer,
        space=space,
    )
    return _dated(sale, when)


@pytest.fixture
def world(creator, alice, bob, charlie):
    """Sales of one creator that cross the $50,000 threshold, with every state of refund.

    Five tickets bought, one refunded (its seat freed: `sold_count` 4), one seat held in checkout.

    Lifetime earnings start at $49,980: alice's $20 ticket is the last sale at 3%, everything after
    pays 20%.
    """
    CreatorProfile.objects.filter(user=creator).update(lifetime_gross_cents=4_998_000)
    dave, erin = UserFactory(username="dave"), UserFactory(username="erin")
    jazz = SpaceFactory(host=creator, title="Jazz", state=Space.State.ENDED)
    offer = TicketOffer.objects.create(
        space=jazz, price_cents=2_000, quantity=10, sold_count=4, held_count=1, page_views=40
    )
    sell_ticket(offer, alice, when=JAN, fee_cents=60)
    sell_ticket(offer, bob, when=JAN, fee_cents=400)
    refunded_at = MAR
    sell_ticket(offer, charlie, when=FEB, fee_cents=400, status=Ticket.Status.REFUNDED, refunded_at=refunded_at)
    sell_ticket(offer, dave, when=FEB, fee_cents=400, status=Ticket.Status.REFUND_PENDING)
    sell_ticket(offer, erin, when=FEB, fee_cents=400, status=Ticket.Status.REFUND_FAILED, refund_error="Card expired")
    tip_sale(jazz, alice, 500, when=FEB)

    quiet = SpaceFactory(host=creator, title="Quiet")
    TicketOffer.objects.create(space=quiet, price_cents=1_000, quantity=5)

    free = SpaceFactory(host=creator, title="Free chat", state=Space.State.LIVE, scheduled_for=None)
    tip_sale(free, bob, 1_000, when=FEB)

    super_follow = ledger.sale_record(
        creator=creator, kind=Sale.Kind.SUPER_FOLLOW, gross_cents=999, stripe_reference="in_sf", buyer=charlie
    )
    _dated(super_follow, FEB)
    # Another creator's Space and sales never show up.
    other = make_creator("olga")
    tip_sale(SpaceFactory(host=other, title="Not yours"), alice, 700, when=FEB)
    return {"jazz": jazz, "quiet": quiet, "free": free, "offer": offer}


def test_each_space_matches_hand_computed_figures(creator, world):
    board = dashboard.dashboard_for(creator=creator)
    rows = {row.space.title: row for row in board.spaces}
    assert set(rows) == {"Jazz", "Quiet", "Free chat"}

    jazz = rows["Jazz"]
    assert (jazz.sold, jazz.left, jazz.purchases) == (4, 5, 5)
    # Ledger: 5 tickets, fees 60 + 4 × 400; one $5 tip at 20%.
    assert (jazz.tickets.count, jazz.tickets.gross_cents, jazz.tickets.platform_fee_cents) == (5, 10_000, 1_660)
    assert (jazz.tips.count, jazz.tips.gross_cents, jazz.tips.creator_net_cents) == (1, 500, 400)
    # One refund made (its $20 and $4 fee come back off), one pending, one failed.
    assert jazz.refunds == dashboard.Refunds(count=1, gross_cents=2_000, platform_fee_cents=400, pending=1, failed=1)
    assert (jazz.gross_cents, jazz.platform_fee_cents, jazz.creator_net_cents) == (8_500, 1_360, 7_140)
    assert jazz.conversion == 5 / 40

    quiet = rows["Quiet"]
    assert (quiet.sold, quiet.left, quiet.purchases, quiet.gross_cents) == (0, 5, 0, 0)
    assert quiet.conversion is None

    free = rows["Free chat"]
    assert (free.offer, free.sold, free.left) == (None, 0, None)
    assert (free.gross_cents, free.platform_fee_cents, free.creator_net_cents) == (1_000, 200, 800)


def test_the_totals_subtract_refunds_and_the_chart_shows_each_month(creator, world):
    board = dashboard.dashboard_for(creator=creator)

    # Ledger 12,499 gross (10,000 tickets, 1,500 tips, 999 Super Follow); one $20 ticket refunded.
    assert (board.summary.total.gross_cents, board.summary.total.platform_fee_cents) == (12_499, 2_160)
    assert (board.gross_cents, board.platform_fee_cents, board.creator_net_cents) == (10_499, 1_760, 8_739)
    assert board.refunds == dashboard.Refunds(count=1, gross_cents=2_000, platform_fee_cents=400, pending=1, failed=1)
    assert board.chart == {
        "months": ["2026-01", "2026-02", "2026-03"],
        "series": [
            {"key": "super_follow", "label": "Super Follow", "net_cents": [0, 799, 0]},
            {"key": "ticket", "label": "Ticket", "net_cents": [3_540, 4_800, 0]},
            {"key": "tip", "label": "Tip", "net_cents": [0, 1_200, 0]},
            {"key": "refunds", "label": "Refunds", "net_cents": [0, 0, -1_600]},
        ],
    }


def test_a_creator_with_no_sales_gets_an_empty_dashboard(creator):
    board = dashboard.dashboard_for(creator=creator)
    assert board.spaces == []
    assert board.chart == {"months": [], "series": []}
    assert (board.gross_cents, board.creator_net_cents) == (0, 0)


def _many_spaces(creator, count: int) -> None:
    buyers = [UserFactory() for _ in range(3)]
    for index in range(count):
        space = SpaceFactory(host=creator)
        offer = TicketOffer.objects.create(space=space, price_cents=1_000, quantity=10, page_views=index)
        for buyer in buyers:
            hold = SeatHold.objects.create(
                offer=offer,
                buyer=buyer,
                status=SeatHold.Status.PAID,
                price_cents=1_000,
                application_fee_cents=30,
                expires_at=timezone.now(),
                stripe_checkout_session_id=f"cs_{space.pk}_{buyer.pk}",
            )
            Ticket.objects.create(hold=hold, offer=offer, buyer=buyer, payment_intent_id=f"pi_{space.pk}_{buyer.pk}")
            ledger.sale_record(
                creator=creator,
                kind=Sale.Kind.TICKET,
                gross_cents=1_000,
                stripe_reference=f"cs_{space.pk}_{buyer.pk}",
                space=space,
            )
        tip_sale(space, buyers[0], 300, when=FEB)


def test_the_dashboard_takes_the_same_queries_for_one_space_or_many(creator, django_assert_num_queries):
    _many_spaces(creator, 1)
    with django_assert_num_queries(9):
        board = dashboard.dashboard_for(creator=creator)
    assert len(board.spaces) == 1
    _many_spaces(creator, 24)
    with django_assert_num_queries(9):
        board = dashboard.dashboard_for(creator=creator)
    assert len(board.spaces) == 25
    assert sum(row.purchases for row in board.spaces) == 75


def test_a_space_detail_takes_the_same_queries_however_many_tickets(creator, django_assert_num_queries):
    _many_spaces(creator, 2)
    space = Space.objects.filter(host=creator).first()
    with django_assert_num_queries(5):
        detail = dashboard.space_detail_for(creator=creator, space_pk=space.pk)
    assert len(detail.tickets) == 3
    assert [t.hold.price_cents for t in detail.tickets] == [1_000] * 3


# --- Pages ---------------------------------------------------------------------------------------------


def test_the_dashboard_page_shows_each_space_and_the_chart_data(client, creator, world):
    client.force_login(creator)
    response = client.get(reverse("ticketing:dashboard"))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<dd id="dashboard-gross">$104.99</dd>' in page
    assert '<dd id="dashboard-net">$87.39</dd>' in page
    assert '<dd id="dashboard-refunds">1 ($20.00), 1 pending, 1 failed</dd>' in page
    assert '<dd id="dashboard-super-follows">0, $0.00 a month</dd>' in page
    assert '<dd id="dashboard-payout">Ready to receive payouts</dd>' in page
    assert "<td>12.5% <span" in page
    assert "Not yours" not in page
    chart_json = page.split('<script id="earnings-chart-data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(chart_json)["months"] == ["2026-01", "2026-02", "2026-03"]
    assert "ticketing/vendor/chart.umd.min.js" in page
    assert "ticketing/earnings-chart.js" in page


def test_the_creator_page_takes_refunds_off_what_the_creator_earns_as_the_dashboard_does(client, creator, world):
    client.force_login(creator)
    page = client.get(reverse("ticketing:creator")).content.decode()

    # The ledger's $124.99 (fees $21.60, $103.39 earned) less the refunded $20 ticket and its $4 fee.
    refunds = page.split('<tr id="earnings-refunds">')[1].split("</tr>")[0]
    assert refunds == '<th scope="row">Refunds</th><td>1</td><td>−$20.00</td><td>−$4.00</td><td>−$16.00</td>'
    assert '<td id="earnings-gross">$104.99</td>' in page
    assert '<td id="earnings-net">$87.39</td>' in page  # the dashboard's "You earn"


def test_the_creator_page_links_to_the_dashboard(client, creator, world):
    client.force_login(creator)
    page = client.get(reverse("ticketing:creator")).content.decode()
    assert f'href="{reverse("ticketing:dashboard")}"' in page


def test_the_space_page_shows_each_tickets_refund_state(client, creator, world):
    client.force_login(creator)
    page = client.get(reverse("ticketing:dashboard_space", args=[world["jazz"].pk])).content.decode()
    states = {
        ticket.buyer.username: ticket.pk
        for ticket in Ticket.objects.filter(offer=world["offer"]).select_related("buyer")
    }
    assert f'<tr id="ticket-{states["charlie"]}" data-status="refunded">' in page
    assert f'<tr id="ticket-{states["dave"]}" data-status="refund_pending">' in page
    assert f'<tr id="ticket-{states["erin"]}" data-status="refund_failed">' in page
    assert "Refund pending" in page and "Refund failed" in page and "Card expired" in page
    assert '<dd id="space-net">$71.40</dd>' in page
    assert '<dd id="space-conversion">12.5% (5 purchases from 40 page views)</dd>' in page


def test_another_creators_space_is_not_found(client, creator, world, alice):
    other_space = Space.objects.get(title="Not yours")
    client.force_login(creator)
    assert client.get(reverse("ticketing:dashboard_space", args=[other_space.pk])).status_code == 404
    client.force_login(alice)
    assert client.get(reverse("ticketing:dashboard_space", args=[world["jazz"].pk])).status_code == 404


def test_the_csv_export_names_the_space_and_kind_of_each_sale(client, creator, world):
    client.force_login(creator)
    rows = list(csv.reader(io.StringIO(client.get(reverse("ticketing:sales_csv")).content.decode())))
    header, lines = rows[0], rows[1:]
    assert header == [
        "date", "kind", "space_id", "space", "buyer", "gross", "platform_fee", "net", "stripe_reference", "refunded"
    ]  # fmt: skip
    by_reference = {line[8]: line[1:8] for line in lines}
    refunded = {line[8]: line[9] for line in lines if line[9]}
    assert refunded == {f"cs_{world['offer'].pk}_charlie": MAR.isoformat()}  # its line stays: the sale was made
    jazz, free = str(world["jazz"].pk), str(world["free"].pk)
    assert by_reference[f"cs_{world['offer'].pk}_alice"] == ["ticket", jazz, "Jazz", "alice", "20.00", "0.60", "19.40"]
    assert by_reference[f"cs_{world['offer'].pk}_bob"] == ["ticket", jazz, "Jazz", "bob", "20.00", "4.00", "16.00"]
    assert by_reference[f"cs_tip_{world['free'].pk}_bob"] == ["tip", free, "Free chat", "bob", "10.00", "2.00", "8.00"]
    assert by_reference["in_sf"] == ["super_follow", "", "", "charlie", "9.99", "2.00", "7.99"]
    assert len(lines) == 8  # five tickets, two tips, one Super Follow; nothing of the other creator's


def test_the_dashboard_needs_a_login(client):
    response = client.get(reverse("ticketing:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
