"""Admin views of the money side, read-mostly: the ledger and processed events are never edited by hand."""

from django.contrib import admin

from .models import (
    CreatorProfile,
    ProcessedStripeEvent,
    Sale,
    SeatHold,
    SuperFollowPlan,
    SuperFollowSubscription,
    Ticket,
    TicketOffer,
    Tip,
)


@admin.register(CreatorProfile)
class CreatorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "stripe_account_id", "charges_enabled", "payouts_enabled", "super_follows_enrolled_at"]
    search_fields = ["user__username", "stripe_account_id"]
    list_filter = [
        "charges_enabled",
        "payouts_enabled",
        "details_submitted",
        ("super_follows_enrolled_at", admin.EmptyFieldListFilter),
    ]
    raw_id_fields = ["user"]


@admin.register(SuperFollowPlan)
class SuperFollowPlanAdmin(admin.ModelAdmin):
    list_display = ["creator", "price_cents", "active"]
    list_filter = ["active", "price_cents"]
    search_fields = ["creator__username"]
    raw_id_fields = ["creator"]


@admin.register(SuperFollowSubscription)
class SuperFollowSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["subscriber", "creator", "price_cents", "status", "current_period_end"]
    list_filter = ["status"]
    search_fields = ["subscriber__username", "creator__username", "stripe_subscription_id"]
    raw_id_fields = ["subscriber", "creator", "plan"]


@admin.register(Sale)
class SaleAdmin(admin.ModelAdmin):
    list_display = ["created_at", "creator", "kind", "gross_cents", "platform_fee_cents", "creator_net_cents"]
    list_filter = ["kind", "created_at"]
    search_fields = ["creator__username", "buyer__username"]
    raw_id_fields = ["creator", "buyer", "super_follow", "space"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProcessedStripeEvent)
class ProcessedStripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TicketOffer)
class TicketOfferAdmin(admin.ModelAdmin):
    list_display = ["space", "price_cents", "quantity", "held_count", "sold_count"]
    list_filter = ["created_at"]
    search_fields = ["space__title", "space__host__username"]
    raw_id_fields = ["space"]
    # Counts move only through the services' conditional updates.
    readonly_fields = ["held_count", "sold_count", "page_views"]


@admin.register(SeatHold)
class SeatHoldAdmin(admin.ModelAdmin):
    list_display = ["reference", "offer", "buyer", "status", "expires_at"]
    list_filter = ["status"]
    search_fields = ["buyer__username", "stripe_checkout_session_id"]
    raw_id_fields = ["offer", "buyer"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["pk", "offer", "buyer", "status", "refund_id"]
    list_filter = ["status"]
    search_fields = ["buyer__username", "payment_intent_id", "refund_id"]
    raw_id_fields = ["hold", "offer", "buyer"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tip)
class TipAdmin(admin.ModelAdmin):
    list_display = ["created_at", "space", "tipper", "host", "amount_cents", "status"]
    list_filter = ["status"]
    search_fields = ["tipper__username", "host__username", "stripe_checkout_session_id"]
    raw_id_fields = ["space", "tipper", "host"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
