"""Which usernames may be chosen: a length, names reserved by the site, and the skeleton that finds lookalikes.

Lookalikes are compared by their skeleton, as Unicode's confusable detection (UTS #39) does: each
character is replaced by the prototype it is confusable with (Cyrillic `а` by Latin `a`, `1` and `I`
by `l`, `m` by `rn`), from the confusables data of the confusable-homoglyphs package, then case is
folded. Two names with the same skeleton look the same to a reader; sign-up refuses a name whose
skeleton an existing handle has (adapter.py), through the indexed column `User.username_skeleton`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, get_resolver

# What an @mention can name (accounts.text): letters, digits and "_", with "." or "-" only between them.
HANDLE = r"\w(?:[\w.\-]*\w)?"

# Not routes, but names people would take for the site speaking.
RESERVED_EXTRA = {
    "api", "static", "media", "root", "system", "support", "help", "about", "security", "staff",
    "moderator", "moderators", "official", "spaces", "settings", "login", "logout", "signup", "me",
    "everyone", "here", "null", "none", "undefined", "webmaster", "postmaster", "hostmaster", "noreply",
    "no-reply", "abuse", "billing", "payments", "tickets", "notifications", "messages",
}  # fmt: skip


def _prototype(char: str) -> str:
    entries = confusables_data.get(char)
    if not entries or len(entries) != 1:
        return char  # itself a prototype (or no lookalikes)
    target = entries[0]["c"].replace("\u200e", "").replace("\u200f", "")
    # The data goes both ways; only follow it towards ASCII or away from a non-ASCII character.
    return target if target.isascii() or not char.isascii() else char


def skeleton(name: str) -> str:
    """What `name` looks like: lookalike characters replaced by one prototype each, case folded."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(_prototype(c) for c in text).casefold()
    return "".join(_prototype(c) for c in unicodedata.normalize("NFKC", text))


def _first_segments(patterns, into: set[str]) -> None:
    for entry in patterns:
        if not isinstance(entry, (URLPattern, URLResolver)):
            continue
        route = str(entry.pattern).lstrip("^")
        segment = route.split("/", 1)[0]
        if not segment and isinstance(entry, URLResolver):
            _first_segments(entry.url_patterns, into)
        elif segment and not any(ch in segment for ch in "<(\\[?$"):
            into.add(segment.lower())


@cache
def reserved_names() -> frozenset[str]:
    """The first segment of every fixed route (admin, studio, accounts, money, …) and a few more."""
    names: set[str] = set(RESERVED_EXTRA)
    _first_segments(get_resolver().url_patterns, names)
    names |= {settings.STATIC_URL.strip("/").lower(), settings.MEDIA_URL.strip("/").lower()}
    return frozenset(n for n in names if n)


@cache
def _reserved_skeletons() -> frozenset[str]:
    return frozenset(skeleton(name) for name in reserved_names())


def validate_username(username: str) -> None:
    """Length and reserved names; no database look-up."""
    limit = settings.USERNAME_MAX_LENGTH
    if len(username) > limit:
        raise ValidationError(f"Usernames can be at most {limit} characters (this one has {len(username)}).")
    if not re.fullmatch(HANDLE, username):
        raise ValidationError(
            "A username can have letters, numbers and “_”, and “.” or “-” between them, so that @mentions find it."
        )
    if username.lower() in reserved_names() or skeleton(username) in _reserved_skeletons():
        raise ValidationError(f"@{username} is reserved by Spaces; choose another username.")
