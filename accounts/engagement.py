"""Conversations around posts: likes, replies, reposts and quotes, mentions and hashtags.

Every action respects blocks (either way) and who may read the post (accounts.audience); the
author hears of each kind once per post, in one notification that gathers everyone who acted.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from .audience import can_read
from .models import Hashtag, Like, Notification, Post, User
from .notifications import notification_create_once, notification_gather
from .selectors import is_blocked_between
from .text import clean_text, hashtag_names, mentioned_usernames

# At most this many people are notified of one post's mentions (a list of 50 names is spam).
MENTIONS_NOTIFIED = 10


def _target(post: Post) -> Post:
    """A plain repost stands for the post it shares: acting on it acts on the original."""
    return post.repost_of if post.is_plain_repost else post


def _check_may_act(*, user: User, post: Post, verb: str) -> None:
    if not can_read(post=post, viewer=user):
        raise ValidationError("You can't see this post.")
    if post.author_id != user.pk and is_blocked_between(user, post.author):
        raise ValidationError(f"You can't {verb} posts by @{post.author.username}.")


def _snippet(post: Post) -> str:
    text = post.body.replace("\n", " ")
    return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”"


def _gathered_text(*, actor: User, others: int, verb: str, post: Post) -> str:
    if others <= 0:
        who = actor.name
    else:
        who = f"{actor.name} and {others} other{'s' if others > 1 else ''}"
    return f"{who} {verb} your post {_snippet(post)}"


def _notify_author(*, post: Post, actor: User, kind: str, verb: str, others: int) -> None:
    if post.author_id == actor.pk:
        return
    notification_gather(
        recipient=post.author,
        actor=actor,
        kind=kind,
        group_key=f"{kind}:post:{post.pk}",
        text=_gathered_text(actor=actor, others=others, verb=verb, post=post),
        url=post.get_absolute_url(),
    )


@transaction.atomic
def like_create(*, user: User, post: Post) -> Post:
    """Like `post` (a second like is a no-op); returns the post liked, with its new count."""
    post = _target(post)
    _check_may_act(user=user, post=post, verb="like")
    try:
        with transaction.atomic():
            Like.objects.create(user=user, post=post)
    except IntegrityError:
        return _refreshed(post)
    Post.objects.filter(pk=post.pk).update(likes_count=F("likes_count") + 1)
    others = Like.objects.filter(post=post).exclude(user__in=[user.pk, post.author_id]).count()
    _notify_author(post=post, actor=user, kind=Notification.Kind.LIKE, verb="liked", others=others)
    return _refreshed(post)


@transaction.atomic
def like_delete(*, user: User, post: Post) -> Post:
    post = _target(post)
    deleted, _ = Like.objects.filter(user=user, post=post).delete()
    if deleted:
        Post.objects.filter(pk=post.pk, likes_count__gt=0).update(likes_count=F("likes_count") - 1)
    return _refreshed(post)


def _refreshed(post: Post) -> Post:
    post.refresh_from_db(fields=["likes_count", "replies_count", "reposts_count"])
    return post


@transaction.atomic
def reply_create(*, author: User, to: Post, body: str) -> Post:
    parent = _target(to)
    _check_may_act(user=author, post=parent, verb="reply to")
    body = clean_text(body, limit=settings.POST_MAX_LENGTH, what="A reply")
    reply = Post.objects.create(author=author, body=body, reply_to=parent)
    Post.objects.filter(pk=parent.pk).update(replies_count=F("replies_count") + 1)
    others = (
        Post.objects.filter(reply_to=parent)
        .exclude(author__in=[author.pk, parent.author_id])
        .values("author")
        .distinct()
        .count()
    )
    _notify_author(post=parent, actor=author, kind=Notification.Kind.REPLY, verb="replied to", others=others)
    post_text_publish(post=reply, skip_mention_of=parent.author_id)
    return reply


def _check_may_share(*, user: User, post: Post) -> None:
    _check_may_act(user=user, post=post, verb="repost")
    # Sharing would show it to people who may not read it.
    if post.for_super_followers or (post.reply_to_id and post.reply_to.for_super_followers):
        raise ValidationError("Posts for Super Followers can't be reposted or quoted.")


def _sharers_besides(*, post: Post, user: User) -> int:
    return (
        Post.objects.filter(repost_of=post)
        .exclude(author__in=[user.pk, post.author_id])
        .values("author")
        .distinct()
        .count()
    )


@transaction.atomic
def repost_create(*, author: User, post: Post) -> Post:
    """Share `post` on the author's followers' timelines (once; a second repost is refused)."""
    original = _target(post)
    _check_may_share(user=author, post=original)
    try:
        with transaction.atomic():
            repost = Post.objects.create(author=author, body="", repost_of=original)
    except IntegrityError:
        raise ValidationError("You already reposted this.") from None
    Post.objects.filter(pk=original.pk).update(reposts_count=F("reposts_count") + 1)
    others = _sharers_besides(post=original, user=author)
    _notify_author(post=original, actor=author, kind=Notification.Kind.REPOST, verb="reposted", others=others)
    return repost


@transaction.atomic
def repost_delete(*, author: User, post: Post) -> bool:
    original = _target(post)
    deleted, _ = Post.objects.filter(author=author, repost_of=original, body="").delete()
    if deleted:
        Post.objects.filter(pk=original.pk, reposts_count__gt=0).update(reposts_count=F("reposts_count") - 1)
    return bool(deleted)


@transaction.atomic
def quote_create(*, author: User, post: Post, body: str) -> Post:
    original = _target(post)
    _check_may_share(user=author, post=original)
    body = clean_text(body, limit=settings.POST_MAX_LENGTH, what="A quote")
    quote = Post.objects.create(author=author, body=body, repost_of=original)
    Post.objects.filter(pk=original.pk).update(reposts_count=F("reposts_count") + 1)
    others = _sharers_besides(post=original, user=author)
    _notify_author(post=original, actor=author, kind=Notification.Kind.QUOTE, verb="quoted", others=others)
    post_text_publish(post=quote, skip_mention_of=original.author_id)
    return quote


def post_text_publish(*, post: Post, skip_mention_of: int | None = None) -> None:
    """Index the post's hashtags and tell the people it mentions (once per post), except those with a
    block either way, those who may not read it and `skip_mention_of` (already told as its author)."""
    if names := hashtag_names(post.body):
        Hashtag.objects.bulk_create([Hashtag(name=name) for name in names], ignore_conflicts=True)
        post.hashtags.set(Hashtag.objects.filter(name__in=names))
    usernames = mentioned_usernames(post.body)[:MENTIONS_NOTIFIED]
    if not usernames:
        return
    lookup = Q()
    for name in usernames:
        lookup |= Q(username__iexact=name)
    author = post.author
    for person in User.objects.filter(lookup, is_active=True).exclude(pk__in=[author.pk, skip_mention_of or 0]):
        if is_blocked_between(author, person) or not can_read(post=post, viewer=person):
            continue
        notification_create_once(
            recipient=person,
            actor=author,
            kind=Notification.Kind.MENTION,
            group_key=f"mention:post:{post.pk}",
            text=f"{author.name} (@{author.username}) mentioned you: {_snippet(post)}",
            url=post.get_absolute_url(),
        )
