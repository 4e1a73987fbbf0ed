"""What people read: timelines, profiles, relationships, inboxes, unread counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Greatest

from .audience import context_readable_by, readable_by
from .models import Block, Conversation, Follow, Like, Message, Notification, Post, User
from .pagination import Page, newest_first

# How alike (0 to 1, pg_trgm's similarity) a name must be to a search to be shown.
PEOPLE_SEARCH_MIN_SIMILARITY = 0.3


def is_blocked_between(a: User, b: User) -> bool:
    return Block.objects.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a)).exists()


def has_blocked(*, blocker: User, blocked: User) -> bool:
    return Block.objects.filter(blocker=blocker, blocked=blocked).exists()


def _blocked_either_way(viewer: User, *, prefix: str = "") -> Q:
    """Posts (or their relation at `prefix`) by someone who blocked `viewer` or whom `viewer` blocked."""
    if not viewer.is_authenticated:
        return Q(pk__in=[])
    return Q(**{f"{prefix}author__in": Block.objects.filter(blocked=viewer).values("blocker_id")}) | Q(
        **{f"{prefix}author__in": Block.objects.filter(blocker=viewer).values("blocked_id")}
    )


def _hidden_from(viewer: User) -> Q:
    """Posts `viewer` never sees in a list: by, answering or sharing someone with a block either way, and by or
    sharing a suspended account."""
    return (
        Q(author__is_active=False)
        | Q(repost_of__author__is_active=False)
        | _blocked_either_way(viewer)
        | _blocked_either_way(viewer, prefix="repost_of__")
        | _blocked_either_way(viewer, prefix="reply_to__")
    )


def _with_conversation(posts: QuerySet[Post], viewer: User) -> QuerySet[Post]:
    """What a post card shows: its author, what it answers or shares, and whether `viewer` liked or
    reposted it (or, for a plain repost, the original), in the same one query."""
    posts = posts.select_related("author", "reply_to__author", "repost_of__author")
    if not viewer.is_authenticated:
        return posts
    likes = Like.objects.filter(user=viewer)
    reposts = Post.objects.filter(author=viewer, body="")
    return posts.annotate(
        liked=Exists(likes.filter(post=OuterRef("pk"))),
        reposted=Exists(reposts.filter(repost_of=OuterRef("pk"))),
        original_liked=Exists(likes.filter(post=OuterRef("repost_of"))),
        original_reposted=Exists(reposts.filter(repost_of=OuterRef("repost_of"))),
    )


def _carry_viewer_state(posts: list[Post]) -> list[Post]:
    for post in posts:
        if post.is_plain_repost:
            post.repost_of.liked = getattr(post, "original_liked", False)
            post.repost_of.reposted = getattr(post, "original_reposted", False)
    return posts


def timeline_for(*, user: User, cursor: str | None = None, limit: int | None = None) -> Page[Post]:
    """Posts, replies and reposts by the accounts `user` follows and by `user` that `user` may read: one
    query whatever the follow count (posts for Super Followers only are left out, not shown locked)."""
    followed = Follow.objects.filter(follower=user).values("followee_id")
    posts = (
        Post.objects.filter(Q(author__in=Subquery(followed)) | Q(author=user))
        .filter(readable_by(user))
        .exclude(_hidden_from(user))
    )
    page = newest_first(_with_conversation(posts, user), cursor=cursor, limit=limit or settings.TIMELINE_PAGE_SIZE)
    _carry_viewer_state(page.items)
    return page


def posts_by(
    *, author: User, viewer: User | None = None, cursor: str | None = None, limit: int | None = None
) -> Page[Post]:
    """An author's posts as `viewer` sees them: those `viewer` may not read come locked, their text
    never leaving the database (`locked` set, `body` empty); replies under, and reposts of, posts
    `viewer` may not read are left out."""
    viewer = viewer or AnonymousUser()
    posts = (
        Post.objects.filter(author=author)
        .filter(context_readable_by(viewer))
        .exclude(_hidden_from(viewer))
        .annotate(locked=ExpressionWrapper(~readable_by(viewer), output_field=BooleanField()))
        .annotate(shown_body=Case(When(locked=True, then=Value("")), default=F("body")))
        .defer("body")
    )
    page = newest_first(_with_conversation(posts, viewer), cursor=cursor, limit=limit or settings.TIMELINE_PAGE_SIZE)
    for post in page.items:
        post.body = post.shown_body
    _carry_viewer_state(page.items)
    return page


def posts_public(*, limit: int = 10) -> list[Post]:
    """The newest posts for everyone that start a conversation (no replies or plain reposts): what a
    visitor who is not signed in reads on the front door."""
    posts = Post.objects.filter(audience=Post.Audience.EVERYONE, reply_to__isnull=True).exclude(body="")
    posts = posts.filter(readable_by(AnonymousUser()))
    return list(_with_conversation(posts, AnonymousUser()).order_by("-created_at", "-pk")[:limit])


def post_for(*, pk: int, username: str, viewer: User) -> Post | None:
    """One post with what its card shows, for its page."""
    posts = Post.objects.filter(pk=pk, author__username=username, author__is_active=True)
    post = _with_conversation(posts, viewer).first()
    return _carry_viewer_state([post])[0] if post else None


def thread_above(*, post: Post, viewer: User, depth: int = 10) -> list[Post]:
    """The posts `post` answers, oldest first, as far as `viewer` may read them (up to `depth`)."""
    above: list[Post] = []
    parent_id = post.reply_to_id
    while parent_id and len(above) < depth:
        parent = (
            _with_conversation(Post.objects.filter(pk=parent_id), viewer)
            .filter(readable_by(viewer))
            .exclude(_hidden_from(viewer))
            .first()
        )
        if parent is None:
            break
        above.append(parent)
        parent_id = parent.reply_to_id
    return above[::-1]


def replies_to(*, post: Post, viewer: User, limit: int = 100) -> list[Post]:
    """The direct replies to `post` that `viewer` may read, oldest first."""
    replies = Post.objects.filter(reply_to=post).filter(readable_by(viewer)).exclude(_hidden_from(viewer))
    return list(_with_conversation(replies, viewer).order_by("created_at", "pk")[:limit])


def posts_tagged(*, name: str, viewer: User, cursor: str | None = None, limit: int | None = None) -> Page[Post]:
    """Posts carrying `#name` that `viewer` may read, newest first."""
    posts = Post.objects.filter(hashtags__name=name.lower()).filter(readable_by(viewer)).exclude(_hidden_from(viewer))
    page = newest_first(_with_conversation(posts, viewer), cursor=cursor, limit=limit or settings.TIMELINE_PAGE_SIZE)
    _carry_viewer_state(page.items)
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
    # Each a lookup of one pair: counting over the joins read a famous account's every follower.
    row = (
        User.objects.filter(pk=other.pk)
        .annotate(
            following=Exists(Follow.objects.filter(follower=viewer, followee=OuterRef("pk"))),
            followed_by=Exists(Follow.objects.filter(follower=OuterRef("pk"), followee=viewer)),
            blocking=Exists(Block.objects.filter(blocker=viewer, blocked=OuterRef("pk"))),
            blocked_by=Exists(Block.objects.filter(blocker=OuterRef("pk"), blocked=viewer)),
        )
        .values("following", "followed_by", "blocking", "blocked_by")
        .first()
    )
    return Relationship(**row) if row else Relationship()


def followers_of(*, user: User) -> QuerySet[User]:
    """The accounts following `user`, newest first; a suspended one's profile is gone, so it is not listed."""
    people = User.objects.filter(following_links__followee=user, is_active=True)
    return people.order_by("-following_links__created_at")


