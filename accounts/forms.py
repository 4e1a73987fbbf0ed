"""Forms for people's input; each keeps what was typed and shows field errors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from . import images
from .audience import check_audience, may_write_for_super_followers
from .models import Post, Report, User
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

    class Meta:
        model = User
        fields = ["display_name", "bio", "avatar", "date_of_birth"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}), "bio": forms.Textarea(attrs={"rows": 3})}

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


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=settings.DM_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": settings.DM_MAX_LENGTH}),
        error_messages={"required": "A message can't be empty."},
    )


class NewMessageForm(MessageForm):
    to = forms.CharField(label="To (username)", max_length=150)

    field_order = ["to", "body"]

    def clean_to(self) -> User:
        username = self.cleaned_data["to"].strip().lstrip("@")
        try:
            return User.objects.get(username__iexact=username, is_active=True)
        except User.DoesNotExist:
            raise forms.ValidationError(f"No account is called @{username}.") from None


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))
