"""Who is in a room, counted so that a killed server process cannot leave anyone present.

Each server process holds a lease (a `ServerProcess` row) that its heartbeat renews every third of
SPACES_PRESENCE_LEASE_SECONDS, and every open room socket is a `RoomSocket` row under its process. A person
is present while they have a socket whose process still holds its lease. A join writes one row and a leave
deletes it: no lock on the Space and no count. `presence_sweep` (run by beat with the host grace check)
forgets the sockets of processes whose lease ran out, tells each room who went with them, starts the host's
grace period from when the host was last seen, and keeps each live Space's peak.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone

from spaces_site.per_loop import PerLoop

from . import headcount
from .events import broadcast, host_presence_event
from .models import Participant, Role, RoomSocket, ServerProcess, Space
from .presence import batcher

log = logging.getLogger(__name__)


def _lease() -> timedelta:
    return timedelta(seconds=settings.SPACES_PRESENCE_LEASE_SECONDS)


def server_process_register(*, name: str) -> ServerProcess:
    now = timezone.now()
    process, _ = ServerProcess.objects.update_or_create(
        name=name, defaults={"renewed_at": now, "expires_at": now + _lease()}
    )
    return process


def server_process_renew(*, process_id: int) -> bool:
    """Extend the lease; False when the sweep already took the process for dead."""
    now = timezone.now()
    return bool(ServerProcess.objects.filter(pk=process_id).update(renewed_at=now, expires_at=now + _lease()))


def server_process_restore(*, name: str, sockets: dict[int, int]) -> ServerProcess:
    """Register again, with the sockets still open here (socket id: participant id), after the sweep took
    this process for dead because it could not renew in time (a database outage, a stalled loop)."""
    process = server_process_register(name=name)
    known = set(Participant.objects.filter(pk__in=set(sockets.values())).values_list("pk", flat=True))
    rows = [RoomSocket(pk=pk, participant_id=pid, process=process) for pk, pid in sockets.items() if pid in known]
    RoomSocket.objects.bulk_create(rows, ignore_conflicts=True)
    return process


@transaction.atomic
def participant_leave(*, socket_id: int) -> bool:
    """A socket closed; True when it was the person's last. When the host's last one closes, the
    grace period starts."""
    socket = RoomSocket.objects.select_related("participant__space").filter(pk=socket_id).first()
    if socket is None:
        return False  # the sweep already forgot it
    socket.delete()
    participant = socket.participant
    if RoomSocket.objects.live().filter(participant=participant).exists():
        return False
    transaction.on_commit(lambda: headcount.departed(participant.space_id))
    if participant.role == Role.HOST and participant.space.state == Space.State.LIVE:
        left_at = timezone.now()
        if Space.objects.filter(pk=participant.space_id, host_left_at__isnull=True).update(host_left_at=left_at):
            broadcast(participant.space_id, host_presence_event(left_at))
    return True


def live_socket_of(participant_ref) -> Exists:
    """An `Exists` for "this participant has an open socket", e.g. `live_socket_of(OuterRef("pk"))`."""
    return Exists(RoomSocket.objects.live().filter(participant=participant_ref))


def space_peak_record(*, space_ids: list[int] | None = None) -> None:
    """Raise each live Space's `peak_listeners` to the number of people in it now (a periodic aggregate, so
    that no join has to count), and write the exact headcounts."""
    present = Participant.objects.filter(removed_at__isnull=True).filter(live_socket_of(OuterRef("pk")))
    if space_ids is None:
        space_ids = list(Space.objects.filter(state=Space.State.LIVE).values_list("pk", flat=True))
    counts = dict.fromkeys(space_ids, 0)
    for row in present.filter(space_id__in=space_ids).order_by().values("space_id").annotate(n=Count("pk")):
        counts[row["space_id"]] = row["n"]
        Space.objects.filter(pk=row["space_id"]).update(peak_listeners=Greatest(F("peak_listeners"), row["n"]))
    headcount.record(counts)  # the exact figures, over whatever the joins' increments drifted to


def presence_sweep(*, now: datetime | None = None) -> int:
    """Forget the sockets of processes whose lease ran out; returns how many were forgotten."""
    now = now or timezone.now()
    dead = dict(ServerProcess.objects.filter(expires_at__lte=now).values_list("pk", "renewed_at"))
    forgotten = 0
    if dead:
        orphaned = RoomSocket.objects.filter(process_id__in=dead)
        last_seen = {pid: dead[proc] for pid, proc in orphaned.values_list("participant_id", "process_id")}
        forgotten, _ = orphaned.delete()
        ServerProcess.objects.filter(pk__in=dead).delete()
        still_here = set(
            RoomSocket.objects.live(now).filter(participant_id__in=last_seen).values_list("participant_id", flat=True)
        )
        gone = Participant.objects.filter(pk__in=set(last_seen) - still_here, space__state=Space.State.LIVE)
        left: dict[int, list[int]] = defaultdict(list)
        for pk, space_id, user_id, role in gone.values_list("pk", "space_id", "user_id", "role"):
            left[space_id].append(user_id)
            if role == Role.HOST:
                # The grace period runs from when the host was last seen, not from this sweep.
                if Space.objects.filter(pk=space_id, host_left_at__isnull=True).update(host_left_at=last_seen[pk]):
                    broadcast(space_id, host_presence_event(last_seen[pk]))
        for space_id, user_ids in left.items():
            broadcast(space_id, {"type": "presence", "joined": [], "left": sorted(user_ids)})
    # A host's leave and rejoin can cross (two sockets, two transactions): whoever is here now decides.
    host_here = Exists(
        RoomSocket.objects.live(now).filter(participant__space=OuterRef("pk"), participant__user=OuterRef("host_id"))
    )
    back = list(
        Space.objects.filter(state=Space.State.LIVE, host_left_at__isnull=False)
        .filter(host_here)
        .values_list("pk", flat=True)
    )
    if back and Space.objects.filter(pk__in=back).update(host_left_at=None):
        for space_id in back:
            broadcast(space_id, host_presence_event(None))
    space_peak_record()
    return forgotten


class _Keeper:
    """This event loop's lease and the sockets it holds, renewed in the background."""

    def __init__(self) -> None:
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.process_id: int | None = None
        self.sockets: dict[int, int] = {}
        self.unrecorded: dict[int, tuple[int, int]] = {}  # closed sockets whose leave failed: (space, user)
        self.lock = asyncio.Lock()
        self.task: asyncio.Task | None = None

    async def process(self) -> int:
        async with self.lock:
            if self.process_id is None:
                self.process_id = (await database_sync_to_async(server_process_register)(name=self.name)).pk
            if self.task is None or self.task.done():
                self.task = asyncio.get_running_loop().create_task(self._renew())
        return self.process_id

    async def retry_leaves(self) -> None:
        """Record the closes that failed (the database was away for a moment), so that they don't count forever."""
        for socket_id, (space_id, user_id) in list(self.unrecorded.items()):
            if await database_sync_to_async(participant_leave)(socket_id=socket_id):
                batcher().left(space_id, user_id)
            del self.unrecorded[socket_id]

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(settings.SPACES_PRESENCE_LEASE_SECONDS / 3)
            try:
                # Off the thread that runs the sockets' database work: a storm of joins must not delay the renewal.
                renew = database_sync_to_async(server_process_renew, thread_sensitive=False)
                if not await renew(process_id=self.process_id):
                    log.warning("socket lease had expired; registering %d sockets again", len(self.sockets))
                    restore = database_sync_to_async(server_process_restore)
                    self.process_id = (await restore(name=self.name, sockets=dict(self.sockets))).pk
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be down for a moment; the lease has two more renewals' worth of slack.
                log.warning("could not renew this process's socket lease", exc_info=True)
            try:
                await self.retry_leaves()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not record %d closed room sockets", len(self.unrecorded), exc_info=True)


_keeper = PerLoop(_Keeper)


async def process_id() -> int:
    """This process's lease (registered on first use, then renewed in the background)."""
    return await _keeper().process()


def opened(socket_id: int, participant_id: int) -> None:
    _keeper().sockets[socket_id] = participant_id


def closed(socket_id: int) -> None:
    _keeper().sockets.pop(socket_id, None)


def leave_later(socket_id: int, space_id: int, user_id: int) -> None:
    """A close that could not be recorded now: retried with each renewal of the lease."""
    _keeper().unrecorded[socket_id] = (space_id, user_id)
