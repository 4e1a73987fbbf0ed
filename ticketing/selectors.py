"""What the money side reads: who may earn, enrol or sell (and why not), a creator's page, Super Followers, tips."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_blocked_between, relationship_between
from rooms.access import can_join
from rooms.models import Space
from spaces_site.decisions import ALLOW, Decision

from .models import CreatorProfile, Sale, SeatHold, SuperFollowPlan, SuperFollowSubscription, Ticket, TicketOffer, Tip


def creator_profile_of(*, user: User) -> CreatorProfile | None:
    return CreatorProfile.objects.filter(user=user).first()


def may_earn(*, user: User, min_followers: int | None = None) -> Decision:
    """May `user` earn from an audience (followers and age)? Every reason when not."""
    reasons = []
    needed = settings.SUPER_FOLLOWS_MIN_FOLLOWERS if min_followers is None else min_followers
    if user.followers_count < needed:
        have = intcomma(user.followers_count)
        reasons.append(f"You need at least {intcomma(needed)} followers to earn on Spaces; you have {have}.")
    if user.date_of_birth is None:
        reasons.append("Add your date of birth to your profile: creators must be 18 or older.")
    elif not user.is_adult:
        reasons.append("Creators must be 18 or older.")
    return Decision.checklist(reasons)


def may_enrol_in_super_follows(*, user: User, profile: CreatorProfile | None) -> Decision:
    """May `user` enrol in Super Follows? Every reason when not, in the order they would fix them."""
    return Decision.checklist([*may_earn(user=user).reasons, *_payout_refusals(profile)])


def _payout_refusals(profile: CreatorProfile | None) -> list[str]:
    if profile is None or not profile.stripe_account_id:
        return ["Connect a payout account with Stripe."]
    if not profile.payout_ready:
        return [f"Your payout account isn't ready yet: {profile.payout_state_label.lower()}."]
    return []


# --- Ticketed Spaces ---


def may_sell_tickets(*, user: User, profile: CreatorProfile | None) -> Decision:
    """May `user` sell tickets for their Spaces? Every reason when not."""
    reasons = list(may_earn(user=user, min_followers=settings.TICKETED_SPACES_MIN_FOLLOWERS).reasons)
    if profile is None or not profile.super_follows_enrolled:
        reasons.append("Enrol in Super Follows on your creator page first.")
    return Decision.checklist(reasons + _payout_refusals(profile))


@dataclass
class TicketPage:
    space: Space
    offer: TicketOffer | None
    # The viewer's ticket (any status) and their open checkout, if any.
    ticket: Ticket | None
    hold: SeatHold | None
    is_host: bool
    sales_closed_reason: str
    seller_refusals: list[str] = field(default_factory=list)
    # For the host: how many tickets are in each status (refunds pending, done, failed).
    ticket_statuses: dict[str, int] = field(default_factory=dict)
    # Why the viewer may not buy across a block (ticketing.tickets refuses the purchase), instead of a Buy button.
    block_refusal: str = ""


def _block_refusal(*, space: Space, viewer: User) -> str:
    relationship = relationship_between(viewer=viewer, other=space.host)
    if relationship.blocked_by:
        return "The host has blocked you, so you can't buy a ticket."
    if relationship.blocking:
        return f"You blocked @{space.host.username}; unblock them to buy a ticket."
    return ""


def ticket_sales_open(*, space: Space, now: datetime | None = None) -> Decision:
    """May tickets for `space` still be bought (and refunds asked for)? The reason when not."""
    now = now or timezone.now()
    if space.state == Space.State.CANCELLED:
        return Decision(False, "This Space was cancelled.")
    if space.state == Space.State.ENDED:
        return Decision(False, "This Space has ended.")
    if space.state == Space.State.LIVE or space.scheduled_for is None or space.scheduled_for <= now:
        return Decision(False, "Ticket sales have closed: the Space has started.")
    return ALLOW


def ticket_page_for(*, space: Space, viewer: User) -> TicketPage:
    offer = TicketOffer.objects.filter(space=space).first()
    ticket = hold = None
    if offer is not None:
        ticket = Ticket.objects.filter(offer=offer, buyer=viewer).order_by("-created_at").first()
        hold = SeatHold.objects.filter(offer=offer, buyer=viewer, status=SeatHold.Status.HELD).first()
    is_host = space.host_id == viewer.pk
    refusals, statuses = [], {}
    if is_host and offer is None:
        refusals = list(may_sell_tickets(user=viewer, profile=creator_profile_of(user=viewer)).reasons)
    if is_host and offer is not None:
        rows = Ticket.objects.filter(offer=offer).values("status").annotate(n=Count("pk")).order_by("status")
        statuses = {Ticket.Status(row["status"]).label: row["n"] for row in rows}
    return TicketPage(
        space=space,
        offer=offer,
        ticket=ticket,
        hold=hold,
        is_host=is_host,
        sales_closed_reason=ticket_sales_open(space=space).reason,
        seller_refusals=refusals,
        ticket_statuses=statuses,
        block_refusal="" if is_host or offer is None else _block_refusal(space=space, viewer=viewer),
    )


def seat_hold_for_buyer(*, buyer: User, session_id: str) -> SeatHold | None:
    """The buyer's own hold started by this Checkout Session, for the status page."""
    if not session_id:
        return None
    return (
        SeatHold.objects.filter(buyer=buyer, stripe_checkout_session_id=session_id)
        .select_related("offer__space", "ticket")
        .first()
    )


