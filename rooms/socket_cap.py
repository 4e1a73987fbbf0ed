"""At most SPACES_MAX_SOCKETS_PER_ACCOUNT sockets per account per Space, across every server process.

The open sockets are the presence leases' rows (`rooms.leases`), so a socket of a dead process never
counts for long. When a join takes someone past the cap, the oldest of their sockets are named in a
`socket_superseded` event to the Space; the consumer holding each one closes with CloseCode.SUPERSEDED and
every other consumer ignores it (it never reaches a page).
"""

from __future__ import annotations

from django.conf import settings

from .events import broadcast
from .models import RoomSocket

SUPERSEDED_EVENT = "socket_superseded"


def sockets_supersede(*, space_id: int, participant_id: int) -> list[int]:
    """Name this participant's sockets past the cap, oldest first, to the Space; returns their ids."""
    newest_first = (
        RoomSocket.objects.live()
        .filter(participant_id=participant_id)
        .order_by("-opened_at", "-pk")
        .values_list("pk", flat=True)
    )
    superseded = list(newest_first[settings.SPACES_MAX_SOCKETS_PER_ACCOUNT :])
    if superseded:
        broadcast(space_id, {"type": SUPERSEDED_EVENT, "socket_ids": superseded})
    return superseded
