"""Ticketed Spaces: offers, seats held during Stripe Checkout, tickets, admission and refunds.

The design (never oversell, each event applied once, refunds idempotent) is in ticketing/NOTES.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.urls import reverse
from django.utils import dateformat, timezone

from accounts.models import Notification, User
from accounts.notifications import notification_create, notification_create_many
from accounts.selectors import is_blocked_between
from accounts.timezones import zone_named
from rooms import access
from rooms import services as room_services
from rooms.models import Space
from spaces_site import ratelimit
from spaces_site.decisions import ALLOW, Decision

from . import stripe_gateway
from .checkout import checkout_open
from .fees import platform_fee_for
from .ledger import refund_record, sale_record
from .models import Sale, SeatHold, Ticket, TicketOffer
from .money import format_cents
from .selectors import creator_profile_of, may_sell_tickets, ticket_sales_open
from .tasks import expire_checkout_sessions as expire_checkout_sessions_task
from .tasks import refund_ticket as refund_ticket_task
from .tasks import refund_unseated_payment as refund_unseated_payment_task

logger = logging.getLogger(__name__)

SOLD_OUT = "Sold out."
# Statuses of a ticket that still has the buyer's money and may turn into a refund.
_REFUNDABLE = (Ticket.Status.VALID, Ticket.Status.REFUND_PENDING, Ticket.Status.REFUND_FAILED)


def ticket_page_url(space_id: int) -> str:
    return reverse("ticketing:space_tickets", kwargs={"space_id": space_id})


# --- Offers ----------------------------------------------------------------------------------------


def ticket_price_range_text() -> str:
    low, high = settings.TICKET_PRICE_MIN_CENTS, settings.TICKET_PRICE_MAX_CENTS
    return f"A ticket costs between {format_cents(low)} and {format_cents(high)}."


def ticket_price_errors(price_cents: int) -> list[str]:
    if not settings.TICKET_PRICE_MIN_CENTS <= price_cents <= settings.TICKET_PRICE_MAX_CENTS:
        return [ticket_price_range_text()]
    return []


def ticket_quantity_errors(quantity: int) -> list[str]:
    return [] if quantity > 0 else ["Offer at least one ticket."]


@transaction.atomic
def ticket_offer_create(*, space: Space, by: User, price_cents: int, quantity: int) -> TicketOffer:
    """Put tickets for a scheduled Space on sale; the Space becomes open to ticket holders only."""
    space = Space.objects.select_for_update().get(pk=space.pk)
    if space.host_id != by.pk:
        raise PermissionDenied("Only the host can sell tickets for this Space.")
    if space.state != Space.State.SCHEDULED or not ticket_sales_open(space=space):
        raise ValidationError("Tickets can only be sold for a scheduled Space that hasn't started.")
    if space.audience == Space.Audience.SUPER_FOLLOWERS:
        raise ValidationError("This Space is for your Super Followers; it can't also sell tickets.")
    seller = may_sell_tickets(user=by, profile=creator_profile_of(user=by))
    errors = [*seller.reasons, *ticket_price_errors(price_cents), *ticket_quantity_errors(quantity)]
    if errors:
        raise ValidationError(errors)
    if TicketOffer.objects.filter(space=space).exists():
        raise ValidationError("Tickets for this Space are already on sale.")
    offer = TicketOffer.objects.create(space=space, price_cents=price_cents, quantity=quantity)
    if space.audience != Space.Audience.TICKETED:
        Space.objects.filter(pk=space.pk).update(audience=Space.Audience.TICKETED)
    return offer


def ticket_offer_page_viewed(*, offer: TicketOffer, viewer: User) -> None:
    """Count a view by someone who might buy: the dashboard's conversion denominator."""
    if viewer.pk == offer.space.host_id or Ticket.objects.filter(offer=offer, buyer=viewer).exists():
        return
    # One view per person per day, however often they reload (the mark is shared by every server process).
    if not ratelimit.first_time("ticket-view", offer.pk, viewer.pk, timezone.localdate(), seconds=86_400):
        return
    TicketOffer.objects.filter(pk=offer.pk).update(page_views=F("page_views") + 1)


# --- Buying: hold a seat, then Checkout ------------------------------------------------------------


