"""Admin views of the money side, read-mostly: the ledger and processed events are never edited by hand."""

from django.contrib import admin

from .models import CreatorProfile, ProcessedStripeEvent, Sale, SuperFollowPlan, SuperFollowSubscription


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
    raw_id_fields = ["creator", "buyer", "super_follow"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProcessedStripeEvent)
class ProcessedStripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