def following_of(*, user: User) -> QuerySet[User]:
    people = User.objects.filter(follower_links__follower=user, is_active=True)
    return people.order_by("-follower_links__created_at")


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


def messages_in(*, conversation: Conversation, after: int | None = None) -> QuerySet[Message]:
    """The conversation's messages, oldest first; with `after`, only those newer than that message id."""
    messages = conversation.messages.select_related("sender").order_by("created_at", "pk")
    return messages.filter(pk__gt=after) if after is not None else messages


def notifications_for(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("actor").order_by("-created_at", "-pk")


def unread_notification_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def unread_message_count(*, user_id: int) -> int:
    return Message.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def who_to_follow(*, user: User, limit: int = 5) -> list[User]:
    """Accounts followed by the people `user` follows, the most-followed-by-them first ("followed by 3
    people you follow"); topped up with popular accounts for someone who follows few. Never someone
    already followed, inactive, or with a block either way."""
    candidates = (
        User.objects.exclude(pk=user.pk)
        .exclude(follower_links__follower=user)
        .exclude(blocks_made__blocked=user)
        .exclude(blocks_received__blocker=user)
        .filter(is_active=True)
    )
    # Counted over the friends' follows, never over a candidate's followers: a famous account has them all. The
    # ids are read first so that the planner knows how few they are (as a subquery it guessed 500 and scanned).
    followed = list(Follow.objects.filter(follower=user).values_list("followee_id", flat=True))
    by_friends = (
        Follow.objects.filter(follower__in=followed, followee__in=candidates.values("pk"))
        .values("followee_id")
        .annotate(friends=Count("pk"))
        .order_by("-friends", "-followee__followers_count", "followee_id")[:limit]
    )
    friends = {row["followee_id"]: row["friends"] for row in by_friends}
    popular = candidates.exclude(pk__in=list(friends)).order_by("-followers_count", "pk").values("pk")[:limit]
    people = list(User.objects.filter(Q(pk__in=list(friends)) | Q(pk__in=popular)))
    for person in people:
        person.followed_by_friends = friends.get(person.pk, 0)
    return sorted(people, key=lambda p: (-p.followed_by_friends, -p.followers_count, p.pk))[:limit]


def people_search(*, query: str, viewer: User, limit: int = 30) -> list[User]:
    """People whose username or name looks like `query`: trigram similarity on PostgreSQL (typos
    forgiven), a substring match elsewhere; closest and then most followed first."""
    query = query.strip().lstrip("@")[:50]
    if not query:
        return []
    people = User.objects.filter(is_active=True)
    if viewer.is_authenticated:
        people = people.exclude(blocks_made__blocked=viewer).exclude(blocks_received__blocker=viewer)
    contains = Q(username__icontains=query) | Q(display_name__icontains=query)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import TrigramSimilarity

        people = people.annotate(
            closeness=Greatest(TrigramSimilarity("username", query), TrigramSimilarity("display_name", query))
        ).filter(contains | Q(closeness__gte=PEOPLE_SEARCH_MIN_SIMILARITY))
        return list(people.order_by("-closeness", "-followers_count", "pk")[:limit])
    starts = Case(
        When(Q(username__istartswith=query) | Q(display_name__istartswith=query), then=Value(1)),
        default=Value(0),
    )
    people = people.filter(contains).annotate(closeness=starts)
    return list(people.order_by("-closeness", "-followers_count", "pk")[:limit])
