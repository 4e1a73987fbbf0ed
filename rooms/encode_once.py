"""Encode once: one websocket frame's bytes written to every listener's socket in this process.

A server-to-client frame is not masked, so an audio message frames to the same bytes for every socket. Under
uvicorn's `websockets-sansio` implementation with no extension negotiated (`make uvicorn` turns
permessage-deflate off), the relay frames each message once and writes it to each socket's transport itself,
instead of going through the ASGI send, the library's framing and its bookkeeping once per listener
(rooms/PROTOCOL.md "Encode once"). A socket that cannot take a write now (its buffer is full, it is closing)
gets no direct write: the ASGI send decides, as for every socket under Daphne and in tests' communicators.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

SANSIO_PROTOCOL = "uvicorn.protocols.websockets.websockets_sansio_impl"


def frame(payload: bytes) -> bytes:
    """The bytes of one unmasked binary frame carrying `payload`: the same for every socket."""
    return Frame(Opcode.BINARY, payload).serialize(mask=False)


class DirectWriter:
    """Writes framed messages straight to one uvicorn websocket's transport while it can take them."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def write(self, framed: bytes) -> bool:
        """Write `framed` now; False (nothing written) when the socket's own send must handle this message."""
        protocol = self.protocol
        if (
            not protocol.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or protocol.conn.state is not State.OPEN
        ):
            return False
        protocol.transport.write(framed)
        return True


def direct_writer(send: Any) -> DirectWriter | None:
    """A writer for the socket behind the server's ASGI `send`, or None where frames cannot be shared: another
    server or implementation, or an extension (compression) that makes each socket's frames its own. Ask once
    the handshake has completed (after the first message was sent), when the extensions are known."""
    protocol = getattr(send, "__self__", None)
    if type(protocol).__module__ != SANSIO_PROTOCOL:
        return None
    if not protocol.handshake_complete or protocol.initial_response is not None or protocol.conn.extensions:
        return None
    return DirectWriter(protocol)