def _sales_open(now: datetime) -> Exists:
    # A correlated EXISTS keeps the UPDATE on the offer's row alone, so PostgreSQL re-checks the seat
    # count against the newest row version after waiting for the lock (a join would become a subquery).
    return Exists(Space.objects.filter(pk=OuterRef("space_id"), state=Space.State.SCHEDULED, scheduled_for__gt=now))


def _seat_free() -> dict[str, Any]:
    return {"held_count__lt": F("quantity") - F("sold_count")}


def _why_not_held(offer: TicketOffer, now: datetime) -> str:
    space = Space.objects.get(pk=offer.space_id)
    return ticket_sales_open(space=space, now=now).reason or SOLD_OUT


def _already_bought(offer: TicketOffer, buyer: User) -> str:
    hold = SeatHold.objects.filter(offer=offer, buyer=buyer, status__in=["held", "paid"]).first()
    if hold is not None and hold.status == SeatHold.Status.HELD:
        # In the reader's zone, named as the ticket page names it ("22:17 EST"), not a local time called UTC.
        until = dateformat.format(timezone.localtime(hold.expires_at), "H:i T")
        return f"You already have a checkout open for this Space: finish it, or start again after {until}."
    return "You already have a ticket for this Space."


def ticket_purchase_start(*, offer: TicketOffer, buyer: User, success_url: str, cancel_url: str) -> SeatHold:
    """Hold a seat and open a Stripe Checkout for it; the seat is the buyer's once Stripe says it is paid.

    The seat is taken by one conditional UPDATE (NOTES.md "Never oversell"); Stripe is called after
    that transaction commits, never while the offer's row is locked.
    """
    space = offer.space
    if buyer.pk == space.host_id:
        raise ValidationError("You're the host of this Space.")
    if is_blocked_between(buyer, space.host):
        raise ValidationError("You can't buy a ticket for this Space.")
    profile = creator_profile_of(user=space.host)
    if profile is None or not profile.payout_ready or not profile.stripe_account_id:
        raise ValidationError("The host can't take payments right now.")
    account_id = profile.stripe_account_id
    now = timezone.now()
    fee = platform_fee_for(creator=profile, gross_cents=offer.price_cents).platform_fee_cents
    expires_at = now + timedelta(minutes=settings.STRIPE_CHECKOUT_MINUTES)
    try:
        with transaction.atomic():
            taken = (
                TicketOffer.objects.filter(pk=offer.pk, **_seat_free())
                .filter(_sales_open(now))
                .update(held_count=F("held_count") + 1)
            )
            if not taken:
                raise ValidationError(_why_not_held(offer, now))
            hold = SeatHold.objects.create(
                offer=offer,
                buyer=buyer,
                price_cents=offer.price_cents,
                application_fee_cents=fee,
                expires_at=expires_at,
            )
    except IntegrityError:
        # The partial unique index: one held or paid seat per buyer (the +1 above rolled back with it).
        raise ValidationError(_already_bought(offer, buyer)) from None

    def open_session(pending: SeatHold) -> stripe_gateway.CheckoutSession:
        return stripe_gateway.checkout_payment_create(
            connected_account_id=account_id,
            amount_cents=pending.price_cents,
            application_fee_cents=fee,
            product_name=f"Ticket: {space.title}",
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            metadata={"seat_hold": str(pending.reference)},
            idempotency_key=f"seat-hold-{pending.reference}",
            customer_email=buyer.email or None,
        )

    checkout_open(pending=hold, open_session=open_session, undo=lambda row: seat_hold_release(hold=row), keep_url=True)
    return hold


@transaction.atomic
def seat_hold_release(*, hold: SeatHold) -> bool:
    """Give a held seat back; False when it was already paid or released (applied once)."""
    if not SeatHold.objects.filter(pk=hold.pk, status=SeatHold.Status.HELD).update(status=SeatHold.Status.RELEASED):
        return False
    TicketOffer.objects.filter(pk=hold.offer_id).update(held_count=F("held_count") - 1)
    return True


