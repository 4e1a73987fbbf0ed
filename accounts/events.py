"""Live pushes to people's open pages (the bell, the inbox, the live bubbles)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import online


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def push_to_user(user_id: int, event: dict[str, Any]) -> None:
    """Send `event` to every socket of the user once the current transaction commits."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.event", "event": event})

    # Robust: the change is committed either way; a channel-layer outage must not turn it into an error.
    transaction.on_commit(send, robust=True)


def sign_out_sockets(user_id: int) -> None:
    """Close every /ws/me/ socket of the user (4401) once the current transaction commits: a suspended account's
    open pages stop receiving their messages and notifications, and each reloads as signed out."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.sign_out"})

    transaction.on_commit(send, robust=True)


def push_to_users(user_ids: Iterable[int], event: dict[str, Any]) -> int:
    """Send `event` to the open pages of many people once the current transaction commits: one message to
    each server process holding some of them (accounts.online), none for people who are not online.
    Returns how many processes it will send to."""
    hubs = online.hubs_holding(user_ids)
    if not hubs:
        return 0

    async def send_all() -> None:
        layer = get_channel_layer()
        for channel, ids in hubs.items():
            await layer.send(channel, {"type": online.MESSAGE_TYPE, "user_ids": ids, "event": event})

    transaction.on_commit(async_to_sync(send_all), robust=True)
    return len(hubs)
