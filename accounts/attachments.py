"""What other apps show inside a post (a clip's player, say), registered so accounts never imports them."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from .models import Post, User

# (post, viewer) -> HTML (a SafeString) to show under the post's text, or "" when the post has nothing of theirs.
AttachmentRenderer = Callable[[Post, User | None], str]


class PostAttachments:
    def __init__(self) -> None:
        self._renderers: list[AttachmentRenderer] = []

    def register(self, renderer: AttachmentRenderer) -> None:
        if renderer not in self._renderers:
            self._renderers.append(renderer)

    def unregister(self, renderer: AttachmentRenderer) -> None:
        if renderer in self._renderers:
            self._renderers.remove(renderer)

    def render(self, post: Post, viewer: User | None) -> SafeString:
        parts = [html for renderer in self._renderers if (html := renderer(post, viewer))]
        # A renderer's SafeString (a rendered template) stays as it is; anything else is escaped.
        return format_html_join("", "{}", ((part,) for part in parts))


post_attachments = PostAttachments()
