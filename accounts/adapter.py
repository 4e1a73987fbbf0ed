"""allauth's hooks: emails greet the site by its name (SITE_NAME), not by the host the request came to."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site


@dataclass(frozen=True)
class NamedSite:
    name: str
    domain: str


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = context.get("request") or allauth_context.request
        site = NamedSite(name=settings.SITE_NAME, domain=get_current_site(request).domain)
        super().send_mail(template_prefix, email, {**context, "current_site": site})
