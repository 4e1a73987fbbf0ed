"""Fan-out of a Space's control events to every socket in it, after the transaction commits."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
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

    transaction.on_commit(send)


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
        "speaker_index": participant.speaker_index,
    }
