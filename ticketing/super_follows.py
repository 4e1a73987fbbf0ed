"""Super Follows: a creator's enrolment and monthly plans, subscribing through Stripe, and Stripe's word on each."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Notification, User
from accounts.notifications import notification_create
from accounts.selectors import is_blocked_between

from . import stripe_gateway
from .checkout import checkout_open
from .fees import marginal_fee_bps
from .ledger import creator_profile_locked, sale_record
from .models import CreatorProfile, Sale, SuperFollowPlan, SuperFollowSubscription
from .money import format_cents
from .selectors import live_super_follow, may_enrol_in_super_follows

logger = logging.getLogger(__name__)

# Longer than opening a session can take with every retry to Stripe: a pending row without its session this old
# was left by a process that died meanwhile.
ABANDONED_OPENING = timedelta(minutes=5)


# --- Enrolment and plans -------------------------------------------------------------------------


@transaction.atomic
def super_follows_enrol(*, user: User) -> CreatorProfile:
    profile = creator_profile_locked(user)
    decision = may_enrol_in_super_follows(user=user, profile=profile)
    if not decision:
        raise ValidationError(list(decision.reasons))
    if profile.super_follows_enrolled_at is None:
        profile.super_follows_enrolled_at = timezone.now()
        profile.save(update_fields=["super_follows_enrolled_at"])
    return profile


def _allowed_prices_text() -> str:
    prices = [format_cents(p) for p in settings.SUPER_FOLLOWS_PRICES_CENTS]
    return ", ".join(prices[:-1]) + f" or {prices[-1]}" if len(prices) > 1 else prices[0]


@transaction.atomic
def super_follow_plan_create(*, creator: User, price_cents: int) -> SuperFollowPlan:
    if price_cents not in settings.SUPER_FOLLOWS_PRICES_CENTS:
        raise ValidationError(f"A Super Follows plan costs {_allowed_prices_text()} a month.")
    profile = CreatorProfile.objects.filter(user=creator).first()
    if profile is None or not profile.super_follows_enrolled:
        raise ValidationError("Enrol in Super Follows before offering plans.")
    plan, created = SuperFollowPlan.objects.select_for_update().get_or_create(creator=creator, price_cents=price_cents)
    if not created:
        if plan.active:
            raise ValidationError(f"You already offer a {plan.price_display} plan.")
        plan.active = True
        plan.save(update_fields=["active"])
    return plan


def super_follow_plan_set_active(*, plan: SuperFollowPlan, by: User, active: bool) -> SuperFollowPlan:
    """Withdrawing a plan stops new sign-ups; people already subscribed keep their Super Follow."""
    if plan.creator_id != by.pk:
        raise PermissionDenied("Only the creator can change their plans.")
    plan.active = active
    plan.save(update_fields=["active"])
    return plan


# --- Subscribing -----------------------------------------------------------------------------------


def super_follow_checkout_start(
    *, plan: SuperFollowPlan, subscriber: User, success_url: str, cancel_url: str
) -> tuple[SuperFollowSubscription, str]:
    """Open a Stripe Checkout for a monthly Super Follow; returns the pending row and Stripe's page URL."""
    creator = plan.creator
    if subscriber.pk == creator.pk:
        raise ValidationError("You can't Super Follow yourself.")
    if not plan.active:
        raise ValidationError("This plan is no longer offered.")
    if is_blocked_between(subscriber, creator):
        raise ValidationError(f"You can't Super Follow @{creator.username}.")
    profile = CreatorProfile.objects.filter(user=creator).first()
    if profile is None or not (profile.super_follows_enrolled and profile.payout_ready and profile.stripe_account_id):
        raise ValidationError(f"@{creator.username} can't take Super Follows right now.")
    account_id = profile.stripe_account_id
    if live_super_follow(subscriber=subscriber, creator=creator) is not None:
        raise ValidationError(f"You already Super Follow @{creator.username}.")
    _close_earlier_checkouts(subscriber=subscriber, creator=creator)

    fee_bps = marginal_fee_bps(
        lifetime_gross_cents=profile.lifetime_gross_cents, schedule=settings.PLATFORM_FEE_SCHEDULE
    )
    try:
        with transaction.atomic():
            subscription = SuperFollowSubscription.objects.create(
                subscriber=subscriber,
                creator=creator,
                plan=plan,
                price_cents=plan.price_cents,
                application_fee_bps=fee_bps,
            )
    except IntegrityError:
        raise ValidationError(
            f"A checkout for your Super Follow of @{creator.username} is opening in another tab: finish it there."
        ) from None

    def open_session(pending: SuperFollowSubscription) -> stripe_gateway.CheckoutSession:
        return stripe_gateway.checkout_subscription_create(
            connected_account_id=account_id,
            monthly_amount_cents=plan.price_cents,
            application_fee_percent=f"{fee_bps / 100:.2f}",
            product_name=f"Super Follow @{creator.username} ({plan.price_display}/month)",
            success_url=success_url,
            cancel_url=cancel_url,
            metadata={"super_follow": str(pending.reference)},
            idempotency_key=f"super-follow-checkout-{pending.reference}",
            customer_email=subscriber.email or None,
        )

    session = checkout_open(pending=subscription, open_session=open_session, undo=lambda row: row.delete())
    return subscription, session.url


