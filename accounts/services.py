"""What people do: follow, block, report, post, message; notifying someone is re-exported from notifications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from spaces_site import ratelimit
from spaces_site.services import model_update

from .audience import check_audience
from .engagement import post_text_publish
from .events import push_to_user, sign_out_sockets
from .models import Block, Conversation, Follow, Message, Notification, Post, Report, User
from .notifications import notification_create as notification_create
from .notifications import notification_create_many as notification_create_many
from .notifications import notification_create_once as notification_create_once
from .notifications import notification_gather as notification_gather
from .notifications import notifications_mark_read as notifications_mark_read
from .notifications import notifications_rewrite as notifications_rewrite
from .selectors import is_blocked_between
from .signals import account_suspended, block_created
from .text import clean_text
from .validators import validate_time_zone


@transaction.atomic
def follow_create(*, follower: User, followee: User) -> Follow:
    if follower.pk == followee.pk:
        raise ValidationError("You can't follow yourself.")
    if is_blocked_between(follower, followee):
        raise ValidationError(f"You can't follow @{followee.username}.")
    ratelimit.check("follow", follower.pk)
    try:
        with transaction.atomic():
            follow = Follow.objects.create(follower=follower, followee=followee)
    except IntegrityError:
        raise ValidationError(f"You already follow @{followee.username}.") from None
    User.objects.filter(pk=follower.pk).update(following_count=F("following_count") + 1)
    User.objects.filter(pk=followee.pk).update(followers_count=F("followers_count") + 1)
    # Once per pair ever: unfollowing and following again does not notify a second time.
    notification_create_once(
        recipient=followee,
        actor=follower,
        kind=Notification.Kind.FOLLOW,
        group_key=f"follow:{follower.pk}",
        text=f"{follower.name} (@{follower.username}) followed you",
        url=follower.get_absolute_url(),
    )
    return follow


@transaction.atomic
def follow_delete(*, follower: User, followee: User) -> bool:
    deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
    if deleted:
        User.objects.filter(pk=follower.pk).update(following_count=F("following_count") - 1)
        User.objects.filter(pk=followee.pk).update(followers_count=F("followers_count") - 1)
    return bool(deleted)


@transaction.atomic
def block_create(*, blocker: User, blocked: User) -> Block:
    if blocker.pk == blocked.pk:
        raise ValidationError("You can't block yourself.")
    block, _ = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    follow_delete(follower=blocker, followee=blocked)
    follow_delete(follower=blocked, followee=blocker)
    block_created.send(sender=Block, blocker=blocker, blocked=blocked)
    return block


def block_delete(*, blocker: User, blocked: User) -> bool:
    deleted, _ = Block.objects.filter(blocker=blocker, blocked=blocked).delete()
    return bool(deleted)


def report_create(
    *, reporter: User, reported_user: User, reason: str, details: str = "", post: Post | None = None
) -> Report:
    if reporter.pk == reported_user.pk:
        raise ValidationError("You can't report yourself.")
    if post is not None and post.author_id != reported_user.pk:
        raise ValidationError("That post is not by this account.")
    if reason not in Report.Reason.values:
        raise ValidationError("Choose a reason for the report.")
    ratelimit.check("report", reporter.pk)
    return Report.objects.create(
        reporter=reporter, reported_user=reported_user, post=post, reason=reason, details=details.strip()
    )


@transaction.atomic
def post_create(*, author: User, body: str, audience: str = Post.Audience.EVERYONE) -> Post:
    body = clean_text(body, limit=settings.POST_MAX_LENGTH, what="A post")
    check_audience(author=author, audience=audience)
    ratelimit.check("post", author.pk)
    post = Post.objects.create(author=author, body=body, audience=audience)
    post_text_publish(post=post)
    return post


@transaction.atomic
def post_delete(*, post: Post, by: User) -> None:
    """The author deletes their post, or staff remove it on a report."""
    if post.author_id != by.pk and not by.is_staff:
        raise PermissionDenied("Only the author can delete a post.")
    if post.reply_to_id:
        Post.objects.filter(pk=post.reply_to_id, replies_count__gt=0).update(replies_count=F("replies_count") - 1)
    if post.repost_of_id:
        Post.objects.filter(pk=post.repost_of_id, reposts_count__gt=0).update(reposts_count=F("reposts_count") - 1)
    post.delete()


@transaction.atomic
def account_suspend(*, user: User, by: User) -> bool:
    """Staff take an account off the site on a report: it can't sign in, its sessions are signed out at their next
    request (Django reads an inactive account as nobody), its posts leave every list, and rooms ends its Spaces.
    False when it was already suspended."""
    if not by.is_staff:
        raise PermissionDenied("Only staff can suspend an account.")
    if user.is_staff:
        raise ValidationError(f"@{user.username} is staff; staff accounts are not suspended from a report.")
    if not User.objects.filter(pk=user.pk, is_active=True).update(is_active=False):
        return False
    user.is_active = False
    sign_out_sockets(user.pk)
    account_suspended.send(sender=User, user=user)
    return True


def message_check(*, sender: User, recipient: User) -> None:
    """Raise the reason `sender` may not message `recipient` (a block either way, their message setting)."""
    if sender.pk == recipient.pk:
        raise ValidationError("You can't message yourself.")
    if Block.objects.filter(blocker=recipient, blocked=sender).exists():
        raise ValidationError(f"@{recipient.username} isn't accepting messages from you.")
    if Block.objects.filter(blocker=sender, blocked=recipient).exists():
        raise ValidationError(f"You blocked @{recipient.username}; unblock them to send a message.")
    _check_accepts_messages(sender=sender, recipient=recipient)


@transaction.atomic
def message_send(*, sender: User, recipient: User, body: str) -> Message:
    message_check(sender=sender, recipient=recipient)
    body = clean_text(body, limit=settings.DM_MAX_LENGTH, what="A message")
    ratelimit.check("message", sender.pk)
    user_a, user_b = sorted((sender, recipient), key=lambda u: u.pk)
    now = timezone.now()
    conversation, created = Conversation.objects.get_or_create(
        user_a=user_a, user_b=user_b, defaults={"last_message_at": now}
    )
    if not created:
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
    message = Message.objects.create(
        conversation=conversation, sender=sender, recipient=recipient, body=body, created_at=now
    )
    event = {"type": "message", "conversation": conversation.pk, "message": message.pk}
    push_to_user(recipient.pk, event)
    push_to_user(sender.pk, event)  # the sender's other open tabs
    return message


def message_share_link(*, sender: User, recipient: User, body: str) -> Message:
    """A message that shares a link (a Space, a clip): one limit on how often, whatever is shared."""
    ratelimit.check("share_dm", sender.pk)
    return message_send(sender=sender, recipient=recipient, body=body)


def _check_accepts_messages(*, sender: User, recipient: User) -> None:
    policy = recipient.message_policy
    if policy == User.MessagePolicy.NOBODY:
        raise ValidationError(f"@{recipient.username} doesn't accept direct messages.")
    if (
        policy == User.MessagePolicy.FOLLOWED
        and not Follow.objects.filter(follower=recipient, followee=sender).exists()
    ):
        raise ValidationError(f"@{recipient.username} only accepts messages from people they follow.")


def conversation_mark_read(*, conversation: Conversation, user: User) -> int:
    return Message.objects.filter(conversation=conversation, recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def user_set_time_zone(*, user: User, name: str) -> User:
    """Save the zone the person's browser reports (or they chose); an unknown name is refused."""
    validate_time_zone(name)
    user, _ = model_update(instance=user, fields=["time_zone"], data={"time_zone": name})
    return user


# What a person may change on their own profile (accounts.forms.ProfileForm shows the same fields).
PROFILE_FIELDS = ("display_name", "bio", "avatar", "date_of_birth", "time_zone", "message_policy")


def user_update_profile(*, user: User, data: Mapping[str, Any]) -> User:
    """Save the profile fields in `data` that changed; anything else in `data` is ignored."""
    user, _ = model_update(instance=user, fields=PROFILE_FIELDS, data=data)
    return user
