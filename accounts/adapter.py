"""allauth hooks: the client's address behind trusted proxies, and which usernames may be chosen."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from spaces_site.client_ip import client_ip

from .usernames import validate_not_lookalike, validate_username


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's login, sign-up and reset limits count per this address.
        return client_ip(request)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        try:
            validate_username(username)
            if not shallow:
                validate_not_lookalike(username)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return super().clean_username(username, shallow=shallow)
