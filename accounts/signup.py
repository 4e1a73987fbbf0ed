"""The sign-up form: allauth's, with the username limit Spaces keeps (accounts.usernames), not the column's 150."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.conf import settings
from django.core.validators import MaxLengthValidator


class SignupForm(AllauthSignupForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.USERNAME_MAX_LENGTH
        field = self.fields["username"]
        field.max_length = limit
        field.widget.attrs["maxlength"] = str(limit)
        too_long = "Usernames can be at most %(limit_value)d characters (this one has %(show_value)d)."
        field.validators = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]
        field.validators.append(MaxLengthValidator(limit, message=too_long))
        field.help_text = f"At most {limit} characters: letters, numbers and “_”, with “.” or “-” between them."
