"""allauth hooks: the client's address behind trusted proxies, which usernames may be chosen, and emails
that greet the site by its name (SITE_NAME), not by the host the request came to."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django import forms
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from spaces_site.client_ip import client_ip

from .models import User
from .usernames import skeleton, validate_username


@dataclass(frozen=True)
class NamedSite:
    name: str
    domain: str


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

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = context.get("request") or allauth_context.request
        site = NamedSite(name=settings.SITE_NAME, domain=get_current_site(request).domain)
        super().send_mail(template_prefix, email, {**context, "current_site": site})


def validate_not_lookalike(username: str, *, exclude_pk: int | None = None) -> None:
    """Refuse a name that looks like an existing handle (the same skeleton)."""
    others = User.objects.filter(username_skeleton=skeleton(username)).exclude(username__iexact=username)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    match = others.values_list("username", flat=True).first()
    if match is not None:
        raise ValidationError(f"@{username} looks too much like the existing account @{match}; choose another.")
