"""Post text: checking its length, finding @mentions and #hashtags, and rendering them as links (escaped first)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.template.defaultfilters import linebreaksbr, urlize
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from .usernames import HANDLE

# A mention is not preceded by a word character (so e-mail addresses are not mentions) and does not
# end with a dot or dash ("thanks @bob." mentions bob).
MENTION = rf"(?<![\w@/])@(?P<mention>{HANDLE})"
# A hashtag has at least one letter (so "#1" is not one) and is not part of a word or an entity ("&#39;").
HASHTAG = r"(?<![\w#&/])#(?P<hashtag>\w*[^\W\d_]\w*)"
URL = r"(?P<url>https?://[^\s<>\"']+|www\.[^\s<>\"']+)"
TOKEN = re.compile(f"{URL}|{MENTION}|{HASHTAG}")
HASHTAG_MAX = 50


def mentioned_usernames(body: str) -> list[str]:
    """Usernames mentioned in `body`, in order, each once (case kept as typed)."""
    seen: dict[str, str] = {}
    for match in TOKEN.finditer(body):
        if name := match.group("mention"):
            seen.setdefault(name.lower(), name)
    return list(seen.values())


def hashtag_names(body: str) -> list[str]:
    """Hashtags in `body`, lower case, each once, in order; over-long ones are not hashtags."""
    seen: dict[str, None] = {}
    for match in TOKEN.finditer(body):
        if (name := match.group("hashtag")) and len(name) <= HASHTAG_MAX:
            seen.setdefault(name.lower())
    return list(seen)


def render_post_text(body: str) -> SafeString:
    """`body` as HTML: every piece of text escaped, then links, mentions and hashtags made into links.

    The raw string is split on the patterns, so nothing a person typed is ever read as markup and
    links are built around escaped text only."""
    parts: list[SafeString] = []
    last = 0
    for match in TOKEN.finditer(body):
        parts.append(linebreaksbr(body[last : match.start()], autoescape=True))
        if url := match.group("url"):
            parts.append(urlize(url, autoescape=True))
        elif name := match.group("mention"):
            href = reverse("accounts:profile", kwargs={"username": name})
            parts.append(format_html('<a class="mention" href="{}">@{}</a>', href, name))
        elif len(name := match.group("hashtag")) <= HASHTAG_MAX:
            href = reverse("accounts:hashtag", kwargs={"name": name.lower()})
            parts.append(format_html('<a class="hashtag" href="{}">#{}</a>', href, name))
        else:
            parts.append(escape(match.group(0)))
        last = match.end()
    parts.append(linebreaksbr(body[last:], autoescape=True))
    return format_html_join("", "{}", ((part,) for part in parts))


def clean_text(body: str, *, limit: int, what: str) -> str:
    """Text someone typed (a post, a reply, a message), stripped; empty or too long is refused."""
    body = (body or "").strip()
    if not body:
        raise ValidationError(f"{what} can't be empty.")
    if len(body) > limit:
        raise ValidationError(f"{what} can be at most {limit} characters (it has {len(body)}).")
    return body
