"""Notifications: the one way any app tells someone something, with the bell updated live."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from .events import push_to_user, push_to_users
from .models import Block, Notification, User
from .selectors import is_blocked_between, unread_notification_count

BULK_BATCH = 1000
BELL_SPREAD_MAX_MS = 30_000
IN_QUERY_BATCH = 5000  # ids per `IN (...)`: well under SQLite's limit on a statement's parameters


def notification_create(
    *, recipient: User, kind: str, text: str, url: str = "", actor: User | None = None
) -> Notification | None:
    """The one way any app tells someone something; the bell updates live. Nothing crosses a block: a
    notification caused by someone the recipient blocked, or who blocked them, is not made (None)."""
    if actor is not None and actor.pk != recipient.pk and is_blocked_between(actor, recipient):
        return None
    notification = Notification.objects.create(recipient=recipient, actor=actor, kind=kind, text=text, url=url)
    _push_unread(recipient.pk)
    return notification


def notification_create_once(
    *, recipient: User, kind: str, group_key: str, text: str, url: str = "", actor: User | None = None
) -> Notification | None:
    """Notify unless a notification with `group_key` was ever sent to `recipient`; None if one was."""
    if Notification.objects.filter(recipient=recipient, group_key=group_key).exists():
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient, actor=actor, kind=kind, text=text, url=url, group_key=group_key
            )
    except IntegrityError:
        return None
    _push_unread(recipient.pk)
    return notification


def notification_gather(
    *, recipient: User, actor: User, kind: str, group_key: str, text: str, url: str = ""
) -> Notification:
    """One notification per `group_key` that gathers many actors ("Ana and 12 others liked your post"):
    a new actor rewrites its text and brings it back to the top, unread; the same actor again only
    refreshes the text, so undoing and redoing does not notify twice."""
    with transaction.atomic():
        current = Notification.objects.select_for_update().filter(recipient=recipient, group_key=group_key).first()
        if current is None:
            try:
                with transaction.atomic():
                    current = Notification.objects.create(
                        recipient=recipient, actor=actor, kind=kind, text=text, url=url, group_key=group_key
                    )
            except IntegrityError:
                current = Notification.objects.select_for_update().get(recipient=recipient, group_key=group_key)
            else:
                _push_unread(recipient.pk)
                return current
        fields = {"text": text, "url": url}
        if current.actor_id != actor.pk:
            fields.update(actor=actor, created_at=timezone.now(), read_at=None)
        Notification.objects.filter(pk=current.pk).update(**fields)
        for name, value in fields.items():
            setattr(current, name, value)
    if "read_at" in fields:
        _push_unread(recipient.pk)
    return current


def notification_create_many(
    *,
    recipient_ids: Iterable[int],
    kind: str,
    text: str,
    url: str = "",
    actor: User | None = None,
    group_key: str = "",
) -> int:
    """Notify many people at once (a host's followers; callers send at most a few thousand per call and
    transaction): INSERTs of BULK_BATCH rows, then one push per server process holding some of them, not
    one per person. None across a block. With `group_key`, those who already hold a notification with that
    key are skipped, so a retried call notifies nobody twice."""
    now = timezone.now()
    wanted = set(recipient_ids)
    if actor is not None:
        wanted -= _blocked_either_way(actor)
    if group_key and wanted:
        ordered = sorted(wanted)
        for start in range(0, len(ordered), IN_QUERY_BATCH):
            holders = Notification.objects.filter(
                group_key=group_key, recipient_id__in=ordered[start : start + IN_QUERY_BATCH]
            )
            wanted -= set(holders.values_list("recipient_id", flat=True))
    # Ids, not the actor object: Django's check on assigning a related object costs more than the rest of a row.
    actor_id = actor.pk if actor is not None else None
    rows = [
        Notification(
            recipient_id=rid, actor_id=actor_id, kind=kind, text=text, url=url, group_key=group_key, created_at=now
        )
        for rid in sorted(wanted)
    ]
    # A concurrent retry may have written some meanwhile: the unique key turns those into no-ops.
    Notification.objects.bulk_create(rows, batch_size=BULK_BATCH, ignore_conflicts=bool(group_key))
    # Each open page refreshes its bell on this event: spread over `spread_ms` (a millisecond per 10 people,
    # at most 30 s), 100,000 bells do not all ask the servers in the same second.
    event = {"type": "notification", "spread_ms": min(BELL_SPREAD_MAX_MS, len(rows) // 10)}
    push_to_users((row.recipient_id for row in rows), event)
    return len(rows)


def _blocked_either_way(user: User) -> set[int]:
    blocked = Block.objects.filter(blocker=user).values_list("blocked_id", flat=True)
    blockers = Block.objects.filter(blocked=user).values_list("blocker_id", flat=True)
    return set(blocked) | set(blockers)


def notifications_rewrite(*, group_key: str, text: str, url: str | None = None) -> int:
    """Say something new in every notification sent under `group_key` (a Space that was live has ended)."""
    fields = {"text": text} if url is None else {"text": text, "url": url}
    return Notification.objects.filter(group_key=group_key).update(**fields)


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    count = unread.update(read_at=timezone.now())
    _push_unread(user.pk)
    return count


def _push_unread(user_id: int) -> None:
    def send() -> None:
        push_to_user(user_id, {"type": "notification", "unread": unread_notification_count(user_id=user_id)})

    transaction.on_commit(send)
