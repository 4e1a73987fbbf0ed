"""Template tags the rest of the site uses to show Super Follows."""

from __future__ import annotations

from django import template

from accounts.models import User
from ticketing import selectors

register = template.Library()


@register.inclusion_tag("ticketing/_super_follow_button.html", takes_context=True)
def super_follow_button(context, creator: User) -> dict:
    """Plans on offer (or the viewer's live Super Follow) for a creator's profile."""
    return {
        "offer": selectors.super_follow_offer_for(viewer=context["request"].user, creator=creator),
        **context.flatten(),
    }
