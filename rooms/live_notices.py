"""Telling people that a Space is live, however big the audience: the notices to the host's followers and
to whoever set a reminder, and the purple live bubbles on their open home pages.

The host's request only commits the Space and enqueues `notify_space_live`; that task pages through the
recipients (`selectors.live_notice_recipients_page`) and hands each page of SPACES_LIVE_NOTICE_BATCH people
still without the notice to a task of its own, which writes them in one transaction and pushes once per
server process holding some of them (accounts.online). A retried task or page finds the notices written
(the `group_key` is unique per person) and notifies nobody twice; nothing crosses a block.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from accounts import services as account_services
from accounts.events import push_to_users
from accounts.models import Block, Follow, Notification

from . import selectors
from .models import Participant, Space
from .tasks import notify_space_live_batch as notify_space_live_batch_task


def live_notice_key(space: Space) -> str:
    return f"space_live:{space.pk}"


def live_notice_text(space: Space) -> str:
    return f"{space.host.name} is live: “{space.title}”. Tap to listen."


def space_live_notices_plan(*, space_id: int) -> int:
    """Split the go-live notices of a live Space into batches, each sent by a task of its own; returns how
    many people the batches will tell (0 for a retry after all were told, or a Space no longer live)."""
    space = Space.objects.select_related("host").filter(pk=space_id, state=Space.State.LIVE).first()
    if space is None:
        return 0
    key, batch = live_notice_key(space), settings.SPACES_LIVE_NOTICE_BATCH
    planned, after = 0, 0
    while page := selectors.live_notice_recipients_page(space=space, after=after, limit=batch):
        after = page[-1]
        told = set(
            Notification.objects.filter(group_key=key, recipient_id__in=page).values_list("recipient_id", flat=True)
        )
        recipients = [user_id for user_id in page if user_id not in told and user_id != space.host_id]
        if recipients:
            # Enqueued at once: this task writes nothing, so there is no commit for the batch to wait for.
            notify_space_live_batch_task.delay(space.pk, recipients)
            planned += len(recipients)
    return planned


@transaction.atomic
def space_live_notices_send(*, space_id: int, recipient_ids: list[int]) -> int:
    """One batch of go-live notices, in one transaction; returns how many were written."""
    space = Space.objects.select_related("host").filter(pk=space_id, state=Space.State.LIVE).first()
    if space is None:
        return 0  # ended before this batch ran: "is live" would be false
    return account_services.notification_create_many(
        recipient_ids=[user_id for user_id in recipient_ids if user_id != space.host_id],
        actor=space.host,
        kind=Notification.Kind.SPACE_LIVE,
        text=live_notice_text(space),
        url=space.get_absolute_url(),
        group_key=live_notice_key(space),
    )


def live_bubble_push(*, space_id: int, user_id: int, action: str) -> int:
    """Make `user_id`'s purple bubble appear ("add") or vanish ("remove") on the open home pages of their
    followers, a page of followers at a time, each page one message per server process holding some of
    them. Returns how many followers were addressed (online or not)."""
    participant = Participant.objects.select_related("user", "space").filter(space_id=space_id, user_id=user_id).first()
    if participant is None:
        return 0
    user, space = participant.user, participant.space
    if action == "add" and (space.state != Space.State.LIVE or not participant.can_speak or participant.removed):
        return 0
    event = {
        "type": "live_bubble",
        "action": action,
        "user_id": user.pk,
        "url": space.get_absolute_url(),
        "initial": user.initial,
        "name": user.name,
        "title": space.title,
    }
    blocked_by_host = (
        set(Block.objects.filter(blocker_id=space.host_id).values_list("blocked_id", flat=True))
        if action == "add"
        else set()
    )
    followers = Follow.objects.filter(followee_id=user_id).order_by("follower_id")
    batch, after, addressed = settings.SPACES_LIVE_NOTICE_BATCH, 0, 0
    while page := list(followers.filter(follower_id__gt=after).values_list("follower_id", flat=True)[:batch]):
        after = page[-1]
        recipients = [follower_id for follower_id in page if follower_id not in blocked_by_host]
        push_to_users(recipients, event)
        addressed += len(recipients)
    return addressed
