"""What the money side does: payout onboarding, Super Follows, the ledger and applying Stripe's events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification, User
from accounts.selectors import is_blocked_between
from accounts.services import notification_create
from rooms.models import Space

# tickets and tips import this module too; each only reaches into the other inside functions.
from . import stripe_gateway, tickets, tips
from .fees import FeeSplit, marginal_fee_bps, platform_fee_for
from .models import CreatorProfile, ProcessedStripeEvent, Sale, SuperFollowPlan, SuperFollowSubscription
from .selectors import audience_refusals_for, live_super_follow, super_follows_refusals_for

logger = logging.getLogger(__name__)


class WebhookRejected(Exception):
    """A webhook that must be answered 400: bad signature, stale, or not an event."""


def _price_text(cents: int) -> str:
    return f"${cents / 100:.2f}"


def _locked_profile(user: User) -> CreatorProfile:
    profile, _ = CreatorProfile.objects.get_or_create(user=user)
    return CreatorProfile.objects.select_for_update().get(pk=profile.pk)


# --- Payout account ------------------------------------------------------------------------------


def payout_onboarding_start(*, user: User, refresh_url: str, return_url: str) -> str:
    """The Stripe-hosted onboarding URL for the creator's connected account, creating it the first time."""
    reasons = audience_refusals_for(user=user)
    if reasons:
        raise ValidationError(reasons)
    account_id = _connected_account_for(user)
    return stripe_gateway.connect_onboarding_link(account_id=account_id, refresh_url=refresh_url, return_url=return_url)


@transaction.atomic
def _connected_account_for(user: User) -> str:
    """Committed before the link is asked for, so a failed link never orphans an account at Stripe."""
    profile = _locked_profile(user)
    if not profile.stripe_account_id:
        # The key makes a retried request return the account Stripe already made for this person.
        state = stripe_gateway.connect_account_create(
            email=user.email, user_id=user.pk, idempotency_key=f"connect-account-user-{user.pk}"
        )
        profile.stripe_account_id = state.id
        _copy_account_state(profile, state)
        profile.save()
    return profile.stripe_account_id


def _copy_account_state(profile: CreatorProfile, state: stripe_gateway.AccountState) -> None:
    profile.charges_enabled = state.charges_enabled
    profile.payouts_enabled = state.payouts_enabled
    profile.details_submitted = state.details_submitted
    profile.requirements_due = list(state.requirements_due)
    profile.payout_synced_at = timezone.now()


@transaction.atomic
def payout_account_sync(*, state: stripe_gateway.AccountState) -> CreatorProfile | None:
    """Keep our copy of a connected account in step with Stripe; tell the creator when it turns ready."""
    profile = CreatorProfile.objects.select_for_update().select_related("user").filter(stripe_account_id=state.id)
    profile = profile.first()
    if profile is None:
        logger.warning("Stripe account %s belongs to no creator here", state.id)
        return None
    was_ready = profile.payout_ready
    _copy_account_state(profile, state)
    profile.save()
    if profile.payout_ready != was_ready:
        text = (
            "Your payout account is ready: you can enrol in Super Follows."
            if profile.payout_ready
            else f"Your payout account needs attention: {profile.payout_state_label.lower()}."
        )
        notification_create(
            recipient=profile.user, kind=Notification.Kind.OTHER, text=text, url=reverse("ticketing:creator")
        )
    return profile


def payout_account_refresh(*, user: User) -> CreatorProfile | None:
    """Ask Stripe for the account's state now (the creator came back from onboarding)."""
    profile = CreatorProfile.objects.filter(user=user).first()
    if profile is None or not profile.stripe_account_id:
        return profile
    return payout_account_sync(state=stripe_gateway.connect_account_retrieve(account_id=profile.stripe_account_id))


# --- Super Follows: enrolment and plans ----------------------------------------------------------


@transaction.atomic
def super_follows_enrol(*, user: User) -> CreatorProfile:
    profile = _locked_profile(user)
    reasons = super_follows_refusals_for(user=user, profile=profile)
    if reasons:
        raise ValidationError(reasons)
    if profile.super_follows_enrolled_at is None:
        profile.super_follows_enrolled_at = timezone.now()
        profile.save(update_fields=["super_follows_enrolled_at"])
    return profile


def _allowed_prices_text() -> str:
    prices = [_price_text(p) for p in settings.SUPER_FOLLOWS_PRICES_CENTS]
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


# --- Super Follows: subscribing ------------------------------------------------------------------


