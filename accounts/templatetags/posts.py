"""Template filters for post text: links, @mentions and #hashtags, safely."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from accounts.attachments import post_attachments
from accounts.text import render_post_text

register = template.Library()


@register.filter
def post_text(body: str) -> SafeString:
    return render_post_text(body or "")


@register.simple_tag(takes_context=True)
def post_attachments_of(context, post) -> SafeString:
    """What other apps attach to a post (a clip's player), as its viewer may see it."""
    return post_attachments.render(post, getattr(context.get("request"), "user", None))
