"""Websocket consumers' dispatch without Channels' hop to its database thread before every message.

Channels' `AsyncConsumer.dispatch` runs `close_old_connections` on its one database thread before each message
a consumer handles: the socket's connect, every message it receives, its close. A live Space's sockets send
audio and acknowledgements thousands of times a second, and in a storm of joins each connect queued behind the
others' hops and the handshakes' session reads on that thread. The hop does nothing the consumers need: an
event loop cannot touch the database itself (Django refuses), and every call that does runs through
`database_sync_to_async` or the room's join threads (`rooms.join_threads`), which close stale connections
around their own work.
"""

from __future__ import annotations

from channels.consumer import get_handler_name


class DirectDispatch:
    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