def seat_holds_release_expired(*, now: datetime | None = None) -> int:
    """The sweep: expire each overdue session at Stripe first, so a released seat can never be paid."""
    now = now or timezone.now()
    released = 0
    for hold in SeatHold.objects.filter(status=SeatHold.Status.HELD, expires_at__lte=now):
        if hold.stripe_checkout_session_id:
            try:
                status = stripe_gateway.checkout_session_expire(session_id=hold.stripe_checkout_session_id)
            except stripe_gateway.PaymentProviderError as exc:
                logger.warning("Could not expire %s: %s", hold.stripe_checkout_session_id, exc)
                continue
            if status != "expired":
                continue  # paid (or paying): its webhook decides
        released += seat_hold_release(hold=hold)
    return released


# --- Fulfilment from Stripe's verified events ------------------------------------------------------


def _hold_for(session: dict[str, Any]) -> SeatHold | None:
    reference = (session.get("metadata") or {}).get("seat_hold") or ""
    try:
        hold = SeatHold.objects.select_related("offer__space__host", "buyer").filter(reference=reference).first()
    except ValidationError:
        hold = None
    if hold is None:
        logger.warning("Checkout Session %s matches no seat hold (%r)", session.get("id"), reference)
    return hold


def seat_hold_checkout_completed(session: dict[str, Any]) -> None:
    """`checkout.session.completed` / `async_payment_succeeded` for a ticket: the seat becomes a ticket."""
    if session.get("payment_status") != "paid":
        return  # a delayed payment method: async_payment_succeeded or _failed follows
    hold = _hold_for(session)
    if hold is None:
        return
    if SeatHold.objects.filter(pk=hold.pk, status=SeatHold.Status.HELD).update(status=SeatHold.Status.PAID):
        TicketOffer.objects.filter(pk=hold.offer_id).update(
            held_count=F("held_count") - 1, sold_count=F("sold_count") + 1
        )
    elif not _late_payment_seated(hold, session.get("payment_intent") or ""):
        return
    _ticket_issue(hold, session)


def _late_payment_seated(hold: SeatHold, payment_intent: str) -> bool:
    """A payment for a seat already released (or already paid): take a free seat again, else refund."""
    hold.refresh_from_db(fields=["status"])
    if hold.status == SeatHold.Status.PAID:
        return False  # this payment was fulfilled by an earlier event
    seated = False
    if not hold.offer.space.is_over:
        try:
            with transaction.atomic():
                seated = bool(
                    TicketOffer.objects.filter(pk=hold.offer_id, **_seat_free()).update(sold_count=F("sold_count") + 1)
                ) and bool(
                    SeatHold.objects.filter(pk=hold.pk, status=SeatHold.Status.RELEASED).update(
                        status=SeatHold.Status.PAID
                    )
                )
                if not seated:
                    transaction.set_rollback(True)
        except IntegrityError:
            seated = False  # the buyer has bought another seat meanwhile (one per buyer)
    if not seated:
        transaction.on_commit(lambda: refund_unseated_payment_task.delay(hold.pk, payment_intent), robust=True)
    return seated


def _ticket_issue(hold: SeatHold, session: dict[str, Any]) -> Ticket:
    space = hold.offer.space
    ticket = Ticket.objects.create(
        hold=hold, offer=hold.offer, buyer=hold.buyer, payment_intent_id=session.get("payment_intent") or session["id"]
    )
    sale_record(
        creator=space.host,
        kind=Sale.Kind.TICKET,
        gross_cents=hold.price_cents,
        stripe_reference=session["id"],
        buyer=hold.buyer,
        space=space,
        platform_fee_cents=hold.application_fee_cents,
    )
    if space.state == Space.State.SCHEDULED:
        room_services.reminder_set(space=space, user=hold.buyer)
    notification_create(
        recipient=hold.buyer,
        actor=space.host,
        kind=Notification.Kind.TICKET,
        text=f"Your ticket for “{space.title}” is confirmed.",
        url=ticket_page_url(space.pk),
    )
    if space.is_over:
        _refunds_start(Ticket.objects.filter(pk=ticket.pk))
    return ticket


def seat_hold_checkout_ended(session: dict[str, Any]) -> None:
    """`checkout.session.expired` / `async_payment_failed`: the seat goes back on sale."""
    hold = _hold_for(session)
    if hold is not None:
        seat_hold_release(hold=hold)


