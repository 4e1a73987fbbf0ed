"""The box where someone types another person's username, drawn from the form that reads it (its limits)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from accounts.forms import AccountForm

register = template.Library()


@register.simple_tag
def username_input(auto_id: str, placeholder: str = "") -> SafeString:
    attrs = {"placeholder": placeholder} if placeholder else {}
    return AccountForm(auto_id=auto_id)["username"].as_widget(attrs=attrs)
