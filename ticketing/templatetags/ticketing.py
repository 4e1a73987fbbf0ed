"""Template tags the rest of the site uses to show Super Follows and tips."""

from __future__ import annotations

from django import template

from accounts.models import User
from ticketing import selectors
from ticketing.forms import TipForm
from ticketing.models import Sale, TicketOffer
from ticketing.money import format_cents

register = template.Library()


@register.filter
def cents(value: int | None) -> str:
    """2999 -> "$29.99"."""
    return format_cents(value)


@register.filter
def percent(value: float | None) -> str:
    """0.125 -> "12.5%"; None (nothing to divide by) -> "–"."""
    return "–" if value is None else f"{value * 100:.1f}%"


@register.filter
def sale_kind(value: str) -> str:
    return Sale.Kind(value).label if value in Sale.Kind.values else value


@register.inclusion_tag("ticketing/_super_follow_button.html", takes_context=True)
def super_follow_button(context, creator: User) -> dict:
    """Plans on offer (or the viewer's live Super Follow) for a creator's profile."""
    return {
        "offer": selectors.super_follow_offer_for(viewer=context["request"].user, creator=creator),
        **context.flatten(),
    }


@register.simple_tag
def super_followers_among(creator: User, rows, attribute: str) -> set[int]:
    """The ids among `rows`' `attribute` (e.g. "author_id") that super-follow `creator`: one query per page,
    for the Super Follower badge the creator sees next to those names."""
    if not creator.is_authenticated:
        return set()
    return selectors.super_follower_ids_among(creator=creator, user_ids=[getattr(row, attribute) for row in rows])


@register.simple_tag
def super_follower_ids(creator: User) -> list[int]:
    return selectors.super_follower_ids_of(creator=creator)


@register.simple_tag
def tickets_to_refund(space) -> selectors.Totals:
    return selectors.tickets_to_refund(space=space)


@register.inclusion_tag("ticketing/_ticket_box.html", takes_context=True)
def ticket_box(context, space) -> dict:
    """On a Space's page: its ticket offer, or for its host a link to start selling."""
    return {
        "space": space,
        "offer": TicketOffer.objects.filter(space=space).first(),
        "is_host": space.host_id == context["request"].user.pk,
    }


@register.inclusion_tag("ticketing/_tip_panel.html", takes_context=True)
def tip_panel(context, space) -> dict:
    """The tip form for listeners of a live Space and the feed of tips as they arrive. A page that has asked
    whether the person may join passes the answer as `decision` (the room page does); else it is asked here."""
    user = context["request"].user
    is_host = user.pk == space.host_id
    return {
        "space": space,
        "is_host": is_host,
        "refusal": ""
        if is_host
        else selectors.may_tip(space=space, tipper=user, may_join=context.get("decision")).reason,
        "form": TipForm(auto_id="tip_%s"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("ticketing/_creator_links.html", takes_context=True)
def creator_links(context) -> dict:
    """On the viewer's own profile: their creator tools, the sales dashboard once they are a creator, and what
    they bought."""
    return {"is_creator": context.get("is_creator", False)}
