"""People on a page: a name that links to their profile (or says they are suspended, their profile gone), and
the box where someone types another person's username, drawn from the form that reads it (its limits)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.forms import AccountForm
from accounts.models import User

register = template.Library()


@register.simple_tag
def person_link(person: User, handle: bool = False) -> SafeString:
    """ "Name" linked, with "(@username)" if `handle`; a suspended account's name unlinked, "(…suspended)"."""
    if person.is_active:
        link = format_html('<a href="{}">{}</a>', person.get_absolute_url(), person.name)
        return format_html("{} (@{})", link, person.username) if handle else link
    if handle:
        return format_html("{} (@{}, suspended)", person.name, person.username)
    return format_html("{} (suspended)", person.name)


@register.simple_tag
def username_input(auto_id: str, placeholder: str = "") -> SafeString:
    attrs = {"placeholder": placeholder} if placeholder else {}
    return AccountForm(auto_id=auto_id)["username"].as_widget(attrs=attrs)
