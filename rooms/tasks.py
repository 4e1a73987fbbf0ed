"""Background work for Spaces: go-live notices, due reminders, start prompts and missed Spaces, the host
grace sweep, live bubbles."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.events import push_to_user
from accounts.models import Block, Follow, Notification

from .models import Participant, Reminder, Space
from .services import (
    live_notice_key,
    reminder_text,
    reminders_due_query,
    space_due_notify,
    space_end,
    space_mark_missed,
    spaces_abandoned_query,
    spaces_due_query,
    spaces_missed_query,
)

log = logging.getLogger(__name__)

REMINDER_BATCH = 500


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_space_live(space_id: int) -> int:
    """Tell the host's followers and everyone who set a reminder that the Space is live."""
    space = Space.objects.select_related("host").filter(pk=space_id, state=Space.State.LIVE).first()
    if space is None:
        return 0
    host = space.host
    with transaction.atomic():
        # Idempotent: a retried task never notifies twice for the same start.
        already = Notification.objects.filter(
            kind=Notification.Kind.SPACE_LIVE, url=space.get_absolute_url(), created_at__gte=space.started_at
        ).values("recipient_id")
        followers = set(Follow.objects.filter(followee=host).values_list("follower_id", flat=True))
        reminded = set(Reminder.objects.filter(space=space).values_list("user_id", flat=True))
        blocked = set(Block.objects.filter(blocker=host).values_list("blocked_id", flat=True))
        recipients = (followers | reminded) - blocked - {host.pk} - set(already.values_list("recipient_id", flat=True))
        return account_services.notification_create_many(
            recipient_ids=sorted(recipients),
            actor=host,
            kind=Notification.Kind.SPACE_LIVE,
            text=f"{host.name} is live: “{space.title}”. Tap to listen.",
            url=space.get_absolute_url(),
            group_key=live_notice_key(space),
        )


@shared_task
def send_due_reminders() -> int:
    """Beat: notify each reminded person once, ahead (saying the time really left) or, for a reminder set
    less than the lead time before, at the start; safe with several beats or workers."""
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                reminders_due_query(now=timezone.now())
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("space", "space__host")
                .order_by("pk")[:REMINDER_BATCH]
            )
            if not batch:
                return sent
            now = timezone.now()
            for reminder in batch:
                account_services.notification_create(
                    recipient=reminder.user,
                    actor=reminder.space.host,
                    kind=Notification.Kind.SPACE_REMINDER,
                    text=reminder_text(reminder=reminder, now=now),
                    url=reminder.space.get_absolute_url(),
                )
            Reminder.objects.filter(pk__in=[r.pk for r in batch]).update(sent_at=timezone.now())
            sent += len(batch)


@shared_task
def prompt_due_spaces() -> int:
    """Beat: at a Space's time, prompt its host to start; after the grace period, mark it missed."""
    changed = 0
    now = timezone.now()
    for space in spaces_due_query(now=now).order_by("pk")[:REMINDER_BATCH]:
        changed += space_due_notify(space=space)
    for space in spaces_missed_query(now=now).order_by("pk")[:REMINDER_BATCH]:
        changed += space_mark_missed(space=space)
    return changed


@shared_task
def end_abandoned_spaces() -> int:
    """Beat: end live Spaces whose host left longer than the grace period ago."""
    ended = 0
    for space_id in spaces_abandoned_query(now=timezone.now()).values_list("pk", flat=True):
        with transaction.atomic():
            space = (
                spaces_abandoned_query(now=timezone.now())
                .select_for_update(skip_locked=True)
                .filter(pk=space_id)
                .first()
            )
            if space is None:
                continue
            space_end(space=space, reason="the host did not come back")
            ended += 1
    return ended


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def push_live_bubble(space_id: int, user_id: int, action: str) -> int:
    """Make a purple bubble appear or vanish on the open home pages of `user_id`'s followers."""
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
    blocked_by_host = set(Block.objects.filter(blocker_id=space.host_id).values_list("blocked_id", flat=True))
    followers = Follow.objects.filter(followee_id=user_id).values_list("follower_id", flat=True)
    count = 0
    for follower_id in followers.iterator(chunk_size=2000):
        if action == "add" and follower_id in blocked_by_host:
            continue
        push_to_user(follower_id, event)
        count += 1
    return count
