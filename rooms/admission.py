"""Admission under overload: a server process lets listeners in up to its capacity and its join rate; the rest
wait in line, first in, first out, and are let in as places free (rooms/PROTOCOL.md, "Admission").

A place is one socket of this process. Listeners take one while fewer sockets than the capacity hold one and the
join rate (a token bucket of SPACES_JOINS_PER_SECOND) allows; otherwise they wait, and hear nothing and count
nowhere until their turn. The capacity follows the relay: SPACES_LISTENERS_PER_PROCESS at most, held where it is
the moment the loop runs late (rooms/loop_lag.py), a tenth lower after LATE_SECONDS_TO_SHED late seconds running
(the newest listeners past it going back to the front of the line), and a twentieth of the most higher each
second on time. The stage (the host, co-hosts, speakers, anyone invited to speak) never waits: it takes a place at
once, even past the capacity, and is never sent back. A socket that goes while waiting simply
leaves the line. Every SPACES_WAITING_UPDATE_SECONDS each waiting socket whose place or rough wait changed is told,
and each process writes how many wait for each Space in the shared cache under its own lease id, with an
expiry, so that the host's and co-hosts' processes can tell them the total and a killed process's line fades.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict, deque
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from spaces_site.per_loop import PerLoop
from spaces_site.process_cache import process_cache

from . import fanout, leases, loop_lag
from .models import MANAGER_ROLES, SPEAKING_ROLES, Invitation, Participant, Space
from .presence import TokenBucket

log = logging.getLogger(__name__)

STAGE_FRESH_SECONDS = 2.0  # how long a Space's stage, as read for the line, is trusted
FREED_WINDOW_SECONDS = 30.0  # the places given back over this long estimate the wait of a full process
TELL_AT_ONCE = 100  # waiting sockets told their place in one turn of the loop
LATE_SECONDS_TO_SHED = 3  # a pause is a moment; a loop late this many seconds running cannot carry its sockets
SHED_SHARE = 0.1  # of those inside, sent back into line at each step down
GROW_SHARE = 0.05  # of SPACES_LISTENERS_PER_PROCESS, places added back each second on time


class Waiting(Protocol):
    """What the line needs of a socket (the room consumer)."""

    space_id: int | None

    @property
    def sheddable(self) -> bool:
        """A listener in the room (never the stage, never a socket still joining)."""
        ...

    async def line_update(self, position: int, seconds: int | None) -> None: ...

    async def back_in_line(self) -> None:
        """Leave the room, still connected, and wait again at the front of the line."""
        ...


class _Ticket:
    __slots__ = ("space_id", "user_id", "turn", "told")

    def __init__(self, space_id: int, user_id: int, turn: asyncio.Future) -> None:
        self.space_id = space_id
        self.user_id = user_id
        self.turn = turn
        self.told: tuple[int, int | None] | None = None  # the place and wait last sent


def _stage_of(space_id: int) -> frozenset[int] | None:
    """Who goes straight in: the host, the stage and whoever is invited to it; None for a Space that is not live
    (nobody waits for it: the join refuses them at once)."""
    row = Space.objects.filter(pk=space_id).values_list("host_id", "state").first()
    if row is None or row[1] != Space.State.LIVE:
        return None
    on_stage = Participant.objects.filter(space_id=space_id, role__in=SPEAKING_ROLES, removed_at__isnull=True)
    invited = Invitation.objects.filter(space_id=space_id)
    return frozenset({row[0], *on_stage.values_list("user_id", flat=True), *invited.values_list("user_id", flat=True)})


def _key(space_id: int, process_id: int) -> str:
    return f"rooms:waiting:{space_id}:{process_id}"


def _members_key(space_id: int) -> str:
    return f"rooms:waiting:{space_id}:processes"


def _report(process_id: int, counts: dict[int, int], emptied: set[int]) -> None:
    """This process's line per Space, kept for three updates, so that a process that dies stops counting on its
    own; and this process among those with a line for each Space. Two processes adding themselves at once may
    lose one of the two: it adds itself again at its next update."""
    keep = 3 * settings.SPACES_WAITING_UPDATE_SECONDS + 1
    cache = process_cache()
    if counts:
        cache.set_many({_key(space_id, process_id): n for space_id, n in counts.items()}, keep)
    for space_id in counts:
        members = cache.get(_members_key(space_id)) or []
        alive = cache.get_many([_key(space_id, member) for member in members])
        members = [member for member in members if _key(space_id, member) in alive and member != process_id]
        cache.set(_members_key(space_id), [*members, process_id], keep)
    if emptied:
        cache.delete_many([_key(space_id, process_id) for space_id in emptied])


def _totals(space_ids: list[int]) -> dict[int, int]:
    """How many wait for each of these Spaces, over every server process with a line for it."""
    cache = process_cache()
    members = cache.get_many([_members_key(space_id) for space_id in space_ids])
    keys = {
        _key(space_id, member): space_id for space_id in space_ids for member in members.get(_members_key(space_id), ())
    }
    totals = dict.fromkeys(space_ids, 0)
    for key, n in cache.get_many(list(keys)).items():
        totals[keys[key]] += int(n)
    return totals


def waiting_for(space_id: int) -> int:
    """How many wait to get into the Space now, as its hosts are told (up to SPACES_WAITING_UPDATE_SECONDS old);
    0 while the shared cache is away (Redis restarting): the room page then draws the room, and the socket says."""
    try:
        return _totals([space_id])[space_id]
    except Exception:
        log.warning("could not read how many wait for Space %d", space_id, exc_info=True)
        return 0


class _Gate:
    """This event loop's places, its line and its join rate."""

    def __init__(self) -> None:
        self.rate = settings.SPACES_JOINS_PER_SECOND
        self.bucket = TokenBucket(self.rate, 1)  # a second's worth of joins at once, then the rate
        self.held: dict[Waiting, None] = {}  # in the order they took their place
        self.ceiling = settings.SPACES_LISTENERS_PER_PROCESS
        self.capacity = self.ceiling
        self.late_seconds = 0
        self.floor = max(1, self.ceiling // 10)
        self.line: OrderedDict[Waiting, _Ticket] = OrderedDict()
        self.freed: deque[float] = deque()
        self.room = asyncio.Event()  # set when a place is given back or the capacity grows
        self.stages: dict[int, tuple[float, frozenset[int] | None]] = {}
        self.loading: dict[int, asyncio.Future] = {}
        self.reported: set[int] = set()
        self.told: dict[int, int] = {}
        self.pump: asyncio.Task | None = None
        self.ticker: asyncio.Task | None = None
        self.lag_watch: asyncio.Task | None = None
        self.background: set[asyncio.Task] = set()

    @property
    def full(self) -> bool:
        return len(self.held) >= self.capacity

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.ticker is None or self.ticker.done():
            self.ticker = loop.create_task(self._tick())
        if settings.SPACES_RELAY_LATE_MS and (self.lag_watch is None or self.lag_watch.done()):
            self.lag_watch = loop.create_task(loop_lag.watch(self.relay_second))

    async def admit_at_once(self, socket: Waiting, space_id: int, user_id: int) -> bool:
        """Give `socket` a place now if there is one for it: room and a token with nobody waiting, or the stage."""
        self._start()
        if (not self.line and not self.full and self.bucket.take()) or await self._skips_line(space_id, user_id):
            self.held[socket] = None
            return True
        return False

    def wait(
        self, socket: Waiting, space_id: int, user_id: int, first: bool = False
    ) -> tuple[asyncio.Future, int, int | None]:
        """Put `socket` at the end of the line (at its front if `first`): its turn (a future set when it holds a
        place), place and wait."""
        turn = asyncio.get_running_loop().create_future()
        ticket = self.line[socket] = _Ticket(space_id, user_id, turn)
        if first:
            self.line.move_to_end(socket, last=False)
        if self.pump is None or self.pump.done():
            self.pump = asyncio.get_running_loop().create_task(self._let_in())
        position = 1 if first else len(self.line)
        ticket.told = (position, self.estimate(position))  # the socket says so as it joins the line
        return turn, *ticket.told

    def leave(self, socket: Waiting, shed: bool = False) -> None:
        """`socket` goes: out of the line, or its place given back to the line; safe to call twice. A place `shed`
        does not count as freed: the wait in line is estimated from people leaving."""
        ticket = self.line.pop(socket, None)
        if ticket is not None:
            ticket.turn.cancel()
        elif socket in self.held:
            del self.held[socket]
            if shed:
                return
            self.freed.append(time.monotonic())
            self._forget_freed_before(time.monotonic() - FREED_WINDOW_SECONDS)
            self.room.set()

    def _forget_freed_before(self, moment: float) -> None:
        while self.freed and self.freed[0] < moment:
            self.freed.popleft()

    def estimate(self, position: int) -> int | None:
        """Rough seconds until the `position`th in line is in: at the join rate while there is room, else at the
        rate places were given back lately; None when none were."""
        rate = float(self.rate)
        if self.full:
            self._forget_freed_before(time.monotonic() - FREED_WINDOW_SECONDS)
            rate = min(rate, len(self.freed) / FREED_WINDOW_SECONDS)
        return math.ceil(position / rate) if rate > 0 else None

    def _give_place(self, socket: Waiting, ticket: _Ticket) -> None:
        self.held[socket] = None
        if not ticket.turn.done():
            ticket.turn.set_result(None)

    async def _let_in(self) -> None:
        """First in, first out, as places free and the join rate allows."""
        while self.line:
            if self.full:
                self.room.clear()
                await self.room.wait()
                continue
            if not self.bucket.take():
                await asyncio.sleep(1 / self.rate)
                continue
            socket, ticket = self.line.popitem(last=False)
            self._give_place(socket, ticket)

    def relay_second(self, lag: float) -> None:
        """One second of the loop's lateness (`lag`, its median in seconds): the capacity follows it."""
        late = settings.SPACES_RELAY_LATE_MS / 1000
        if lag > late:
            self.late_seconds += 1
            if self.late_seconds == 1 and self.capacity > max(self.floor, len(self.held)):
                self.capacity = max(self.floor, len(self.held))
                log.info("the relay runs %.0f ms late: no more listeners let in for now", lag * 1000)
            elif self.late_seconds >= LATE_SECONDS_TO_SHED:
                self.late_seconds = 0
                self._step_down(lag)
            return
        self.late_seconds = 0
        if lag <= late / 2 and self.capacity < self.ceiling:
            self.capacity = min(self.ceiling, self.capacity + max(1, round(self.ceiling * GROW_SHARE)))
            self.room.set()

    def _step_down(self, lag: float) -> None:
        """A tenth fewer places, never below a tenth of the most; the newest listeners past it go back in line."""
        capacity = max(self.floor, min(self.capacity, math.floor(len(self.held) * (1 - SHED_SHARE))))
        over = len(self.held) - capacity
        shed = [socket for socket in reversed(self.held) if socket.sheddable][:over] if over > 0 else []
        if capacity < self.capacity or shed:
            log.warning(
                "the relay ran %.0f ms late for %d s: %d places now, %d listeners back in line",
                lag * 1000,
                LATE_SECONDS_TO_SHED,
                capacity,
                len(shed),
            )
        self.capacity = capacity
        for socket in shed:
            task = asyncio.get_running_loop().create_task(socket.back_in_line())
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _skips_line(self, space_id: int, user_id: int) -> bool:
        try:
            stage = await self._stage(space_id, STAGE_FRESH_SECONDS)
        except Exception:
            # Wait, then: the next update reads the stage again.
            log.warning("could not read who is on a Space's stage", exc_info=True)
            return False
        return stage is None or user_id in stage

    async def _stage(self, space_id: int, fresh: float) -> frozenset[int] | None:
        """The Space's stage as read at most `fresh` seconds ago; one read at a time per Space, however many ask."""
        known = self.stages.get(space_id)
        if known is not None and time.monotonic() - known[0] < fresh:
            return known[1]
        loading = self.loading.get(space_id)
        if loading is None:
            loading = self.loading[space_id] = asyncio.ensure_future(self._load_stage(space_id))
        return await asyncio.shield(loading)

    async def _load_stage(self, space_id: int) -> frozenset[int] | None:
        try:
            # On the sockets' database thread, behind at most a second of joins (the join rate keeps its queue short).
            stage = await database_sync_to_async(_stage_of)(space_id)
            self.stages[space_id] = (time.monotonic(), stage)
            return stage
        finally:
            del self.loading[space_id]

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(settings.SPACES_WAITING_UPDATE_SECONDS)
            try:
                await self.update()
            except Exception:
                log.warning("could not update the line of waiting listeners", exc_info=True)

    async def update(self) -> None:
        """Let in whoever joined the stage while waiting, tell the rest where they are when that changed, and tell
        the hosts here how many wait for their Space (once more with 0 when the line empties)."""
        long_ago = time.monotonic() - 60
        self.stages = {space_id: known for space_id, known in self.stages.items() if known[0] > long_ago}
        for space_id in {ticket.space_id for ticket in self.line.values()}:
            stage = await self._stage(space_id, fresh=0)
            for socket, ticket in list(self.line.items()):
                if ticket.space_id == space_id and (stage is None or ticket.user_id in stage):
                    del self.line[socket]
                    self._give_place(socket, ticket)
        told = 0
        for position, (socket, ticket) in enumerate(list(self.line.items()), 1):
            place = (position, self.estimate(position))
            if place == ticket.told:
                continue  # a full process with nobody leaving: thousands would be told the same every few seconds
            ticket.told = place
            try:
                await socket.line_update(*place)
            except Exception:
                log.debug("could not tell a waiting socket its place", exc_info=True)
            told += 1
            if told % TELL_AT_ONCE == 0:
                await asyncio.sleep(0)  # the audio of those inside goes out between a long line's updates
        counts = Counter(ticket.space_id for ticket in self.line.values())
        emptied, self.reported = self.reported - set(counts), set(counts)
        if counts or emptied:
            await asyncio.to_thread(_report, await leases.process_id(), dict(counts), emptied)
        await self._tell_managers()

    async def _tell_managers(self) -> None:
        managed = {
            space_id: managers
            for space_id in fanout.local_space_ids()
            if (managers := [s for s in fanout.local_sockets(space_id) if getattr(s, "role", None) in MANAGER_ROLES])
        }
        self.told = {space_id: n for space_id, n in self.told.items() if space_id in managed}
        if not managed:
            return
        totals = await asyncio.to_thread(_totals, list(managed))
        for space_id, total in totals.items():
            if total == 0 and self.told.get(space_id, 0) == 0:
                continue
            self.told[space_id] = total
            await fanout.deliver_to(managed[space_id], {"type": "waiting_count", "count": total})


gate = PerLoop(_Gate)
