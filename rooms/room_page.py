"""The live room page's first state, drawn by the server from the `welcome` its socket is about to be sent.

room.js draws the room from `welcome` on; drawn empty before it, the page moved as the stage, the lists and the
controls arrived (a listener's page shifted 5 times in its first 2 s, cumulative layout shift 0.50 at 390 px),
and a click made meanwhile could land on whatever moved under it. This is room.js's `render()` in Python, with
the same markup (`person_html`), so the page keeps the server's nodes when `welcome` says the same: a change to
one is a change to the other (tests/rooms/test_browser.py checks the nodes are kept).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from html import escape  # what Django's escape does, without its lazy-string wrapper (a page calls it 600 times)
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from .models import SPEAKING_ROLES, Role

# room.js's `data-show` states; any other `data-show` names a message type the socket may send.
FLAGS = ("can-ask", "hand-up", "invited")


def first_state(*, welcome: dict[str, Any], super_followers: Iterable[int] = (), now: datetime | None = None) -> dict:
    """What room.js's `render()` shows after `welcome` (rooms.selectors.room_snapshot): the stage, the listeners,
    the queue of hands with their rows' actions, the counts, the person's role and which `data-show` controls
    are shown (`shown`)."""
    now = now or timezone.now()
    me = welcome["me"]
    people: dict[int, dict] = {}
    for p in [*welcome["speakers"], *welcome["listeners"], me]:
        people[p["user_id"]] = {**people.get(p["user_id"], {}), **p}
    can = set(welcome["can"])
    invited = welcome["invited"] and "speak" not in can  # on the stage the invitation is spent
    room = _Room(
        my_id=me["user_id"],
        can_target=welcome["can_target"],
        blocked=set(welcome["blocked_ids"]),
        super_followers=set(super_followers),
    )
    speakers = sorted(
        (p for p in people.values() if p["role"] in SPEAKING_ROLES),
        key=lambda p: 99 if p["speaker_index"] is None else p["speaker_index"],
    )
    listeners = [p for p in people.values() if p["role"] not in SPEAKING_ROLES]
    hands = sorted((p for p in people.values() if p["hand"]), key=lambda p: p["hand_at"] or "~")
    flags = {
        "can-ask": "raise_hand" in can
        and "speak" not in can
        and welcome["may_request"]
        and not me["hand"]
        and not invited,
        "hand-up": me["hand"],
        "invited": "accept_invite" in can and invited,
    }
    next_speaker = next((p for p in hands if "approve" in room.may_do(p)), None)
    return {
        "speakers": [room.person(p) for p in speakers],
        "listeners": [room.person(p) for p in listeners],
        "hands": [room.hand_row(p, position, now) for position, p in enumerate(hands, start=1)],
        "next_speaker": next_speaker,
        "hand_count": len(hands),
        "listener_count": max(len(listeners), welcome["listener_count"]),
        "role": me["role"],
        "role_name": Role(me["role"]).label,
        "on_stage": "speak" in can,
        "shown": {name for name in can if name not in FLAGS} | {name for name, on in flags.items() if on},
        "blocked_speakers": [p for p in speakers if p["user_id"] in room.blocked and p["user_id"] != room.my_id],
        "host_away": _host_away(welcome["host_away"], now),
    }


class _Room:
    """What the person whose page it is may do to each of the others, and how each is tagged for them."""

    def __init__(self, *, my_id: int, can_target: dict, blocked: set[int], super_followers: set[int]) -> None:
        self.my_id, self.can_target, self.blocked, self.super_followers = my_id, can_target, blocked, super_followers

    def may_do(self, p: dict) -> set[str]:
        return set() if p["user_id"] == self.my_id else set(self.can_target.get(p["role"], []))

    def person(self, p: dict) -> dict:
        speaking = p["role"] in SPEAKING_ROLES
        tags = []
        if p["role"] != Role.LISTENER:
            tags.append((f"role-{p['role']}", Role(p["role"]).label))
        if p["user_id"] in self.super_followers:
            tags.append(("super-follower", "Super Follower"))
        if speaking and p["muted"]:
            tags.append(("muted-badge", "Muted"))
        if p["hand"]:
            tags.append(("hand", "Hand raised"))
        if p["user_id"] in self.blocked:
            tags.append(("warn", "You blocked this account"))
        return {
            **p,
            "muted_on_stage": speaking and p["muted"],
            "slot": p["speaker_index"] if speaking else None,
            "tags": tags,
            "menu": None if p["user_id"] == self.my_id else self._menu(p),
        }

    def _menu(self, p: dict) -> list[tuple[str, str]]:
        # A raised hand is approved from the queue instead; "Remove co-host" is already how a co-host becomes a
        # listener.
        may = self.may_do(p)
        items = []
        if "invite" in may and not p["hand"]:
            items.append(("Invite to speak", "invite"))
        if "mute" in may and not p["muted"]:
            items.append(("Mute", "mute"))
        if "make_listener" in may and "remove_cohost" not in may:
            items.append(("Make listener", "make_listener"))
        for action, label in (
            ("add_cohost", "Make co-host"),
            ("remove_cohost", "Remove co-host"),
            ("remove", "Remove"),
        ):
            if action in may:
                items.append((label, action))
        return items

    def hand_row(self, p: dict, position: int, now: datetime) -> dict:
        may = self.may_do(p)
        actions = [(label, action, primary) for label, action, primary in _HAND_ACTIONS if action in may]
        return {**self.person(p), "position": position, "waited": _waited(p["hand_at"], now), "actions": actions}


_HAND_ACTIONS = (("Approve", "approve", True), ("Decline", "decline", False))


def _waited(hand_at: str | None, now: datetime) -> str:
    if not hand_at:
        return ""
    minutes = max(0, math.floor((now - datetime.fromisoformat(hand_at)).total_seconds() / 60))
    return "waiting less than a minute" if minutes < 1 else f"waiting {minutes} min"


def _host_away(event: dict | None, now: datetime) -> str:
    """The banner room.js shows while the host reconnects, as it reads when the page is drawn."""
    if not event:
        return ""
    left = max(0, round((datetime.fromisoformat(event["ends_at"]) - now).total_seconds()))
    return f"The host is reconnecting. The Space ends in {left // 60}:{left % 60:02d} unless they're back."


def person_html(p: dict, *, css_class: str, report_url: str, row: bool = False) -> SafeString:
    """One person as room.js's person() and handRow() draw them, byte for byte once the browser has read it: no
    white space between the tags; a row's actions come before its menu (a row without a menu is the person's own).
    Built here rather than in a template: a page draws up to a hundred and twenty of them, and a followers' rush
    draws thousands of pages (an included template per person was a fifth of a server's time)."""
    user = p["user_id"]
    muted = ' data-muted="true"' if p["muted_on_stage"] else ""
    slot = f' data-speaker-index="{p["slot"]}"' if p["slot"] is not None else ""
    name = escape(p["name"])
    parts = [f'<li class="{css_class}" data-user="{user}" data-role="{escape(p["role"])}"{muted}>']
    if row:
        parts.append(f'<span class="queue-position">{p["position"]}.</span>')
    parts.append(
        f'<span class="avatar" aria-hidden="true"{slot}>{escape(p["initial"])}</span>'
        f'<span class="person-name"><strong>{name}</strong> <span class="muted small">@{escape(p["username"])}</span>'
        "</span>"
    )
    if row:
        parts.append(f'<span class="small muted hand-wait">{escape(p["waited"])}</span>')
    parts.append('<span class="room-tags">')
    parts.extend(f'<span class="tag {tag}">{escape(text)}</span>' for tag, text in p["tags"])
    parts.append("</span>")
    if row and p["actions"]:
        parts.append('<span class="actions">')
        parts.extend(
            f'<button type="button" class="{"" if primary else "secondary "}small-button" data-act="{action}" '
            f'data-user="{user}">{label}</button>'
            for label, action, primary in p["actions"]
        )
        parts.append("</span>")
    if p["menu"] is not None:
        parts.append(
            f'<details class="person-menu" data-menu-for="{user}"><summary class="person-menu-button">'
            f'<span aria-hidden="true">⋯</span><span class="visually-hidden">Options for {name}</span></summary>'
            '<div class="person-menu-items">'
        )
        parts.extend(
            f'<button type="button" class="secondary small-button" data-act="{action}" data-user="{user}">'
            f"{label}</button>"
            for label, action in p["menu"]
        )
        parts.append(f'<a href="{escape(report_url)}?user={user}" class="small">Report</a></div></details>')
    parts.append("</li>")
    return mark_safe("".join(parts))  # noqa: S308 - every value from the person is escaped above
