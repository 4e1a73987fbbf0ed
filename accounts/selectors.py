"""What people read: timelines, profiles, relationships, inboxes, unread counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from .audience import readable_by
from .models import Block, Conversation, Follow, Message, Notification, Post, User
from .pagination import Page, newest_first


def is_blocked_between(a: User, b: User) -> bool:
    return Block.objects.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a)).exists()


def has_blocked(*, blocker: User, blocked: User) -> bool:
    return Block.objects.filter(blocker=blocker, blocked=blocked).exists()


def timeline_for(*, user: User, cursor: str | None = None, limit: int | None = None) -> Page[Post]:
    """Posts by the accounts `user` follows and by `user` that `user` may read: one query whatever the
    follow count (posts for Super Followers only are left out, not shown locked)."""
    followed = Follow.objects.filter(follower=user).values("followee_id")
    posts = (
        Post.objects.filter(Q(author__in=Subquery(followed)) | Q(author=user))
        .filter(readable_by(user))
        .exclude(author__in=Block.objects.filter(blocked=user).values("blocker_id"))
        .select_related("author")
    )
    return newest_first(posts, cursor=cursor, limit=limit or settings.TIMELINE_PAGE_SIZE)


def posts_by(
    *, author: User, viewer: User | None = None, cursor: str | None = None, limit: int | None = None
) -> Page[Post]:
    """An author's posts as `viewer` sees them: those `viewer` may not read come locked, their text
    never leaving the database (`locked` set, `body` empty)."""
    viewer = viewer or AnonymousUser()
    posts = (
        Post.objects.filter(author=author)
        .select_related("author")
        .annotate(locked=ExpressionWrapper(~readable_by(viewer), output_field=BooleanField()))
        .annotate(shown_body=Case(When(locked=True, then=Value("")), default=F("body")))
        .defer("body")
    )
    page = newest_first(posts, cursor=cursor, limit=limit or settings.TIMELINE_PAGE_SIZE)
    for post in page.items:
        post.body = post.shown_body
    return page


@dataclass(frozen=True)
class Relationship:
    following: bool = False
    followed_by: bool = False
    blocking: bool = False
    blocked_by: bool = False


def relationship_between(*, viewer: User, other: User) -> Relationship:
    if not viewer.is_authenticated or viewer.pk == other.pk:
        return Relationship()
    row = User.objects.filter(pk=other.pk).aggregate(
        following=Count("follower_links", filter=Q(follower_links__follower=viewer)),
        followed_by=Count("following_links", filter=Q(following_links__followee=viewer)),
        blocking=Count("blocks_received", filter=Q(blocks_received__blocker=viewer)),
        blocked_by=Count("blocks_made", filter=Q(blocks_made__blocked=viewer)),
    )
    return Relationship(**{key: bool(value) for key, value in row.items()})


def followers_of(*, user: User) -> QuerySet[User]:
    return User.objects.filter(following_links__followee=user).order_by("-following_links__created_at")


def following_of(*, user: User) -> QuerySet[User]:
    return User.objects.filter(follower_links__follower=user).order_by("-follower_links__created_at")


def followed_ids_among(*, viewer: User, users: list[User]) -> set[int]:
    """Which of `users` the viewer follows, in one query (follow buttons in lists)."""
    if not viewer.is_authenticated:
        return set()
    return set(Follow.objects.filter(follower=viewer, followee__in=users).values_list("followee_id", flat=True))


def inbox_for(*, user: User) -> QuerySet[Conversation]:
    unread = Message.objects.filter(conversation=OuterRef("pk"), recipient=user, read_at__isnull=True)
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-pk")
    return (
        Conversation.objects.filter(Q(user_a=user) | Q(user_b=user))
        .select_related("user_a", "user_b")
        .annotate(
            unread=Subquery(unread.values("conversation").annotate(n=Count("pk")).values("n")[:1]),
            last_body=Subquery(last.values("body")[:1]),
        )
        .order_by("-last_message_at")
    )


def conversation_for(*, user: User, pk: int) -> Conversation | None:
    return (
        Conversation.objects.filter(Q(user_a=user) | Q(user_b=user), pk=pk).select_related("user_a", "user_b").first()
    )


def messages_in(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("sender").order_by("created_at", "pk")


def notifications_for(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("actor").order_by("-created_at", "-pk")


def unread_notification_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def unread_message_count(*, user_id: int) -> int:
    return Message.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def who_to_follow(*, user: User, limit: int = 5) -> QuerySet[User]:
    """Popular accounts the user does not follow yet and has no block with."""
    return (
        User.objects.exclude(pk=user.pk)
        .exclude(follower_links__follower=user)
        .exclude(blocks_made__blocked=user)
        .exclude(blocks_received__blocker=user)
        .filter(is_active=True)
        .order_by("-followers_count", "pk")[:limit]
    )
