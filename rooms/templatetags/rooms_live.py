"""Template tags other apps' pages use to show live Spaces without importing rooms."""

from django import template

from rooms.selectors import live_bubbles_for, space_signing_in_to, spaces_of

register = template.Library()


@register.inclusion_tag("rooms/_live_bubbles.html", takes_context=True)
def live_bubbles(context) -> dict:
    return {"live_bubbles": live_bubbles_for(user=context["request"].user)}


@register.inclusion_tag("rooms/_person_spaces.html", takes_context=True)
def person_spaces(context, person) -> dict:
    """A profile's live and upcoming Spaces."""
    return {**spaces_of(host=person, viewer=context["request"].user), "person": person}


@register.inclusion_tag("rooms/_signing_in_to.html", takes_context=True)
def signing_in_to(context, action: str = "Sign in") -> dict:
    """On the sign-in and sign-up pages: which Space the person is on their way to, and why they were sent here."""
    request = context["request"]
    next_url = request.GET.get("next") or request.POST.get("next", "")  # a form sent back with errors: POST
    return {"space": space_signing_in_to(next_url), "signed_out": "signed_out" in request.GET, "action": action}
