"""Forms for people's input; each keeps what was typed and shows field errors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from . import images
from .audience import check_audience, may_write_for_super_followers
from .models import Post, Report, User
from .timezones import known_zones
from .validators import validate_date_of_birth


class SignupExtraForm(forms.Form):
    """Fields allauth's sign-up form adds to its own."""

    display_name = forms.CharField(max_length=50, required=False, label="Display name")
    date_of_birth = forms.DateField(
        required=False,
        label="Date of birth",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. Needed to sell tickets (18+).",
        validators=[validate_date_of_birth],
    )

    def signup(self, request, user: User) -> None:
        user.display_name = self.cleaned_data.get("display_name", "")
        user.date_of_birth = self.cleaned_data.get("date_of_birth")
        user.save(update_fields=["display_name", "date_of_birth"])


class ProfileForm(forms.ModelForm):
    # A plain file field: accounts.images reads the header itself, so an image bomb gets its own message.
    avatar = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": images.ACCEPT}),
        help_text=f"A JPEG, PNG, GIF or WebP image, at most {settings.AVATAR_MAX_BYTES / (1024 * 1024):g} MB.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times of Spaces and posts are shown in it; your browser sets it the first time you sign in.",
    )

    class Meta:
        model = User
        fields = ["display_name", "bio", "avatar", "date_of_birth", "time_zone", "message_policy"]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "bio": forms.Textarea(attrs={"rows": 3}),
            "message_policy": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", "UTC (not set)")] + [(z, z) for z in sorted(known_zones())]
        self.fields["message_policy"].required = False

    def clean_message_policy(self) -> str:
        # Left out of the form, it stays as it was.
        return self.cleaned_data["message_policy"] or self.instance.message_policy

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload or upload is True or not hasattr(upload, "content_type"):
            return upload  # unchanged, or cleared
        try:
            return images.avatar_from_upload(upload)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class PostForm(forms.Form):
    body = forms.CharField(
        label="What's happening?",
        max_length=settings.POST_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": settings.POST_MAX_LENGTH}),
        error_messages={"required": "A post can't be empty."},
    )
    # Every author's form has it, so a forged value gets a field error; only enrolled creators see it.
    audience = forms.ChoiceField(
        label="Who can read it",
        choices=Post.Audience.choices,
        initial=Post.Audience.EVERYONE,
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, author: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.author = author
        self.offers_audience = may_write_for_super_followers(author=author)

    def clean_audience(self) -> str:
        audience = self.cleaned_data["audience"] or Post.Audience.EVERYONE
        try:
            check_audience(author=self.author, audience=audience)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return audience


def text_field(*, label: str, limit: int, rows: int, if_empty: str) -> forms.CharField:
    """A stripped text box with the browser's length limit and the server's, and a plain empty-error."""
    return forms.CharField(
        label=label,
        max_length=limit,
        strip=True,
        widget=forms.Textarea(attrs={"rows": rows, "maxlength": limit}),
        error_messages={"required": if_empty},
    )


class ReplyForm(forms.Form):
    body = text_field(label="Your reply", limit=settings.POST_MAX_LENGTH, rows=2, if_empty="A reply can't be empty.")


class QuoteForm(forms.Form):
    body = text_field(
        label="Add a comment",
        limit=settings.POST_MAX_LENGTH,
        rows=3,
        if_empty="A quote needs your comment; to share as is, repost.",
    )


class MessageForm(forms.Form):
    body = text_field(label="Message", limit=settings.DM_MAX_LENGTH, rows=2, if_empty="A message can't be empty.")


class NewMessageForm(MessageForm):
    to = forms.CharField(label="To (username)", max_length=settings.USERNAME_MAX_LENGTH + 1)  # with its "@"

    field_order = ["to", "body"]

    def clean_to(self) -> User:
        username = self.cleaned_data["to"].strip().lstrip("@")
        try:
            return User.objects.get(username__iexact=username, is_active=True)
        except User.DoesNotExist:
            raise forms.ValidationError(f"No account is called @{username}.") from None


class AccountForm(forms.Form):
    """Someone's username (with or without @), cleaned to their active account."""

    username = forms.CharField(max_length=settings.USERNAME_MAX_LENGTH + 1, label="Username")  # with its "@"

    def clean_username(self) -> User:
        name = self.cleaned_data["username"].strip().lstrip("@")
        user = User.objects.filter(username__iexact=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No account is called @{name}.")
        return user

    @property
    def username_errors(self) -> str:
        return " ".join(self.errors.get("username", []))


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))
