"""What the creators' sales dashboard reads: per-Space figures, refunds and earnings over time.

Every figure is an aggregate in the database, so the page costs the same number of queries for one
Space or a thousand. Refunds are not ledger lines (a sale's gross is always positive): a refunded
ticket keeps its Sale, and the figures subtract what its seat hold charged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import User
from rooms.models import Space

from .models import CreatorProfile, Sale, Ticket, TicketOffer, Tip
from .selectors import SalesSummary, Totals, creator_profile_of, sales_summary_for

_SUMS = {
    "count": Count("pk"),
    "gross_cents": Sum("gross_cents"),
    "platform_fee_cents": Sum("platform_fee_cents"),
    "creator_net_cents": Sum("creator_net_cents"),
}
# What a refund gives back: the price to the buyer, taken from the creator's share and the platform's fee.
_REFUND_SUMS = {
    "count": Count("pk"),
    "gross_cents": Sum("hold__price_cents"),
    "platform_fee_cents": Sum("hold__application_fee_cents"),
}


@dataclass(frozen=True)
class Refunds:
    """Refunded tickets (money returned) and those still on their way or stuck."""

    count: int = 0
    gross_cents: int = 0
    platform_fee_cents: int = 0
    pending: int = 0
    failed: int = 0

    @property
    def creator_net_cents(self) -> int:
        return self.gross_cents - self.platform_fee_cents

    def __add__(self, other: Refunds) -> Refunds:
        return Refunds(
            count=self.count + other.count,
            gross_cents=self.gross_cents + other.gross_cents,
            platform_fee_cents=self.platform_fee_cents + other.platform_fee_cents,
            pending=self.pending + other.pending,
            failed=self.failed + other.failed,
        )


@dataclass
class SpaceFigures:
    space: Space
    offer: TicketOffer | None
    tickets: Totals = field(default_factory=Totals)
    tips: Totals = field(default_factory=Totals)
    refunds: Refunds = field(default_factory=Refunds)
    # Tickets ever bought, refunded or not: the numerator of the conversion rate.
    purchases: int = 0

    @property
    def sold(self) -> int:
        return self.offer.sold_count if self.offer else 0

    @property
    def left(self) -> int | None:
        return self.offer.left if self.offer else None

    @property
    def gross_cents(self) -> int:
        return self.tickets.gross_cents + self.tips.gross_cents - self.refunds.gross_cents

    @property
    def platform_fee_cents(self) -> int:
        return self.tickets.platform_fee_cents + self.tips.platform_fee_cents - self.refunds.platform_fee_cents

    @property
    def creator_net_cents(self) -> int:
        return self.tickets.creator_net_cents + self.tips.creator_net_cents - self.refunds.creator_net_cents

    @property
    def conversion(self) -> float | None:
        """Purchases per view of the ticket page; None before anyone looked."""
        if not self.offer or not self.offer.page_views:
            return None
        return self.purchases / self.offer.page_views


@dataclass
class Dashboard:
    profile: CreatorProfile | None
    summary: SalesSummary
    spaces: list[SpaceFigures]
    refunds: Refunds
    # Per month, the creator's net by kind and what refunds took back: the chart's data.
    chart: dict

    @property
    def creator_net_cents(self) -> int:
        return after_refunds(self.summary.total, self.refunds).creator_net_cents

    @property
    def gross_cents(self) -> int:
        return after_refunds(self.summary.total, self.refunds).gross_cents

    @property
    def platform_fee_cents(self) -> int:
        return after_refunds(self.summary.total, self.refunds).platform_fee_cents


def _totals(row: dict) -> Totals:
    return Totals(
        count=row["count"],
        gross_cents=row["gross_cents"] or 0,
        platform_fee_cents=row["platform_fee_cents"] or 0,
        creator_net_cents=row["creator_net_cents"] or 0,
    )


def _tickets_of(creator: User) -> QuerySet[Ticket]:
    return Ticket.objects.filter(offer__space__host=creator)


def _space_figures(*, creator: User, space_pk: int | None = None) -> list[SpaceFigures]:
    """Three queries: the Spaces with their offers, ledger sums per Space and kind, tickets per status."""
    sales = Sale.objects.filter(creator=creator, space__isnull=False)
    tickets = _tickets_of(creator)
    spaces = Space.objects.filter(
        Q(host=creator, ticket_offer__isnull=False) | Q(pk__in=sales.values("space"))
    ).select_related("ticket_offer")
    if space_pk is not None:
        spaces, sales, tickets = (
            spaces.filter(pk=space_pk),
            sales.filter(space_id=space_pk),
            tickets.filter(offer__space_id=space_pk),
        )
    figures = {
        space.pk: SpaceFigures(space=space, offer=getattr(space, "ticket_offer", None))
        for space in spaces.order_by("-created_at", "-pk")
    }
    for row in sales.values("space_id", "kind").annotate(**_SUMS).order_by():
        figure = figures.get(row.pop("space_id"))
        kind = row.pop("kind")
        if figure is not None and kind in (Sale.Kind.TICKET, Sale.Kind.TIP):
            setattr(figure, "tickets" if kind == Sale.Kind.TICKET else "tips", _totals(row))
    for row in tickets.values("offer__space_id", "status").annotate(**_REFUND_SUMS).order_by():
        figure = figures.get(row["offer__space_id"])
        if figure is None:
            continue
        figure.purchases += row["count"]
        figure.refunds += _refunds(row)
    return list(figures.values())


def refunds_of(*, creator: User) -> Refunds:
    """Every refund of the creator's tickets, made, on its way or stuck; one query."""
    total = Refunds()
    for row in _tickets_of(creator).values("status").annotate(**_REFUND_SUMS).order_by():
        total += _refunds(row)
    return total


