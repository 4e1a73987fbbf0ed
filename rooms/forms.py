"""Forms for scheduling, editing, reporting and sharing Spaces; each shows field errors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.forms import AccountForm
from accounts.models import User
from accounts.selectors import is_blocked_between

from . import access, services
from .models import Space, SpaceReport


class SpaceForm(forms.Form):
    title = forms.CharField(max_length=100, error_messages={"required": "Give your Space a title."})
    topics = forms.CharField(
        max_length=100,
        required=False,
        help_text=f"Up to {settings.SPACES_MAX_TOPICS} topics, separated by commas.",
    )
    start = forms.ChoiceField(
        choices=[("now", "Start now"), ("later", "Schedule for later")],
        initial="later",
        widget=forms.RadioSelect,
        label="When",
    )
    scheduled_for = forms.DateTimeField(
        required=False,
        label="Start time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=f"Up to {settings.SPACES_MAX_SCHEDULE_DAYS} days ahead.",
    )
    speaking_policy = forms.ChoiceField(
        choices=Space.SpeakingPolicy.choices, initial=Space.SpeakingPolicy.EVERYONE, label="Who can speak"
    )
    cohosts = forms.CharField(
        max_length=200, required=False, label="Co-hosts", help_text="Up to 2 usernames, separated by commas."
    )
    audience = forms.ChoiceField(
        choices=[(a.value, a.label) for a in (Space.Audience.PUBLIC, Space.Audience.SUPER_FOLLOWERS)],
        initial=Space.Audience.PUBLIC,
        required=False,
        label="Who can listen",
        help_text="A Space for Super Followers needs you to be enrolled in Super Follows.",
    )
    record = forms.BooleanField(
        required=False,
        label="Record this Space",
        help_text="Everyone in it sees REC and is told when they join; the replay stays on the Space's page.",
    )

    def __init__(self, *args, host: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.host = host
        label_in_local_time(self.fields["scheduled_for"])

    def clean_audience(self) -> str:
        audience = self.cleaned_data["audience"] or Space.Audience.PUBLIC
        decision = access.may_host_audience(user=self.host, audience=audience)
        if not decision:
            raise forms.ValidationError(decision.reason)
        return audience

    def clean_topics(self) -> list[str]:
        try:
            return services.clean_topics(self.cleaned_data["topics"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    def clean_cohosts(self) -> list[User]:
        names = [n.strip().lstrip("@") for n in self.cleaned_data["cohosts"].split(",") if n.strip()]
        if len(names) > settings.SPACES_MAX_COHOSTS:
            raise forms.ValidationError(f"A Space can have at most {settings.SPACES_MAX_COHOSTS} co-hosts.")
        users = []
        for name in names:
            user = User.objects.filter(username__iexact=name, is_active=True).first()
            if user is None:
                raise forms.ValidationError(f"No account is called @{name}.")
            if user.pk == self.host.pk:
                raise forms.ValidationError("You are the host; name someone else as co-host.")
            if is_blocked_between(self.host, user):  # the service refuses it too, but above the whole form
                raise forms.ValidationError(f"You can't name @{user.username} as a co-host.")
            users.append(user)
        return users

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") == "later":
            when = cleaned.get("scheduled_for")
            if when is None:
                if "scheduled_for" not in self.errors:
                    self.add_error("scheduled_for", "Choose when the Space starts.")
            else:
                try:
                    services.check_schedule_time(when)
                except ValidationError as exc:
                    self.add_error("scheduled_for", exc.messages)
                else:
                    scheduled = Space.objects.filter(host=self.host, state=Space.State.SCHEDULED).count()
                    if scheduled >= settings.SPACES_MAX_SCHEDULED_PER_HOST:
                        self.add_error(
                            "scheduled_for",
                            f"You already have {scheduled} scheduled Spaces; "
                            f"the most is {settings.SPACES_MAX_SCHEDULED_PER_HOST}.",
                        )
        return cleaned


def label_in_local_time(field: forms.Field) -> None:
    """Times typed are read in the host's zone (the middleware activates it); say which one."""
    field.label = f"Start time ({timezone.get_current_timezone_name()})"


class SpaceEditForm(forms.Form):
    title = forms.CharField(max_length=100, error_messages={"required": "Give your Space a title."})
    topics = forms.CharField(max_length=100, required=False, help_text="Up to 3 topics, separated by commas.")
    scheduled_for = forms.DateTimeField(
        label="Start time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    # Left out of the form (an older page), it stays as it was.
    speaking_policy = forms.ChoiceField(choices=Space.SpeakingPolicy.choices, label="Who can speak", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        label_in_local_time(self.fields["scheduled_for"])

    def clean_topics(self) -> list[str]:
        try:
            return services.clean_topics(self.cleaned_data["topics"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    def clean_speaking_policy(self) -> str | None:
        return self.cleaned_data["speaking_policy"] or None

    def clean_scheduled_for(self):
        when = self.cleaned_data["scheduled_for"]
        if when != self.initial.get("scheduled_for"):
            try:
                services.check_schedule_time(when)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
        return when


class SpaceReportForm(forms.Form):
    reason = forms.ChoiceField(choices=SpaceReport.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class UsernameForm(AccountForm):
    by_dm = forms.BooleanField(required=False, label="Also send a direct message")
