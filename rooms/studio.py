"""The hosts' studio: a second admin site where an eligible host manages only their own Spaces.

Log-in goes through allauth; every queryset is the host's own, so another host's Space is never
listed, shown or changed (a guessed URL answers as if the Space did not exist).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path

from accounts.models import User
from accounts.selectors import is_blocked_between
from spaces_site.http import error_text, login_redirect, safe_next

from . import access, services
from .forms import label_in_local_time
from .models import Invitation, Participant, Role, Space, SpaceReport


class StudioSite(admin.AdminSite):
    site_header = "Spaces Studio"
    site_title = "Spaces Studio"
    index_title = "Your Spaces"
    site_url = "/spaces/"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_authenticated and access.host_eligibility(user=user).eligible

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            eligibility = access.host_eligibility(user=request.user)
            return render(request, "rooms/not_eligible.html", {"eligibility": eligibility}, status=403)
        return login_redirect(request, safe_next(request, "studio:index"))

    def get_urls(self):
        # Django's "view on site" shortcut (r/<content_type>/<id>/) maps any model's ids to their URLs, which
        # would tell a host that another account's post exists and who wrote it: here it answers only for
        # the host's own Spaces.
        urls = [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]
        own = path(
            "r/<int:content_type_id>/<int:object_id>/", self.admin_view(self.view_own_space), name="view_on_site"
        )
        return [own, *urls]

    def view_own_space(self, request, content_type_id: int, object_id: int):
        if content_type_id != ContentType.objects.get_for_model(Space).pk:
            raise Http404("Nothing to show here.")
        space = Space.objects.filter(pk=object_id, host=request.user).first()
        if space is None:
            raise Http404("Nothing to show here.")
        return redirect(space)


studio_site = StudioSite(name="studio")


class OwnedInline:
    """Inlines of the host's own Space: permissions follow ownership, not Django's model perms."""

    def has_view_permission(self, request, obj=None):
        return obj is None or obj.host_id == request.user.pk

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CohostForm(forms.ModelForm):
    username = forms.CharField(max_length=150, label="Username")

    class Meta:
        model = Invitation
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.username

    def clean_username(self) -> str:
        name = self.cleaned_data["username"].strip().lstrip("@")
        user = User.objects.filter(username__iexact=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No account is called @{name}.")
        self.instance.user = user
        return name


class CohostFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if len(kept) > settings.SPACES_MAX_COHOSTS:
            raise ValidationError(f"A Space can have at most {settings.SPACES_MAX_COHOSTS} co-hosts.")
        for form in kept:
            if form.instance.user_id is None:
                continue  # its username already has an error
            if form.instance.user_id == self.instance.host_id:
                form.add_error("username", "You are the host; name someone else.")
            elif is_blocked_between(self.instance.host, form.instance.user):
                # The service refuses it too, but after the page took the form as valid (a 500).
                form.add_error("username", f"You can't name @{form.instance.user.username} as a co-host.")


class CohostInline(OwnedInline, admin.TabularInline):
    model = Invitation
    form = CohostForm
    formset = CohostFormSet
    fields = ["username"]
    extra = 1
    max_num = settings.SPACES_MAX_COHOSTS
    verbose_name = "co-host named in advance"
    verbose_name_plural = "co-hosts named in advance"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(role=Role.COHOST, space__host=request.user)

    def _editable(self, obj) -> bool:
        return obj is not None and obj.state == Space.State.SCHEDULED

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and obj.host_id == request.user.pk

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


class ParticipantInline(OwnedInline, admin.TabularInline):
    model = Participant
    fields = ["user", "role", "muted", "hand_raised_at", "removed_at", "joined_at"]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(space__host=request.user).select_related("user")


class ReportInline(OwnedInline, admin.TabularInline):
    """Reports on people in the host's Space, for the host to act on in the room. Who reported is not shown,
    and reports on the Space itself or on the host go to the staff alone: the reported never learn who
    reported them."""

    model = SpaceReport
    fields = ["reported_user", "reason", "details", "created_at"]
    readonly_fields = fields
    extra = 0
    verbose_name = "report on someone in the Space"
    verbose_name_plural = "reports on people in the Space"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(space__host=request.user, reported_user__isnull=False)
            .exclude(reported_user=request.user)
            .select_related("reported_user")
        )


class StudioSpaceForm(forms.ModelForm):
    topics = forms.CharField(max_length=100, required=False, help_text="Up to 3 topics, separated by commas.")

    class Meta:
        model = Space
        fields = ["title", "topics", "scheduled_for", "speaking_policy"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The admin's own note calls the host's zone "server time"; the label says which zone it is.
        if "scheduled_for" in self.fields:  # read-only once the Space started
            label_in_local_time(self.fields["scheduled_for"])
        if self.instance.pk:  # as the rest of the site writes them, not as stored ("music,synths")
            self.initial["topics"] = ", ".join(self.instance.topic_list)

    def clean_topics(self) -> str:
        try:
            return ",".join(services.clean_topics(self.cleaned_data["topics"]))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    host = None  # set per request by StudioSpaceAdmin.get_form

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and self.host is not None:
            scheduled = Space.objects.filter(host=self.host, state=Space.State.SCHEDULED).count()
            if scheduled >= settings.SPACES_MAX_SCHEDULED_PER_HOST:
                raise forms.ValidationError(
                    f"You already have {scheduled} scheduled Spaces; "
                    f"the most is {settings.SPACES_MAX_SCHEDULED_PER_HOST}."
                )
        return cleaned

    def clean_scheduled_for(self):
        when = self.cleaned_data.get("scheduled_for")
        if when is None:
            raise forms.ValidationError("Choose when the Space starts.")
        if self.instance.pk is None or when != self.instance.scheduled_for:
            try:
                services.check_schedule_time(when)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
        return when


@admin.action(description="Cancel selected scheduled Spaces")
def cancel_spaces(modeladmin, request, queryset):
    cancelled = 0
    for space in queryset.filter(state=Space.State.SCHEDULED):
        services.space_cancel(space=space, by=request.user)
        cancelled += 1
    modeladmin.message_user(request, f"Cancelled {cancelled} Space(s).", messages.SUCCESS)


@admin.register(Space, site=studio_site)
class StudioSpaceAdmin(admin.ModelAdmin):
    form = StudioSpaceForm
    list_display = ["title", "state", "scheduled_for", "started_at", "ended_at", "peak_listeners"]
    list_filter = ["state"]
    search_fields = ["title", "topics"]
    readonly_fields = ["state", "started_at", "ended_at", "peak_listeners"]
    actions = [cancel_spaces]
    inlines = [CohostInline, ParticipantInline, ReportInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(host=request.user)

    def get_fields(self, request, obj=None):
        fields = ["title", "topics", "scheduled_for", "speaking_policy"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.state != Space.State.SCHEDULED:
            return ["title", "topics", "scheduled_for", "speaking_policy", *self.readonly_fields]
        return self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.host = request.user
        return form

    def get_changeform_initial_data(self, request):
        return {"speaking_policy": Space.SpeakingPolicy.EVERYONE}

    def _owns(self, request, obj) -> bool:
        return obj is None or obj.host_id == request.user.pk

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._owns(request, obj)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_form(self, request, form, change):
        """A new Space is made by the service, and the row it returns is what the admin logs and shows."""
        if change:
            return super().save_form(request, form, change)  # unsaved: save_model writes it through the service
        data = form.cleaned_data
        try:
            return services.space_create(
                host=request.user,
                title=data["title"],
                topics=data["topics"],
                scheduled_for=data["scheduled_for"],
                speaking_policy=data["speaking_policy"],
            )
        except (ValidationError, PermissionDenied) as exc:
            raise PermissionDenied(error_text(exc)) from exc

    def save_model(self, request, obj, form, change):
        if not change:
            return  # save_form created it
        data = form.cleaned_data
        try:
            services.space_update(
                space=obj,
                by=request.user,
                title=data["title"],
                scheduled_for=data["scheduled_for"],
                topics=data["topics"],
                speaking_policy=data["speaking_policy"],
            )
        except (ValidationError, PermissionDenied) as exc:
            raise PermissionDenied(error_text(exc)) from exc

    def save_related(self, request, form, formsets, change):
        if change:  # a new Space has no inlines yet, and the service wrote all of it
            super().save_related(request, form, formsets, change)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        if formset.model is not Invitation:
            return  # participants and reports are read-only here
        for invitation in formset.deleted_objects:
            invitation.delete()
        # A row whose username was changed names someone else instead: the person it named stops being a co-host
        # (the service names the new one in a row of their own, and counted the old one against the limit).
        renamed = [f.instance.pk for f in formset.initial_forms if f.instance.pk and "username" in f.changed_data]
        Invitation.objects.filter(pk__in=renamed, space=form.instance).delete()
        for invitation in instances:
            services.cohost_name_in_advance(space=form.instance, by=request.user, user=invitation.user)