@dataclass(frozen=True)
class Totals:
    count: int = 0
    gross_cents: int = 0
    platform_fee_cents: int = 0
    creator_net_cents: int = 0


@dataclass
class SalesSummary:
    by_kind: dict[str, Totals]
    total: Totals
    months: list[dict]
    live_super_followers: int
    super_follows_monthly_cents: int


def sales_summary_for(*, creator: User) -> SalesSummary:
    """The creator's earnings from the ledger: per kind, per month, and Super Follows now. Three queries."""
    sales = Sale.objects.filter(creator=creator)
    sums = {
        "count": Count("pk"),
        "gross_cents": Sum("gross_cents"),
        "platform_fee_cents": Sum("platform_fee_cents"),
        "creator_net_cents": Sum("creator_net_cents"),
    }
    by_kind = {row.pop("kind"): Totals(**row) for row in sales.values("kind").annotate(**sums).order_by("kind")}
    total = Totals(
        count=sum(t.count for t in by_kind.values()),
        gross_cents=sum(t.gross_cents for t in by_kind.values()),
        platform_fee_cents=sum(t.platform_fee_cents for t in by_kind.values()),
        creator_net_cents=sum(t.creator_net_cents for t in by_kind.values()),
    )
    months = [
        {
            "month": row["month"].strftime("%Y-%m"),
            "gross_cents": row["gross_cents"],
            "platform_fee_cents": row["platform_fee_cents"],
            "creator_net_cents": row["creator_net_cents"],
        }
        for row in sales.annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("month")
        .annotate(**{k: v for k, v in sums.items() if k != "count"})
        .order_by("month")
    ]
    live = SuperFollowSubscription.objects.filter(creator=creator, status__in=SuperFollowSubscription.LIVE).aggregate(
        count=Count("pk"), monthly=Sum("price_cents")
    )
    return SalesSummary(
        by_kind=by_kind,
        total=total,
        months=months,
        live_super_followers=live["count"],
        super_follows_monthly_cents=live["monthly"] or 0,
    )


@dataclass
class CreatorPage:
    profile: CreatorProfile | None
    audience_refusals: list[str]
    enrol_refusals: list[str]
    plans: list[SuperFollowPlan] = field(default_factory=list)
    missing_prices: list[int] = field(default_factory=list)
    summary: SalesSummary | None = None


