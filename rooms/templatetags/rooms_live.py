"""Template tags other apps' pages use to show live Spaces without importing rooms."""

from django import template

from rooms.selectors import live_bubbles_for, spaces_of

register = template.Library()


@register.inclusion_tag("rooms/_live_bubbles.html", takes_context=True)
def live_bubbles(context) -> dict:
    return {"live_bubbles": live_bubbles_for(user=context["request"].user)}


@register.inclusion_tag("rooms/_person_spaces.html", takes_context=True)
def person_spaces(context, person) -> dict:
    """A profile's live and upcoming Spaces."""
    return {**spaces_of(host=person, viewer=context["request"].user), "person": person}
