"""The live room page's first state and its people (rooms/room_page.py), for templates/rooms/room.html."""

from __future__ import annotations

from django import template

from rooms.room_page import first_state, person_html

register = template.Library()


@register.simple_tag
def room_first_state(welcome: dict, super_followers=()) -> dict:
    """`super_followers`: the host's, for their own page (ticketing's `super_follower_ids`); rooms does not
    import ticketing."""
    return first_state(welcome=welcome, super_followers=super_followers or ())


@register.simple_tag
def room_person(p: dict, css_class: str, report_url: str, row: bool = False) -> str:
    return person_html(p, css_class=css_class, report_url=report_url, row=row)
