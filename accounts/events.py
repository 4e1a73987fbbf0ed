"""Live pushes to one person's open pages (the bell, the inbox, the live bubbles)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def push_to_user(user_id: int, event: dict[str, Any]) -> None:
    """Send `event` to every socket of the user once the current transaction commits."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.event", "event": event})

    # Robust: the change is committed either way; a channel-layer outage must not turn it into an error.
    transaction.on_commit(send, robust=True)