def _close_earlier_checkouts(*, subscriber: User, creator: User) -> None:
    """Only the newest checkout for a creator can be paid (two tabs, two plans): each earlier one still open is
    expired at Stripe first. One already paid, whose event has not come yet, refuses the new one instead."""
    earlier = SuperFollowSubscription.objects.filter(
        subscriber=subscriber,
        creator=creator,
        status=SuperFollowSubscription.Status.PENDING,
    )
    for pending in earlier:
        if not pending.stripe_checkout_session_id:
            if pending.created_at < timezone.now() - ABANDONED_OPENING:  # its process died while opening it
                SuperFollowSubscription.objects.filter(pk=pending.pk, stripe_checkout_session_id=None).update(
                    status=SuperFollowSubscription.Status.EXPIRED, updated_at=timezone.now()
                )
            continue  # its session is being opened (the new start is refused), or Stripe refused it (the row goes)
        try:
            status = stripe_gateway.checkout_session_expire(session_id=pending.stripe_checkout_session_id)
        except stripe_gateway.PaymentProviderError as exc:
            raise ValidationError(str(exc)) from exc
        if status == "complete":
            raise ValidationError(
                f"Your Super Follow of @{creator.username} from another checkout went through: it starts in a moment."
            )
        SuperFollowSubscription.objects.filter(pk=pending.pk, status=SuperFollowSubscription.Status.PENDING).update(
            status=SuperFollowSubscription.Status.EXPIRED, updated_at=timezone.now()
        )


def super_follow_cancel(*, subscription: SuperFollowSubscription, by: User) -> SuperFollowSubscription:
    """Stop renewing at the end of the paid month; Stripe's `customer.subscription.deleted` ends it."""
    if subscription.subscriber_id != by.pk:
        raise PermissionDenied("Only the subscriber can cancel their Super Follow.")
    if not subscription.is_live or not subscription.stripe_subscription_id:
        raise ValidationError("This Super Follow isn't active.")
    if subscription.cancel_at_period_end:
        raise ValidationError("This Super Follow is already cancelled: it ends with the month you paid for.")
    try:
        stripe_gateway.subscription_cancel(subscription_id=subscription.stripe_subscription_id, at_period_end=True)
    except stripe_gateway.PaymentProviderError as exc:
        raise ValidationError(str(exc)) from exc
    # Stripe's `customer.subscription.updated` says the same; the subscriber's next page should not wait for it.
    SuperFollowSubscription.objects.filter(pk=subscription.pk).update(
        cancel_at_period_end=True, updated_at=timezone.now()
    )
    subscription.cancel_at_period_end = True
    return subscription


# --- Stripe's events about Super Follows -----------------------------------------------------------


def _super_follow_by_reference(obj: dict[str, Any]) -> SuperFollowSubscription | None:
    reference = (obj.get("metadata") or {}).get("super_follow")
    query = SuperFollowSubscription.objects.select_for_update().select_related("creator", "subscriber", "plan")
    if reference:
        try:
            return query.filter(reference=reference).first()
        except ValidationError:
            logger.warning("Stripe object %s carries a malformed reference %r", obj.get("id"), reference)
            return None
    if obj.get("object") == "subscription":
        return query.filter(stripe_subscription_id=obj.get("id")).first()
    return None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def super_follow_checkout_completed(session: dict[str, Any]) -> None:
    """`checkout.session.completed` for a Super Follow: it starts, and its first month enters the ledger."""
    if session.get("mode") != "subscription":
        return
    subscription = _super_follow_by_reference(session)
    if subscription is None:
        logger.warning("Checkout Session %s matches no Super Follow", session.get("id"))
        return
    subscription.stripe_subscription_id = session.get("subscription") or subscription.stripe_subscription_id
    subscription.stripe_customer_id = session.get("customer") or subscription.stripe_customer_id
    subscription.updated_at = timezone.now()
    paid = session.get("payment_status") == "paid"
    if paid and subscription.status in (
        SuperFollowSubscription.Status.PENDING,
        SuperFollowSubscription.Status.INCOMPLETE,
    ):
        subscription.status = SuperFollowSubscription.Status.ACTIVE
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        _cancel_duplicate(subscription)
        return
    if paid:
        sale_record(
            creator=subscription.creator,
            kind=Sale.Kind.SUPER_FOLLOW,
            gross_cents=int(session.get("amount_total") or subscription.price_cents),
            stripe_reference=session["id"],
            buyer=subscription.subscriber,
            super_follow=subscription,
        )
        notification_create(
            recipient=subscription.creator,
            actor=subscription.subscriber,
            kind=Notification.Kind.OTHER,
            text=f"{subscription.subscriber.name} (@{subscription.subscriber.username}) Super Follows you",
            url=subscription.subscriber.get_absolute_url(),
        )


