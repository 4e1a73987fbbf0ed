"""Threads of their own for the sockets' database work, away from the thread the pages are drawn on.

Under ASGI, Django draws every page of a process on one thread, and Channels' `database_sync_to_async` runs on that
same thread: in a rush of followers (each opens the room page, then its socket) a socket's handshake waited
there behind every page in the queue, and in a storm of joins the handshakes' session reads waited behind the
joins' writes. On PostgreSQL each kind of work named here runs on a pool of its own (each thread keeps its own
connection, or takes one from the pool): the joins' batches (`rooms.join_batches`, SPACES_JOIN_THREADS threads)
and the handshakes' logins (`accounts.socket_logins`, one thread). On SQLite, which takes one writer at a time,
everything stays on Channels' thread.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection


@cache
def _pool(name: str, size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)


def on_threads_of(pool: str, size: int, function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`function` as a coroutine function running on the `size` threads named `pool` (closing stale connections
    around it), or on Channels' thread on SQLite."""
    if connection.vendor == "sqlite":
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

    return sync_to_async(closing_stale_connections, thread_sensitive=False, executor=_pool(pool, size))
