"""Websocket consumers that read their socket in a plain loop and dispatch without Channels' hops.

Channels' `AsyncConsumer.__call__` reads a socket's messages through `await_many_dispatch`, which wraps each
`receive()` in a new task and waits on it: every message costs a few turns of the event loop, even when the
server already holds a backlog of them. A speaker sends 50 audio frames a second; in a storm of joins a turn
of the loop takes several milliseconds, so the speaker's frames were read more slowly than they came and the
audio of the whole Space fell a second behind (bench/CAPACITY.md). Consumers without a channel of their own
(`channel_layer_alias = None`: their events come through a process-wide reader) read with `await receive()`
instead, which returns at once while messages are waiting, so a backlog is read in one turn.

Channels' `AsyncConsumer.dispatch` also runs `close_old_connections` on its one database thread before each
message a consumer handles: the socket's connect, every message it receives, its close. In a storm of joins
each connect queued behind the others' hops and the handshakes' session reads on that thread. The hop does
nothing these consumers need: an event loop cannot touch the database itself (Django refuses), and every call
that does runs through `database_sync_to_async` or the sockets' own threads (`spaces_site.db_threads`), which
close stale connections around their own work.
"""

from __future__ import annotations

import contextlib

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer


class DirectDispatch:
    channel_layer_alias: str | None

    async def __call__(self, scope, receive, send) -> None:
        if self.channel_layer_alias is not None:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
            return
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        with contextlib.suppress(StopConsumer):  # raised by the disconnect handler: the socket is over
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