def after_refunds(total: Totals, refunds: Refunds) -> Totals:
    """The ledger's totals less what refunds gave back (the count stays that of the sales)."""
    return Totals(
        count=total.count,
        gross_cents=total.gross_cents - refunds.gross_cents,
        platform_fee_cents=total.platform_fee_cents - refunds.platform_fee_cents,
        creator_net_cents=total.creator_net_cents - refunds.creator_net_cents,
    )


def _refunds(row: dict) -> Refunds:
    status, count = row["status"], row["count"]
    if status == Ticket.Status.REFUNDED:
        return Refunds(
            count=count, gross_cents=row["gross_cents"] or 0, platform_fee_cents=row["platform_fee_cents"] or 0
        )
    if status == Ticket.Status.REFUND_PENDING:
        return Refunds(pending=count)
    if status == Ticket.Status.REFUND_FAILED:
        return Refunds(failed=count)
    return Refunds()


def _chart(*, creator: User) -> dict:
    """Two queries: the ledger's net per month and kind, and refunds per month they were made."""
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for row in (
        Sale.objects.filter(creator=creator)
        .annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month", "kind")
        .annotate(net=Sum("creator_net_cents"))
        .order_by()
    ):
        series[row["kind"]][row["month"].strftime("%Y-%m")] = row["net"]
    for row in (
        _tickets_of(creator)
        .filter(status=Ticket.Status.REFUNDED, refunded_at__isnull=False)
        .annotate(month=TruncMonth("refunded_at", tzinfo=UTC))
        .values("month")
        .annotate(gross=Sum("hold__price_cents"), fee=Sum("hold__application_fee_cents"))
        .order_by()
    ):
        series["refunds"][row["month"].strftime("%Y-%m")] = -(row["gross"] - row["fee"])
    months = sorted({month for by_month in series.values() for month in by_month})
    labels = {**dict(Sale.Kind.choices), "refunds": "Refunds"}
    return {
        "months": months,
        "series": [
            {"key": key, "label": labels[key], "net_cents": [series[key].get(month, 0) for month in months]}
            for key in [*Sale.Kind.values, "refunds"]
            if key in series
        ],
    }


def dashboard_for(*, creator: User) -> Dashboard:
    """Everything on the dashboard in nine queries, however many Spaces and sales."""
    spaces = _space_figures(creator=creator)
    return Dashboard(
        profile=creator_profile_of(user=creator),
        summary=sales_summary_for(creator=creator),
        spaces=spaces,
        refunds=sum((figure.refunds for figure in spaces), Refunds()),
        chart=_chart(creator=creator),
    )


@dataclass
class SpaceDetail:
    figures: SpaceFigures
    tickets: list[Ticket]
    tips: list[Tip]


def space_detail_for(*, creator: User, space_pk: int) -> SpaceDetail | None:
    """One of the creator's Spaces with each ticket (and its refund's state) and each paid tip."""
    figures = _space_figures(creator=creator, space_pk=space_pk)
    if not figures:
        return None
    tickets = _tickets_of(creator).filter(offer__space_id=space_pk).select_related("buyer", "hold").order_by("pk")
    tips = Tip.objects.filter(host=creator, space_id=space_pk, status=Tip.Status.PAID).select_related("tipper")
    return SpaceDetail(figures=figures[0], tickets=list(tickets), tips=list(tips.order_by("paid_at", "pk")))