def super_follow_checkout_start(
    *, plan: SuperFollowPlan, subscriber: User, success_url: str, cancel_url: str
) -> tuple[SuperFollowSubscription, str]:
    """Open a Stripe Checkout for a monthly Super Follow; returns the pending row and Stripe's page URL.

    Not one transaction on purpose: the pending row is committed before Stripe is called so that
    whatever Stripe later reports about this checkout always finds it.
    """
    creator = plan.creator
    if subscriber.pk == creator.pk:
        raise ValidationError("You can't Super Follow yourself.")
    if not plan.active:
        raise ValidationError("This plan is no longer offered.")
    if is_blocked_between(subscriber, creator):
        raise ValidationError(f"You can't Super Follow @{creator.username}.")
    profile = CreatorProfile.objects.filter(user=creator).first()
    if profile is None or not profile.super_follows_enrolled or not profile.payout_ready:
        raise ValidationError(f"@{creator.username} can't take Super Follows right now.")
    if live_super_follow(subscriber=subscriber, creator=creator) is not None:
        raise ValidationError(f"You already Super Follow @{creator.username}.")

    fee_bps = marginal_fee_bps(
        lifetime_gross_cents=profile.lifetime_gross_cents, schedule=settings.PLATFORM_FEE_SCHEDULE
    )
    subscription = SuperFollowSubscription.objects.create(
        subscriber=subscriber, creator=creator, plan=plan, price_cents=plan.price_cents, application_fee_bps=fee_bps
    )
    metadata = {"super_follow": str(subscription.reference)}
    try:
        session = stripe_gateway.checkout_subscription_create(
            connected_account_id=profile.stripe_account_id,
            monthly_amount_cents=plan.price_cents,
            application_fee_percent=f"{fee_bps / 100:.2f}",
            product_name=f"Super Follow @{creator.username} ({plan.price_display}/month)",
            success_url=success_url,
            cancel_url=cancel_url,
            metadata=metadata,
            idempotency_key=f"super-follow-checkout-{subscription.reference}",
            customer_email=subscriber.email or None,
        )
    except stripe_gateway.PaymentProviderError as exc:
        subscription.delete()
        raise ValidationError(str(exc)) from exc
    subscription.stripe_checkout_session_id = session.id
    subscription.save(update_fields=["stripe_checkout_session_id"])
    return subscription, session.url


def super_follow_cancel(*, subscription: SuperFollowSubscription, by: User) -> SuperFollowSubscription:
    """Stop renewing at the end of the paid month; Stripe's `customer.subscription.deleted` ends it."""
    if subscription.subscriber_id != by.pk:
        raise PermissionDenied("Only the subscriber can cancel their Super Follow.")
    if not subscription.is_live or not subscription.stripe_subscription_id:
        raise ValidationError("This Super Follow isn't active.")
    try:
        stripe_gateway.subscription_cancel(subscription_id=subscription.stripe_subscription_id, at_period_end=True)
    except stripe_gateway.PaymentProviderError as exc:
        raise ValidationError(str(exc)) from exc
    return subscription


# --- The ledger ----------------------------------------------------------------------------------


@transaction.atomic
def sale_record(
    *,
    creator: User,
    kind: str,
    gross_cents: int,
    stripe_reference: str,
    buyer: User | None = None,
    super_follow: SuperFollowSubscription | None = None,
    space: Space | None = None,
    platform_fee_cents: int | None = None,
) -> Sale:
    """Enter a payment in the ledger once, split by the fee schedule at the creator's lifetime earnings.

    `platform_fee_cents` is the fee Stripe actually took when it was fixed before payment (a ticket's
    `application_fee_amount`), so the ledger matches the money even if the schedule moved meanwhile.
    """
    if gross_cents <= 0:
        raise ValidationError("A sale must be for more than $0.")
    # The row lock orders concurrent sales of one creator, so each is split at the right point.
    profile = _locked_profile(creator)
    existing = Sale.objects.filter(stripe_reference=stripe_reference).first()
    if existing is not None:
        return existing
    split = platform_fee_for(creator=profile, gross_cents=gross_cents)
    if platform_fee_cents is not None:
        split = FeeSplit(gross_cents, platform_fee_cents, gross_cents - platform_fee_cents)
    sale = Sale.objects.create(
        creator=creator,
        buyer=buyer,
        kind=kind,
        gross_cents=split.gross_cents,
        platform_fee_cents=split.platform_fee_cents,
        creator_net_cents=split.creator_net_cents,
        stripe_reference=stripe_reference,
        super_follow=super_follow,
        space=space,
    )
    CreatorProfile.objects.filter(pk=profile.pk).update(lifetime_gross_cents=F("lifetime_gross_cents") + gross_cents)
    return sale


# --- Stripe webhooks -----------------------------------------------------------------------------


