"""Super Follows, ticketed Spaces, tips and payouts."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .money import format_cents


class CreatorProfile(models.Model):
    """A creator's standing: Super Follows enrolment, payout account and lifetime earnings."""

    class PayoutState(models.TextChoices):
        NOT_STARTED = "not_started", "Not connected"
        ONBOARDING = "onboarding", "Onboarding not finished"
        IN_REVIEW = "in_review", "Stripe is reviewing your details"
        RESTRICTED = "restricted", "Paused: Stripe needs more information"
        READY = "ready", "Ready to receive payouts"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="creator_profile")
    stripe_account_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    requirements_due = models.JSONField(default=list, blank=True)
    payout_synced_at = models.DateTimeField(null=True, blank=True)
    super_follows_enrolled_at = models.DateTimeField(null=True, blank=True)
    # Gross of every sale recorded so far; the fee schedule's position. Changed only under a row lock.
    lifetime_gross_cents = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"creator {self.user_id}"

    @property
    def payout_ready(self) -> bool:
        return bool(self.stripe_account_id) and self.charges_enabled and self.payouts_enabled and self.details_submitted

    @property
    def payout_state(self) -> str:
        if not self.stripe_account_id:
            return self.PayoutState.NOT_STARTED
        if self.payout_ready:
            return self.PayoutState.READY
        if not self.details_submitted:
            return self.PayoutState.ONBOARDING
        if self.requirements_due:
            return self.PayoutState.RESTRICTED
        return self.PayoutState.IN_REVIEW

    @property
    def payout_state_label(self) -> str:
        return self.PayoutState(self.payout_state).label

    @property
    def super_follows_enrolled(self) -> bool:
        return self.super_follows_enrolled_at is not None


