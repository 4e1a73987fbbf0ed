"""Staff admin for Spaces, participants, invitations, pins, reminders and reports."""

from django.contrib import admin
from django.db.models import Q

from accounts.admin import suspend_from_reports
from accounts.models import User

from . import services
from .models import Invitation, Participant, PinnedPost, Reminder, Space, SpaceReport


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "muted", "hand_raised_at", "removed_at", "speaker_index"]


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["title", "host", "state", "audience", "scheduled_for", "started_at", "ended_at", "peak_listeners"]
    list_filter = ["state", "audience", "speaking_policy", "scheduled_for"]
    search_fields = ["title", "topics", "host__username"]
    raw_id_fields = ["host"]
    date_hierarchy = "created_at"
    inlines = [ParticipantInline]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["user", "space", "role", "muted", "hand_raised_at", "removed_at"]
    list_filter = ["role", "muted"]
    search_fields = ["user__username", "space__title"]
    raw_id_fields = ["user", "space"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["user", "space", "role", "invited_by", "created_at"]
    list_filter = ["role", "created_at"]
    search_fields = ["user__username", "space__title", "invited_by__username"]
    raw_id_fields = ["user", "space", "invited_by"]


@admin.register(PinnedPost)
class PinnedPostAdmin(admin.ModelAdmin):
    list_display = ["post", "space", "pinned_by", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["post__body", "space__title", "pinned_by__username"]
    raw_id_fields = ["post", "space", "pinned_by"]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["user", "space", "created_at", "sent_at"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "space__title"]
    raw_id_fields = ["user", "space"]


@admin.action(description="Mark selected reports as actioned")
def mark_actioned(modeladmin, request, queryset):
    services.space_reports_mark(report_ids=list(queryset.values_list("pk", flat=True)), status="actioned")


@admin.action(description="Dismiss selected reports")
def mark_dismissed(modeladmin, request, queryset):
    services.space_reports_mark(report_ids=list(queryset.values_list("pk", flat=True)), status="dismissed")


@admin.action(
    description="Suspend the reported accounts (a report on a Space as a whole: its host)", permissions=["change"]
)
def suspend_reported(modeladmin, request, queryset):
    reported = queryset.filter(reported_user__isnull=False).values("reported_user_id")
    hosts = queryset.filter(reported_user__isnull=True).values("space__host_id")
    people = User.objects.filter(Q(pk__in=reported) | Q(pk__in=hosts))
    suspend_from_reports(modeladmin, request, queryset, people)


@admin.register(SpaceReport)
class SpaceReportAdmin(admin.ModelAdmin):
    list_display = ["space", "reported_user", "reason", "reporter", "status", "created_at"]
    list_filter = ["status", "reason", "created_at"]
    search_fields = ["space__title", "reported_user__username", "details"]
    raw_id_fields = ["space", "reporter", "reported_user"]
    actions = [suspend_reported, mark_actioned, mark_dismissed]
