"""Where a room socket's join does its database work.

Channels runs every `database_sync_to_async` call of a process on one thread, so in a storm the handshakes'
session reads would wait behind the joins' writes there. On PostgreSQL the joins' batches
(`rooms.join_batches`) run on SPACES_JOIN_THREADS threads of their own (each keeps its own connection, or takes
one from the pool); on SQLite, which takes one writer at a time, they stay on Channels' thread.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection


@cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.SPACES_JOIN_THREADS, thread_name_prefix="room-join")


def on_join_threads(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`function` as a coroutine function running where joins run (closing stale connections around it)."""
    if connection.vendor == "sqlite" or settings.SPACES_JOIN_THREADS == 1:
        return database_sync_to_async(function)

    @functools.wraps(function)
    def closing_stale_connections(*args: Any, **kwargs: Any) -> Any:
        # Inside the call's context, where its connection lives (channels' DatabaseSyncToAsync closes them
        # outside it, which reaches the connection only on the thread-sensitive path).
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(closing_stale_connections, thread_sensitive=False, executor=_threads())