def creator_page_for(*, user: User) -> CreatorPage:
    profile = creator_profile_of(user=user)
    plans = list(SuperFollowPlan.objects.filter(creator=user).order_by("price_cents"))
    offered = {plan.price_cents for plan in plans}
    return CreatorPage(
        profile=profile,
        audience_refusals=list(may_earn(user=user).reasons),
        enrol_refusals=list(may_enrol_in_super_follows(user=user, profile=profile).reasons),
        plans=plans,
        missing_prices=[price for price in settings.SUPER_FOLLOWS_PRICES_CENTS if price not in offered],
        summary=sales_summary_for(creator=user) if profile is not None else None,
    )


def live_super_follow(*, subscriber: User, creator: User) -> SuperFollowSubscription | None:
    if not subscriber.is_authenticated:
        return None
    return (
        SuperFollowSubscription.objects.filter(
            subscriber=subscriber, creator=creator, status__in=SuperFollowSubscription.LIVE
        )
        .select_related("plan")
        .first()
    )


def live_super_follows_of(*, subscriber: User):
    return SuperFollowSubscription.objects.filter(
        subscriber=subscriber, status__in=SuperFollowSubscription.LIVE
    ).select_related("creator")


def super_followed_creator_ids(*, subscriber: User) -> QuerySet:
    """The creators `subscriber` super-follows now, as ids for a subquery (who reads which posts)."""
    return SuperFollowSubscription.objects.filter(
        subscriber=subscriber, status__in=SuperFollowSubscription.LIVE
    ).values("creator_id")


def super_follower_ids_among(*, creator: User, user_ids: Iterable[int]) -> set[int]:
    """Which of these people super-follow `creator` now: one query for a whole page of names."""
    user_ids = {pk for pk in user_ids if pk is not None and pk != creator.pk}
    if not user_ids:
        return set()
    return set(
        SuperFollowSubscription.objects.filter(
            creator=creator, status__in=SuperFollowSubscription.LIVE, subscriber_id__in=user_ids
        ).values_list("subscriber_id", flat=True)
    )


def super_follower_ids_of(*, creator: User) -> list[int]:
    """Everyone who super-follows `creator` now (a host's room marks them as they come and go)."""
    return list(
        SuperFollowSubscription.objects.filter(creator=creator, status__in=SuperFollowSubscription.LIVE).values_list(
            "subscriber_id", flat=True
        )
    )


def is_super_follows_enrolled(*, user: User) -> bool:
    return CreatorProfile.objects.filter(user=user, super_follows_enrolled_at__isnull=False).exists()


def is_super_follower(*, subscriber: User, creator: User) -> bool:
    """The check rooms.access and subscriber-only posts plug into."""
    return live_super_follow(subscriber=subscriber, creator=creator) is not None


@dataclass
class SuperFollowOffer:
    creator: User
    plans: list[SuperFollowPlan]
    subscription: SuperFollowSubscription | None
    can_subscribe: bool


def super_follow_offer_for(*, viewer: User, creator: User) -> SuperFollowOffer:
    """What a creator's profile shows a visitor: the plans on sale, or the visitor's live Super Follow."""
    plans = list(
        SuperFollowPlan.objects.filter(
            creator=creator,
            active=True,
            creator__creator_profile__super_follows_enrolled_at__isnull=False,
            creator__creator_profile__charges_enabled=True,
            creator__creator_profile__payouts_enabled=True,
        ).order_by("price_cents")
    )
    subscription = live_super_follow(subscriber=viewer, creator=creator)
    can_subscribe = (
        bool(plans)
        and viewer.is_authenticated
        and viewer.pk != creator.pk
        and subscription is None
        and not is_blocked_between(viewer, creator)
    )
    return SuperFollowOffer(creator=creator, plans=plans, subscription=subscription, can_subscribe=can_subscribe)


