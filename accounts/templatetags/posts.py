"""Template filters for post text: links, @mentions and #hashtags, safely."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from accounts.text import render_post_text

register = template.Library()


@register.filter
def post_text(body: str) -> SafeString:
    return render_post_text(body or "")