def stripe_webhook_receive(*, payload: bytes, signature_header: str | None) -> tuple[ProcessedStripeEvent, bool]:
    """Verify and store an event; its work runs in a task after commit. Returns (event, first time seen)."""
    try:
        event = stripe_gateway.webhook_event_verify(payload=payload, signature_header=signature_header)
    except stripe_gateway.WebhookSignatureInvalid as exc:
        raise WebhookRejected(str(exc)) from exc
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(event.get("data"), dict):
        raise WebhookRejected("The body is not a Stripe event (id, type and data are required).")
    with transaction.atomic():
        record, created = ProcessedStripeEvent.objects.get_or_create(
            event_id=event_id, defaults={"type": event_type, "payload": event}
        )
        if record.processed_at is None:
            from .tasks import apply_stripe_event

            transaction.on_commit(lambda: apply_stripe_event.delay(record.pk))
    return record, created


def stripe_event_apply(*, event_pk: int) -> bool:
    """Apply a stored event exactly once: the row lock and `processed_at` make replays no-ops."""
    with transaction.atomic():
        record = ProcessedStripeEvent.objects.select_for_update().get(pk=event_pk)
        if record.processed_at is not None:
            return False
        handler = _HANDLERS.get(record.type)
        if handler is not None:
            handler(record.payload["data"]["object"])
        record.processed_at = timezone.now()
        record.save(update_fields=["processed_at"])
    return True


def _on_account_updated(account: dict[str, Any]) -> None:
    payout_account_sync(state=stripe_gateway.account_state_from(account))


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


def _checkout_for_tickets(session: dict[str, Any]) -> bool:
    """Sessions are told apart by their metadata key: "seat_hold" (tickets), "super_follow", "tip"."""
    return "seat_hold" in (session.get("metadata") or {})


def _checkout_for_tip(session: dict[str, Any]) -> bool:
    return "tip" in (session.get("metadata") or {})


def _on_checkout_completed(session: dict[str, Any]) -> None:
    if _checkout_for_tickets(session):
        tickets.seat_hold_checkout_completed(session)
        return
    if _checkout_for_tip(session):
        tips.tip_checkout_completed(session=session)
        return
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


def _on_checkout_expired(session: dict[str, Any]) -> None:
    if _checkout_for_tickets(session):
        tickets.seat_hold_checkout_ended(session)
        return
    if _checkout_for_tip(session):
        tips.tip_checkout_ended(session=session)
        return
    if session.get("mode") != "subscription":
        return
    subscription = _super_follow_by_reference(session)
    if subscription is not None and subscription.status == SuperFollowSubscription.Status.PENDING:
        subscription.status = SuperFollowSubscription.Status.EXPIRED
        subscription.updated_at = timezone.now()
        subscription.save(update_fields=["status", "updated_at"])


def _on_checkout_payment_failed(session: dict[str, Any]) -> None:
    if _checkout_for_tickets(session):
        tickets.seat_hold_checkout_ended(session)
    elif _checkout_for_tip(session):
        tips.tip_checkout_ended(session=session)


def _on_charge_refunded(charge: dict[str, Any]) -> None:
    tickets.ticket_charge_refunded(charge)


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


def _on_subscription_changed(obj: dict[str, Any]) -> None:
    subscription = _super_follow_by_reference(obj)
    if subscription is None:
        logger.warning("Stripe subscription %s matches no Super Follow", obj.get("id"))
        return
    if subscription.status == SuperFollowSubscription.Status.CANCELED:
        return  # an ended Super Follow never comes back; a new one starts a new row
    subscription.stripe_subscription_id = obj.get("id") or subscription.stripe_subscription_id
    subscription.stripe_customer_id = obj.get("customer") or subscription.stripe_customer_id
    subscription.status = _STRIPE_STATUS.get(obj.get("status"), SuperFollowSubscription.Status.INCOMPLETE)
    subscription.current_period_end = _period_end(obj) or subscription.current_period_end
    if subscription.status == SuperFollowSubscription.Status.CANCELED:
        subscription.canceled_at = _timestamp(obj.get("ended_at") or obj.get("canceled_at")) or timezone.now()
    subscription.updated_at = timezone.now()
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        _cancel_duplicate(subscription)


def _on_subscription_deleted(obj: dict[str, Any]) -> None:
    _on_subscription_changed({**obj, "status": "canceled"})


def _invoice_subscription_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    return details.get("metadata") or {}


def _on_invoice_paid(invoice: dict[str, Any]) -> None:
    """Renewals enter the ledger here; the first month is recorded from checkout.session.completed."""
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


_HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "account.updated": _on_account_updated,
    "checkout.session.completed": _on_checkout_completed,
    "checkout.session.async_payment_succeeded": _on_checkout_completed,
    "checkout.session.expired": _on_checkout_expired,
    "checkout.session.async_payment_failed": _on_checkout_payment_failed,
    "charge.refunded": _on_charge_refunded,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_deleted,
    "invoice.paid": _on_invoice_paid,
}
