"""Who may write and read posts for Super Followers only.

accounts knows posts but not subscriptions: the app that sells Super Follows (ticketing) registers
the answers in its AppConfig.ready(), so accounts never imports it. Until something is registered,
nobody may write such posts and only their authors read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from .models import Post, User


@dataclass(frozen=True)
class SuperFollows:
    # The ids of the creators `user` super-follows now, as a `values("creator_id")`-style queryset,
    # so the readers' rule stays a subquery inside the timeline's one query.
    creator_ids_of: Callable[[User], QuerySet]
    # Whether `user` is enrolled in Super Follows and so may write for Super Followers.
    is_enrolled: Callable[[User], bool]


_super_follows: SuperFollows | None = None


def register_super_follows(provider: SuperFollows) -> None:
    global _super_follows
    _super_follows = provider


def unregister_super_follows() -> None:
    global _super_follows
    _super_follows = None


def _own_rule(viewer: User, prefix: str) -> Q:
    rule = Q(**{f"{prefix}audience": Post.Audience.EVERYONE})
    if not viewer.is_authenticated:
        return rule
    rule |= Q(**{f"{prefix}author": viewer})
    if _super_follows is not None:
        rule |= Q(**{f"{prefix}author__in": _super_follows.creator_ids_of(viewer)})
    return rule


def readable_by(viewer: User, *, prefix: str = "") -> Q:
    """The posts `viewer` may read, as a filter on Post (or on a relation to it, with `prefix`).

    A reply or a repost is readable only with the post it answers or shares, so a reply under a
    post for Super Followers, or a quote of one, never shows it to others."""
    return _own_rule(viewer, prefix) & context_readable_by(viewer, prefix=prefix)


def context_readable_by(viewer: User, *, prefix: str = "") -> Q:
    """The posts whose parent (for a reply) and original (for a repost or quote) `viewer` may read."""
    rule = Q()
    for relation in ("reply_to", "repost_of"):
        rule &= Q(**{f"{prefix}{relation}__isnull": True}) | _own_rule(viewer, f"{prefix}{relation}__")
    return rule


def can_read(*, post: Post, viewer: User) -> bool:
    if not post.for_super_followers and post.reply_to_id is None and post.repost_of_id is None:
        return True
    return Post.objects.filter(readable_by(viewer), pk=post.pk).exists()


def may_write_for_super_followers(*, author: User) -> bool:
    return _super_follows is not None and _super_follows.is_enrolled(author)


def check_audience(*, author: User, audience: str) -> None:
    """Raise ValidationError unless `author` may post to `audience`."""
    if audience not in Post.Audience.values:
        raise ValidationError("Choose who can read this post.")
    if audience == Post.Audience.SUPER_FOLLOWERS and not may_write_for_super_followers(author=author):
        raise ValidationError("Only creators enrolled in Super Follows can post for Super Followers.")