def _cancel_duplicate(subscription: SuperFollowSubscription) -> None:
    """A second checkout for a creator already super-followed (two tabs): stop it rather than bill twice."""
    logger.warning("Duplicate Super Follow %s cancelled", subscription.reference)
    SuperFollowSubscription.objects.filter(pk=subscription.pk).update(
        status=SuperFollowSubscription.Status.CANCELED,
        stripe_subscription_id=subscription.stripe_subscription_id,
        canceled_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if subscription.stripe_subscription_id:
        stripe_gateway.subscription_cancel(subscription_id=subscription.stripe_subscription_id, at_period_end=False)


def super_follow_checkout_expired(session: dict[str, Any]) -> None:
    """`checkout.session.expired`: a Super Follow never paid for stays off."""
    if session.get("mode") != "subscription":
        return
    subscription = _super_follow_by_reference(session)
    if subscription is not None and subscription.status == SuperFollowSubscription.Status.PENDING:
        subscription.status = SuperFollowSubscription.Status.EXPIRED
        subscription.updated_at = timezone.now()
        subscription.save(update_fields=["status", "updated_at"])


_STRIPE_STATUS = {
    "active": SuperFollowSubscription.Status.ACTIVE,
    "trialing": SuperFollowSubscription.Status.ACTIVE,
    "past_due": SuperFollowSubscription.Status.PAST_DUE,
    "unpaid": SuperFollowSubscription.Status.PAST_DUE,
    "incomplete": SuperFollowSubscription.Status.INCOMPLETE,
    "paused": SuperFollowSubscription.Status.INCOMPLETE,
    "incomplete_expired": SuperFollowSubscription.Status.CANCELED,
    "canceled": SuperFollowSubscription.Status.CANCELED,
}


def _period_end(obj: dict[str, Any]) -> datetime | None:
    # Newer API versions keep the period on each item rather than on the subscription.
    if obj.get("current_period_end"):
        return _timestamp(obj["current_period_end"])
    items = (obj.get("items") or {}).get("data") or []
    ends = [item.get("current_period_end") for item in items if item.get("current_period_end")]
    return _timestamp(max(ends)) if ends else None


def super_follow_subscription_changed(obj: dict[str, Any]) -> None:
    """`customer.subscription.created` / `updated`: our copy follows Stripe's status and period."""
    subscription = _super_follow_by_reference(obj)
    if subscription is None:
        logger.warning("Stripe subscription %s matches no Super Follow", obj.get("id"))
        return
    if subscription.status == SuperFollowSubscription.Status.CANCELED:
        return  # an ended Super Follow never comes back; a new one starts a new row
    subscription.stripe_subscription_id = obj.get("id") or subscription.stripe_subscription_id
    subscription.stripe_customer_id = obj.get("customer") or subscription.stripe_customer_id
    subscription.status = _STRIPE_STATUS.get(obj.get("status") or "", SuperFollowSubscription.Status.INCOMPLETE)
    subscription.current_period_end = _period_end(obj) or subscription.current_period_end
    subscription.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    if subscription.status == SuperFollowSubscription.Status.CANCELED:
        subscription.canceled_at = _timestamp(obj.get("ended_at") or obj.get("canceled_at")) or timezone.now()
    subscription.updated_at = timezone.now()
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        _cancel_duplicate(subscription)


def super_follow_subscription_deleted(obj: dict[str, Any]) -> None:
    """`customer.subscription.deleted`: the Super Follow has ended."""
    super_follow_subscription_changed({**obj, "status": "canceled"})


def _invoice_subscription_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    return details.get("metadata") or {}


def super_follow_invoice_paid(invoice: dict[str, Any]) -> None:
    """`invoice.paid`: renewals enter the ledger here; the first month is recorded from the checkout."""
    if invoice.get("billing_reason") != "subscription_cycle" or not invoice.get("amount_paid"):
        return
    subscription = _super_follow_by_reference({"metadata": _invoice_subscription_metadata(invoice)})
    if subscription is None:
        logger.warning("Invoice %s matches no Super Follow", invoice.get("id"))
        return
    sale_record(
        creator=subscription.creator,
        kind=Sale.Kind.SUPER_FOLLOW,
        gross_cents=int(invoice["amount_paid"]),
        stripe_reference=invoice["id"],
        buyer=subscription.subscriber,
        super_follow=subscription,
    )
