"""Every websocket close code the site sends, with what it means and whether a page should come back.

The one table: the room and personal sockets close with these, `static/js/close-codes.js` mirrors it for the
pages, and rooms/PROTOCOL.md's table lists the same codes (tests/test_close_codes.py holds the three together).
It lives here, not in rooms, because accounts (which imports no other app) closes sockets too.
"""

from __future__ import annotations


class CloseCode:
    """The codes, as plain ints: Daphne's websocket layer (autobahn) refuses any other type, an IntEnum too."""

    INTERNAL_ERROR = 1011  # the standard code: the server failed (a join let in from the line, say)
    BAD_FRAME = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    SUPERSEDED = 4406
    SLOW_LISTENER = 4408
    NOT_LIVE = 4409
    ENDED = 4410
    FRAME_TOO_LARGE = 4413
    FLOOD = 4429


CODES: dict[str, int] = {name: value for name, value in vars(CloseCode).items() if name.isupper()}

MEANINGS: dict[int, str] = {
    CloseCode.INTERNAL_ERROR: "the join of a socket let in from the line failed (the database was away, say)",
    CloseCode.BAD_FRAME: "a malformed audio frame: too short, unknown format, capture time not a number, no payload",
    CloseCode.UNAUTHENTICATED: "not logged in",
    CloseCode.FORBIDDEN: "not allowed: removed, blocked by the host, or refused by an audience rule",
    CloseCode.NOT_FOUND: "no such Space",
    CloseCode.SUPERSEDED: "superseded by a newer socket of the same account (too many open)",
    CloseCode.SLOW_LISTENER: "slow listener: audio sent long ago is still not acknowledged",
    CloseCode.NOT_LIVE: "the Space hasn't started yet",
    CloseCode.ENDED: "the Space has ended or was cancelled",
    CloseCode.FRAME_TOO_LARGE: "an audio frame larger than 4,096 bytes",
    CloseCode.FLOOD: "flood: too many messages, frames or bytes in too short a time",
}

# A page does not reconnect after these: coming back would be refused again, or another tab has the room.
FINAL: frozenset[int] = frozenset(
    {CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.NOT_FOUND, CloseCode.SUPERSEDED, CloseCode.ENDED}
)