class SuperFollowPlan(models.Model):
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="super_follow_plans")
    price_cents = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["price_cents"]
        constraints = [
            models.UniqueConstraint(fields=["creator", "price_cents"], name="super_follow_plan_price_once"),
            models.CheckConstraint(
                condition=Q(price_cents__in=settings.SUPER_FOLLOWS_PRICES_CENTS), name="super_follow_plan_price_allowed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.creator_id}: {self.price_display}/month"

    @property
    def price_display(self) -> str:
        return format_cents(self.price_cents)


class SuperFollowSubscription(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for payment"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Payment overdue"
        INCOMPLETE = "incomplete", "Payment incomplete"
        CANCELED = "canceled", "Cancelled"
        EXPIRED = "expired", "Checkout expired"

    LIVE = (Status.ACTIVE, Status.PAST_DUE)

    # Sent to Stripe as metadata so every event about this subscription finds its row, in any order.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="super_follows")
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="super_followers")
    plan = models.ForeignKey(SuperFollowPlan, on_delete=models.PROTECT, related_name="subscriptions")
    price_cents = models.PositiveIntegerField()
    application_fee_bps = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    stripe_checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # The subscriber cancelled: it stays live until `current_period_end`, then Stripe ends it (Stripe's own name).
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "creator"],
                condition=Q(status__in=["active", "past_due"]),
                name="super_follow_one_live_per_creator",
            ),
            # Two checkouts started at the same instant (two tabs) could both be paid: the second start waits
            # for none, it is refused (super_follows.super_follow_checkout_start).
            models.UniqueConstraint(
                fields=["subscriber", "creator"],
                condition=Q(status="pending"),
                name="super_follow_one_checkout_per_creator",
            ),
            models.CheckConstraint(condition=~Q(subscriber=F("creator")), name="super_follow_not_self"),
        ]
        indexes = [models.Index(fields=["creator", "status"], name="super_follow_creator_idx")]

    def __str__(self) -> str:
        return f"{self.subscriber_id} → {self.creator_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class ProcessedStripeEvent(models.Model):
    """Every verified webhook event, stored once by Stripe's id; `processed_at` marks it applied."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="stripe_event_received_idx")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Sale(models.Model):
    """One line of the ledger: what a buyer paid, what the platform kept and what the creator earned."""

    class Kind(models.TextChoices):
        SUPER_FOLLOW = "super_follow", "Super Follow"
        TICKET = "ticket", "Ticket"
        TIP = "tip", "Tip"

    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="purchases"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    gross_cents = models.PositiveBigIntegerField()
    platform_fee_cents = models.PositiveBigIntegerField()
    creator_net_cents = models.PositiveBigIntegerField()
    # The Stripe object paid for (Checkout Session or invoice): a payment enters the ledger once.
    stripe_reference = models.CharField(max_length=255, unique=True)
    super_follow = models.ForeignKey(
        SuperFollowSubscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="sales"
    )
    # The Space a ticket or tip was bought for: the per-Space dashboard groups by it.
    space = models.ForeignKey("rooms.Space", on_delete=models.SET_NULL, null=True, blank=True, related_name="sales")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_cents=F("platform_fee_cents") + F("creator_net_cents")), name="sale_split_adds_up"
            ),
            models.CheckConstraint(condition=Q(gross_cents__gt=0), name="sale_gross_positive"),
        ]
        indexes = [models.Index(fields=["creator", "created_at"], name="sale_creator_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.gross_cents}¢ for {self.creator_id}"


# --- Ticketed Spaces and tips (design in ticketing/NOTES.md) ---------------------------------------


class TicketOffer(models.Model):
    """What a host sells for one Space; `held_count + sold_count <= quantity` is kept by the database."""

    space = models.OneToOneField("rooms.Space", on_delete=models.CASCADE, related_name="ticket_offer")
    price_cents = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()
    held_count = models.PositiveIntegerField(default=0)
    sold_count = models.PositiveIntegerField(default=0)
    # Views of the ticket page by people without a ticket: the dashboard's conversion denominator.
    page_views = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(price_cents__gte=settings.TICKET_PRICE_MIN_CENTS)
                & Q(price_cents__lte=settings.TICKET_PRICE_MAX_CENTS),
                name="ticket_offer_price_in_range",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ticket_offer_quantity_positive"),
            models.CheckConstraint(
                condition=Q(held_count__gte=0) & Q(sold_count__gte=0), name="ticket_offer_counts_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held_count__lte=F("quantity") - F("sold_count")), name="ticket_offer_never_oversold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.price_display} for space {self.space_id}"

    @property
    def price_display(self) -> str:
        return format_cents(self.price_cents)

    @property
    def left(self) -> int:
        return self.quantity - self.sold_count - self.held_count


class SeatHold(models.Model):
    """A seat kept for one buyer while their Checkout Session is open; becomes a Ticket when paid."""

    class Status(models.TextChoices):
        HELD = "held", "Held during checkout"
        PAID = "paid", "Paid"
        RELEASED = "released", "Released"

    # Sent to Stripe as metadata and in the idempotency key.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offer = models.ForeignKey(TicketOffer, on_delete=models.CASCADE, related_name="holds")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seat_holds")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    price_cents = models.PositiveIntegerField()
    application_fee_cents = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    stripe_checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "buyer"], condition=Q(status__in=["held", "paid"]), name="seat_hold_one_per_buyer"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="seat_hold_status_expiry_idx")]

    def __str__(self) -> str:
        return f"hold {self.reference} ({self.status})"


class Ticket(models.Model):
    class Status(models.TextChoices):
        VALID = "valid", "Valid"
        REFUND_PENDING = "refund_pending", "Refund pending"
        REFUNDED = "refunded", "Refunded"
        REFUND_FAILED = "refund_failed", "Refund failed"

    hold = models.OneToOneField(SeatHold, on_delete=models.PROTECT, related_name="ticket")
    offer = models.ForeignKey(TicketOffer, on_delete=models.PROTECT, related_name="tickets")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    payment_intent_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    refund_id = models.CharField(max_length=255, blank=True)
    refund_error = models.TextField(blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "buyer"],
                condition=Q(status__in=["valid", "refund_pending"]),
                name="ticket_one_valid_per_buyer",
            ),
        ]

    def __str__(self) -> str:
        return f"ticket {self.pk} for offer {self.offer_id} ({self.status})"


class Tip(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Checkout expired"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    space = models.ForeignKey("rooms.Space", on_delete=models.CASCADE, related_name="tips")
    tipper = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tips_given")
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tips_received")
    amount_cents = models.PositiveIntegerField()
    application_fee_cents = models.PositiveIntegerField()
    # The tipper chose to have the tip announced in the Space.
    announce = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_cents__gte=settings.TIP_MIN_CENTS) & Q(amount_cents__lte=settings.TIP_MAX_CENTS),
                name="tip_amount_in_range",
            ),
            models.CheckConstraint(condition=~Q(tipper=F("host")), name="tip_not_self"),
        ]
        indexes = [models.Index(fields=["host", "status"], name="tip_host_status_idx")]

    def __str__(self) -> str:
        return f"tip {self.amount_cents}¢ to {self.host_id} ({self.status})"
