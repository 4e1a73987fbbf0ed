"""Fan-out of a Space's control events to every socket in it, after the transaction commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction


def space_group(space_id: int) -> str:
    return f"space.{space_id}"


def space_message(space_id: int, event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message for a room event (rooms.fanout hands it to the sockets)."""
    return {"type": "space.event", "space": space_id, "event": event}


def broadcast(space_id: int, event: dict[str, Any]) -> None:
    """Send `event` to every socket in the Space once the current transaction commits."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(space_group(space_id), space_message(space_id, event))

    # Robust: the change is committed either way; a channel-layer outage must not turn it into an error.
    transaction.on_commit(send, robust=True)


def host_presence_event(left_at: datetime | None) -> dict[str, Any]:
    """`host_presence`: the host's last socket closed at `left_at` (None: the host is back)."""
    if left_at is None:
        return {"type": "host_presence", "present": True}
    grace = settings.SPACES_HOST_GRACE_SECONDS
    ends_at = left_at + timedelta(seconds=grace)
    return {"type": "host_presence", "present": False, "grace_seconds": grace, "ends_at": ends_at.isoformat()}


def pin_payload(pin) -> dict[str, Any]:
    """A pinned post as the room shows it."""
    return {
        "id": pin.pk,
        "post_id": pin.post_id,
        "body": pin.post.body,
        "author": pin.post.author.username,
        "url": pin.post.get_absolute_url(),
    }


def participant_payload(participant) -> dict[str, Any]:
    user = participant.user
    return {
        "user_id": user.pk,
        "username": user.username,
        "name": user.name,
        "initial": user.initial,
        "role": participant.role,
        "muted": participant.muted,
        "hand": participant.hand_raised,
        "hand_at": participant.hand_raised_at.isoformat() if participant.hand_raised_at else None,
        "speaker_index": participant.speaker_index,
    }


PAYLOAD_FIELDS = ("user_id", "user__username", "user__display_name", "role", "muted", "hand_raised_at", "speaker_index")


def participant_payloads(rows) -> list[dict[str, Any]]:
    """`participant_payload` for rows of `Participant.objects.values(*PAYLOAD_FIELDS)`: a welcome lists up to
    100 listeners and a popular Space sends thousands of welcomes, so no model instances are built."""
    payloads = []
    for row in rows:
        name = row["user__display_name"] or row["user__username"]  # as User.name and User.initial
        payloads.append(
            {
                "user_id": row["user_id"],
                "username": row["user__username"],
                "name": name,
                "initial": name[:1].upper(),
                "role": row["role"],
                "muted": row["muted"],
                "hand": row["hand_raised_at"] is not None,
                "hand_at": row["hand_raised_at"].isoformat() if row["hand_raised_at"] else None,
                "speaker_index": row["speaker_index"],
            }
        )
    return payloads
