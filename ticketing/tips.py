"""Tips: a listener pays the host of a live Space; Stripe's webhook is the only thing that marks one paid."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.events import push_to_user
from accounts.models import Notification, User
from accounts.notifications import notification_create
from rooms.events import broadcast
from rooms.models import Space

from . import stripe_gateway
from .checkout import checkout_open
from .fees import platform_fee_for
from .ledger import sale_record
from .models import CreatorProfile, Sale, Tip
from .money import format_cents
from .selectors import may_tip

logger = logging.getLogger(__name__)


def tip_range_text() -> str:
    return f"Between {format_cents(settings.TIP_MIN_CENTS)} and {format_cents(settings.TIP_MAX_CENTS)}."


def tip_out_of_range_text() -> str:
    return f"A tip is between {format_cents(settings.TIP_MIN_CENTS)} and {format_cents(settings.TIP_MAX_CENTS)}."


def tip_amount_error(amount_cents: int) -> str | None:
    if not settings.TIP_MIN_CENTS <= amount_cents <= settings.TIP_MAX_CENTS:
        return tip_out_of_range_text()
    return None


def tip_start(
    *, space: Space, tipper: User, amount_cents: int, announce: bool, success_url: str, cancel_url: str
) -> tuple[Tip, str]:
    """Open a Stripe Checkout for a tip to the Space's host; returns the pending tip and Stripe's page URL.

    The pending row is committed before Stripe is called (checkout.py), so the webhook always finds it.
    """
    amount_error = tip_amount_error(amount_cents)
    if amount_error:
        raise ValidationError({"amount": amount_error})
    decision = may_tip(space=space, tipper=tipper)
    if not decision:
        raise ValidationError(decision.reason)
    host = space.host
    # Fresh from the database: the fee depends on the lifetime earnings as they are now.
    profile = CreatorProfile.objects.get(user=host)
    account_id = profile.stripe_account_id
    if not account_id:  # may_tip saw a ready payout account; it may have been closed since
        raise ValidationError(f"@{host.username} can't receive tips right now.")
    tip = Tip.objects.create(
        space=space,
        tipper=tipper,
        host=host,
        amount_cents=amount_cents,
        # What Stripe will take as the platform's cut; the ledger records this same figure when paid.
        application_fee_cents=platform_fee_for(creator=profile, gross_cents=amount_cents).platform_fee_cents,
        announce=announce,
    )

    def open_session(pending: Tip) -> stripe_gateway.CheckoutSession:
        return stripe_gateway.checkout_payment_create(
            connected_account_id=account_id,
            amount_cents=pending.amount_cents,
            application_fee_cents=pending.application_fee_cents,
            product_name=f"Tip for @{host.username} in “{space.title}”",
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=timezone.now() + timedelta(minutes=settings.STRIPE_CHECKOUT_MINUTES),
            metadata={"tip": str(pending.reference)},
            idempotency_key=f"tip-{pending.reference}",
            customer_email=tipper.email or None,
        )

    session = checkout_open(pending=tip, open_session=open_session, undo=lambda row: row.delete())
    return tip, session.url


def _locked_tip(session: dict[str, Any]) -> Tip | None:
    reference = (session.get("metadata") or {}).get("tip") or ""
    query = Tip.objects.select_for_update().select_related("space", "tipper", "host")
    try:
        tip = query.filter(reference=reference).first()
    except ValidationError:
        tip = None
    if tip is None:
        logger.warning("Checkout Session %s matches no tip (reference %r)", session.get("id"), reference)
    return tip


def tip_event_payload(tip: Tip) -> dict[str, Any]:
    """The `tip` event of rooms/PROTOCOL.md, sent to the Space (announced) and to the host."""
    return {
        "type": "tip",
        "tip": str(tip.reference),
        "amount_cents": tip.amount_cents,
        "amount": format_cents(tip.amount_cents),
        "from": {"user_id": tip.tipper_id, "username": tip.tipper.username, "name": tip.tipper.name},
        "space_id": tip.space_id,
        "announced": tip.announce,
    }


@transaction.atomic
def tip_checkout_completed(session: dict[str, Any]) -> Tip | None:
    """Mark the tip paid once, enter it in the ledger and tell the host live; replays change nothing."""
    if session.get("payment_status") != "paid":
        return None  # a delayed payment method: `async_payment_succeeded` brings the money
    tip = _locked_tip(session)
    if tip is None or tip.status == Tip.Status.PAID:
        return tip
    # An expired tip can still be paid (a late bank confirmation): the money arrived, so it counts.
    tip.status = Tip.Status.PAID
    tip.paid_at = timezone.now()
    tip.stripe_checkout_session_id = session.get("id") or tip.stripe_checkout_session_id
    tip.save(update_fields=["status", "paid_at", "stripe_checkout_session_id"])
    sale_record(
        creator=tip.host,
        kind=Sale.Kind.TIP,
        gross_cents=tip.amount_cents,
        stripe_reference=session["id"],
        buyer=tip.tipper,
        space=tip.space,
        platform_fee_cents=tip.application_fee_cents,
    )
    tipper = tip.tipper
    notification_create(
        recipient=tip.host,
        actor=tipper,
        kind=Notification.Kind.OTHER,
        text=f"{tipper.name} (@{tipper.username}) tipped you {format_cents(tip.amount_cents)} in “{tip.space.title}”",
        url=reverse("ticketing:dashboard_space", kwargs={"pk": tip.space_id}),
    )
    event = tip_event_payload(tip)
    push_to_user(tip.host_id, event)
    if tip.announce and tip.space.state == Space.State.LIVE:
        broadcast(tip.space_id, event)
    return tip


def tip_checkout_ended(session: dict[str, Any]) -> None:
    """The checkout expired or its delayed payment failed: the tip was never paid."""
    with transaction.atomic():
        tip = _locked_tip(session)
        if tip is not None and tip.status == Tip.Status.PENDING:
            tip.status = Tip.Status.EXPIRED
            tip.save(update_fields=["status"])