def super_follow_for_checkout(*, subscriber: User, session_id: str) -> SuperFollowSubscription | None:
    """The subscriber's own Super Follow started by this Checkout Session, for the status page."""
    return (
        SuperFollowSubscription.objects.filter(subscriber=subscriber, stripe_checkout_session_id=session_id)
        .select_related("creator", "plan")
        .first()
    )


@dataclass(frozen=True)
class Purchases:
    """What one person has paid for, newest first, each list at most PURCHASES_SHOWN long."""

    tickets: list[Ticket]
    super_follows: list[SuperFollowSubscription]
    tips: list[Tip]

    def __bool__(self) -> bool:
        return bool(self.tickets or self.super_follows or self.tips)


PURCHASES_SHOWN = 100


def purchases_of(*, buyer: User) -> Purchases:
    """The buyer's tickets (refunded ones too), Super Follows (but checkouts never paid) and paid tips."""
    unpaid = [SuperFollowSubscription.Status.PENDING, SuperFollowSubscription.Status.EXPIRED]
    return Purchases(
        tickets=list(
            Ticket.objects.filter(buyer=buyer)
            .select_related("hold", "offer__space__host")
            .order_by("-created_at", "-pk")[:PURCHASES_SHOWN]
        ),
        super_follows=list(
            SuperFollowSubscription.objects.filter(subscriber=buyer)
            .exclude(status__in=unpaid)
            .select_related("creator")
            .order_by("-created_at", "-pk")[:PURCHASES_SHOWN]
        ),
        tips=list(
            Tip.objects.filter(tipper=buyer, status=Tip.Status.PAID)
            .select_related("host", "space")
            .order_by("-paid_at", "-pk")[:PURCHASES_SHOWN]
        ),
    )


def sales_ledger_for(*, creator: User) -> QuerySet[Sale]:
    """The creator's ledger lines, each ticket's with `refunded_at` when it was refunded (its line stays)."""
    refunded = Ticket.objects.filter(
        hold__stripe_checkout_session_id=OuterRef("stripe_reference"), status=Ticket.Status.REFUNDED
    ).values("refunded_at")[:1]
    return (
        Sale.objects.filter(creator=creator)
        .annotate(refunded_at=Subquery(refunded))
        .select_related("buyer", "space")
        .order_by("created_at", "pk")
    )


# --- Tips ------------------------------------------------------------------------------------------


def may_tip(*, space: Space, tipper: User, may_join: Decision | None = None) -> Decision:
    """May `tipper` tip this Space's host now? The reason when not. `may_join` is `can_join` for them, when the
    caller has it (the room page does: a rush of followers then asks it once each)."""
    host = space.host
    if not tipper.is_authenticated:
        return Decision(False, "Log in to send a tip.")
    if space.state != Space.State.LIVE:
        return Decision(False, "Tips can only be sent while a Space is live.")
    if tipper.pk == host.pk:
        return Decision(False, "You can't tip yourself.")
    if is_blocked_between(tipper, host):
        return Decision(False, f"You can't tip @{host.username}.")
    decision = can_join(space=space, user=tipper) if may_join is None else may_join
    if not decision:
        return Decision(False, decision.reason)
    profile = creator_profile_of(user=host)
    if profile is None or not profile.payout_ready:
        return Decision(False, f"@{host.username} can't receive tips yet: their payout account isn't ready.")
    return ALLOW


def tip_for_checkout(*, tipper: User, session_id: str) -> Tip | None:
    """The tipper's own tip started by this Checkout Session, for the status page."""
    if not session_id:
        return None
    return (
        Tip.objects.filter(tipper=tipper, stripe_checkout_session_id=session_id).select_related("space", "host").first()
    )


def tickets_to_refund(*, space: Space) -> Totals:
    """The valid tickets of a Space and what they were paid: what cancelling it gives back."""
    row = Ticket.objects.filter(offer__space=space, status=Ticket.Status.VALID).aggregate(
        count=Count("pk"), gross_cents=Sum("hold__price_cents")
    )
    return Totals(count=row["count"], gross_cents=row["gross_cents"] or 0)