def ticket_charge_refunded(charge: dict[str, Any]) -> None:
    """`charge.refunded`: confirms our refunds and covers those made in Stripe's dashboard."""
    if not charge.get("refunded"):
        return  # partly refunded: not a refund this project makes
    ticket = Ticket.objects.select_for_update().filter(payment_intent_id=charge.get("payment_intent")).first()
    if ticket is None:
        return
    refunds = (charge.get("refunds") or {}).get("data") or []
    _ticket_refunded(ticket, refunds[0].get("id", "") if refunds else "")


# --- Refunds ---------------------------------------------------------------------------------------


def _refund_later(ticket_id: int) -> Callable[[], object]:
    return lambda: refund_ticket_task.delay(ticket_id)


def _refunds_start(tickets: QuerySet[Ticket]) -> list[int]:
    """Move valid tickets to refund_pending and queue one refund task for each, after commit."""
    ids = list(tickets.select_for_update().filter(status=Ticket.Status.VALID).values_list("pk", flat=True))
    Ticket.objects.filter(pk__in=ids).update(status=Ticket.Status.REFUND_PENDING)
    for ticket_id in ids:
        # Robust: a refund that can't be queued (or, run in-process, fails) must not fail the cancel
        # that already committed; the ticket stays refund_pending and the beat sweep requeues it.
        transaction.on_commit(_refund_later(ticket_id), robust=True)
    return ids


def tickets_refund_all(*, space: Space) -> list[int]:
    """A cancelled Space: refund every ticket and close every open checkout. Runs in the cancel's transaction."""
    ids = _refunds_start(Ticket.objects.filter(offer__space=space))
    holds = list(SeatHold.objects.filter(offer__space=space, status=SeatHold.Status.HELD))
    for hold in holds:
        seat_hold_release(hold=hold)
    sessions = [hold.stripe_checkout_session_id for hold in holds if hold.stripe_checkout_session_id]
    if sessions:
        transaction.on_commit(lambda: expire_checkout_sessions_task.delay(sessions), robust=True)
    return ids


def checkout_sessions_expire(*, session_ids: list[str]) -> int:
    """Close the checkouts of a cancelled Space at Stripe; expiring a closed session is a no-op."""
    for session_id in session_ids:
        stripe_gateway.checkout_session_expire(session_id=session_id)
    return len(session_ids)


def ticket_refunds_requeue() -> int:
    """Queue again each refund whose task message was lost; a refund is safe to run twice."""
    pending = Ticket.objects.filter(status=Ticket.Status.REFUND_PENDING).values_list("pk", flat=True)
    count = 0
    for ticket_id in pending:
        refund_ticket_task.delay(ticket_id)
        count += 1
    return count


@transaction.atomic
def ticket_refund_request(*, ticket: Ticket, by: User) -> Ticket:
    """A buyer asks for their money back (offered when a Space is rescheduled); only before it starts."""
    ticket = Ticket.objects.select_for_update().select_related("offer__space").get(pk=ticket.pk)
    if ticket.buyer_id != by.pk:
        raise PermissionDenied("Only the buyer can ask for a refund of this ticket.")
    sales = ticket_sales_open(space=ticket.offer.space)
    if not sales:
        raise ValidationError(f"Refunds can be asked for only before the Space starts. {sales.reason}")
    if ticket.status != Ticket.Status.VALID:
        raise ValidationError(f"This ticket is already {ticket.get_status_display().lower()}.")
    _refunds_start(Ticket.objects.filter(pk=ticket.pk))
    ticket.status = Ticket.Status.REFUND_PENDING
    return ticket


def ticket_refund_apply(*, ticket_id: int, final_attempt: bool = False) -> str:
    """The refund task's work, idempotent three ways (NOTES.md "Refunds"). Returns the ticket's status.

    A Stripe error is raised for the task to retry, except on the final attempt, which records it
    as refund_failed for the creator to see.
    """
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().select_related("offer__space__host").get(pk=ticket_id)
        if ticket.status != Ticket.Status.REFUND_PENDING:
            return ticket.status
        try:
            refund = stripe_gateway.refund_create(
                payment_intent_id=ticket.payment_intent_id,
                idempotency_key=f"refund-ticket-{ticket.pk}",
                metadata={"ticket": str(ticket.pk)},
            )
            refund_id = refund.id
        except stripe_gateway.ChargeAlreadyRefunded:
            refund_id = ticket.refund_id
        except stripe_gateway.PaymentProviderError as exc:
            if not final_attempt:
                raise
            Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_FAILED, refund_error=str(exc))
            return Ticket.Status.REFUND_FAILED
        _ticket_refunded(ticket, refund_id)
    return Ticket.Status.REFUNDED


