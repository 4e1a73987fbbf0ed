"""Staff admin for people, the graph, posts, messages, notifications and reports."""

from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from spaces_site.http import error_text

from . import services
from .adapter import validate_not_lookalike
from .models import Block, Conversation, Follow, Message, Notification, Post, Report, User
from .usernames import validate_username


class StaffUserChangeForm(UserChangeForm):
    """A renamed account keeps the rules sign-up keeps: 30 characters, a handle, not reserved, no lookalike."""

    class Meta(UserChangeForm.Meta):
        model = User

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if "username" in self.changed_data:
            validate_username(username)
            validate_not_lookalike(username, exclude_pk=self.instance.pk)
        return username


class StaffUserCreationForm(AdminUserCreationForm):
    """An account made by staff keeps the same rules."""

    class Meta(AdminUserCreationForm.Meta):
        model = User

    def clean_username(self) -> str:
        username = super().clean_username()
        validate_username(username)
        validate_not_lookalike(username)
        return username


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    list_display = [
        "username",
        "display_name",
        "email",
        "followers_count",
        "following_count",
        "is_active",
        "date_joined",
    ]
    list_filter = [*BaseUserAdmin.list_filter, "date_joined"]
    search_fields = ["username", "display_name", "email"]
    readonly_fields = ["followers_count", "following_count"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            "Profile",
            {"fields": ["display_name", "bio", "avatar", "date_of_birth", "followers_count", "following_count"]},
        ),
    ]


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "followee", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["follower__username", "followee__username"]
    raw_id_fields = ["follower", "followee"]
    date_hierarchy = "created_at"


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    raw_id_fields = ["blocker", "blocked"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["author", "body", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["body", "author__username"]
    raw_id_fields = ["author"]
    date_hierarchy = "created_at"


@admin.action(description="Mark selected reports as actioned")
def mark_actioned(modeladmin, request, queryset):
    queryset.update(status=Report.Status.ACTIONED)


@admin.action(description="Dismiss selected reports")
def mark_dismissed(modeladmin, request, queryset):
    queryset.update(status=Report.Status.DISMISSED)


def suspend_from_reports(modeladmin: admin.ModelAdmin, request: HttpRequest, reports: QuerySet, people: Iterable[User]):
    """Suspend the people a selection of reports is about and mark those reports actioned; say what was done."""
    suspended, refused = [], []
    for person in people:
        try:
            if services.account_suspend(user=person, by=request.user):
                suspended.append(f"@{person.username}")
        except ValidationError as exc:
            refused.append(error_text(exc))
    reports.update(status=Report.Status.ACTIONED)
    if suspended:
        modeladmin.message_user(request, f"Suspended {', '.join(suspended)}; their live Spaces ended.")
    for reason in refused:
        modeladmin.message_user(request, reason, level=messages.ERROR)
    if not suspended and not refused:
        modeladmin.message_user(request, "Those accounts were already suspended.", level=messages.WARNING)


@admin.action(description="Suspend the reported accounts", permissions=["change"])
def suspend_reported(modeladmin, request, queryset):
    people = User.objects.filter(pk__in=queryset.values("reported_user_id"))
    suspend_from_reports(modeladmin, request, queryset, people)


@admin.action(description="Remove the reported posts", permissions=["change"])
def remove_reported_posts(modeladmin, request, queryset):
    posts = Post.objects.filter(pk__in=queryset.values("post_id"))
    removed = 0
    for post in posts:
        services.post_delete(post=post, by=request.user)
        removed += 1
    queryset.update(status=Report.Status.ACTIONED)
    modeladmin.message_user(request, f"Removed {removed} post{'' if removed == 1 else 's'}.")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["reported_user", "reason", "reporter", "post", "status", "created_at"]
    list_filter = ["status", "reason", "created_at"]
    search_fields = ["reported_user__username", "reporter__username", "details", "post__body"]
    raw_id_fields = ["reporter", "reported_user", "post"]
    actions = [suspend_reported, remove_reported_posts, mark_actioned, mark_dismissed]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    raw_id_fields = ["sender", "recipient"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["user_a", "user_b", "last_message_at"]
    list_filter = ["last_message_at"]
    search_fields = ["user_a__username", "user_b__username"]
    raw_id_fields = ["user_a", "user_b"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["sender", "recipient", "body", "created_at", "read_at"]
    list_filter = ["created_at", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["body", "sender__username", "recipient__username"]
    raw_id_fields = ["conversation", "sender", "recipient"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "text", "created_at", "read_at"]
    list_filter = ["kind", "created_at", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["recipient__username", "text"]
    raw_id_fields = ["recipient", "actor"]