def _ticket_refunded(ticket: Ticket, refund_id: str) -> None:
    """Whichever of the task and the webhook gets here first frees the seat and lowers the earnings, once."""
    changed = Ticket.objects.filter(pk=ticket.pk, status__in=_REFUNDABLE).update(
        status=Ticket.Status.REFUNDED,
        refund_id=refund_id or ticket.refund_id,
        refund_error="",
        refunded_at=timezone.now(),
    )
    if not changed:
        return
    hold = SeatHold.objects.select_related("offer__space__host").get(pk=ticket.hold_id)
    space = hold.offer.space
    TicketOffer.objects.filter(pk=hold.offer_id).update(sold_count=F("sold_count") - 1)
    refund_record(creator=space.host, gross_cents=hold.price_cents)
    notification_create(
        recipient=ticket.buyer,
        kind=Notification.Kind.TICKET,
        text=f"Your {format_cents(hold.price_cents)} ticket for “{space.title}” was refunded.",
        url=ticket_page_url(space.pk),
    )


def unseated_payment_refund(*, hold_id: int, payment_intent_id: str, final_attempt: bool = False) -> bool:
    """Refund a payment that found no seat, with the same idempotency as a ticket's refund."""
    hold = SeatHold.objects.select_related("offer__space", "buyer").get(pk=hold_id)
    try:
        stripe_gateway.refund_create(
            payment_intent_id=payment_intent_id, idempotency_key=f"refund-unseated-{hold.reference}"
        )
    except stripe_gateway.ChargeAlreadyRefunded:
        return True
    except stripe_gateway.PaymentProviderError:
        if not final_attempt:
            raise
        logger.exception("Refund of the unseated payment %s (hold %s) failed", payment_intent_id, hold.reference)
        return False
    notification_create(
        recipient=hold.buyer,
        kind=Notification.Kind.TICKET,
        text=f"“{hold.offer.space.title}” had no seat left for your payment, so it was refunded in full.",
        url=ticket_page_url(hold.offer.space_id),
    )
    return True


# --- Rooms' lifecycle and admission ------------------------------------------------------------------


def tickets_notify_rescheduled(*, space: Space, previous_time: datetime | None) -> int:
    """Tell each ticket holder the new time in their own zone ("Friday 4 December 2026, 20:00 EST"), UTC for
    those whose zone is not known: the host's zone, active while they edit, is not theirs."""
    if space.scheduled_for is None:
        return 0
    holders = User.objects.filter(tickets__offer__space=space, tickets__status=Ticket.Status.VALID)
    by_zone: dict[str, list[int]] = defaultdict(list)
    for user_id, zone_name in holders.values_list("pk", "time_zone"):
        by_zone[zone_name if zone_named(zone_name) else "UTC"].append(user_id)
    notified = 0
    for zone_name, buyers in by_zone.items():
        when = dateformat.format(space.scheduled_for.astimezone(ZoneInfo(zone_name)), "l j F Y, H:i T")
        notified += notification_create_many(
            recipient_ids=buyers,
            actor=space.host,
            kind=Notification.Kind.TICKET,
            text=f"“{space.title}” moved to {when}. Your ticket stays valid; if the new time doesn't suit you, "
            "you can ask for a refund.",
            url=ticket_page_url(space.pk),
        )
    return notified


def ticket_admission(space: Space, user: User) -> Decision:
    """Who may open a ticketed Space besides the host: ticket holders, co-hosts and invited speakers."""
    if access.invited_or_speaking(space=space, user=user):
        return ALLOW
    if Ticket.objects.filter(offer__space=space, buyer=user, status=Ticket.Status.VALID).exists():
        return ALLOW
    url = ticket_page_url(space.pk)
    return Decision(False, f"Only ticket holders can join this Space. Tickets: {url}", url=url)
