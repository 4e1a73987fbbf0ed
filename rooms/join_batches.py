"""A server process's joins of one Space, written to the database together.

A join alone costs about ten statements (the person's row, the host's blocks, their invitations, the row and
socket inserts, their block list, the commit), and in a storm the ORM's work on them was a third of a server's
CPU per join. Joins of a Space that arrive while this process writes the previous ones wait and go together,
at most MAX_BATCH at a time, through `services.participants_join` and one look-up of their block lists: a lone
join goes at once, and in a storm each statement is paid once per batch, not once per person. Batches of
different Spaces run side by side on the join threads (`spaces_site.db_threads`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.models import User
from spaces_site.db_threads import on_threads_of
from spaces_site.per_loop import PerLoop

from . import access, leases, selectors, services, welcome_cache
from .models import Participant, Space

log = logging.getLogger(__name__)

MAX_BATCH = 100


def on_join_threads(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return on_threads_of("room-join", settings.SPACES_JOIN_THREADS, function)


# The parts of a welcome that are the same for the whole batch (`selectors.room_shared_snapshot`): serialised once.
SHARED_FIELDS = ("speakers", "listeners", "pins")


@dataclass(frozen=True)
class Joined:
    participant: Participant  # with `socket_id` and `first_connection` (services.participant_join)
    welcome: dict
    text: str  # `welcome` as JSON


@dataclass(frozen=True)
class _Request:
    user: User
    done: asyncio.Future


def write_batch(
    space_id: int, users: list[User], process_id: int, welcomes: welcome_cache.WelcomeCache
) -> list[Joined | access.Decision]:
    """Join distinct `users`' new sockets on process `process_id` (on a database thread); each outcome, in their
    order, is the join with its `welcome`, or the refusal."""
    space = Space.objects.get(pk=space_id)
    outcomes = services.participants_join(space=space, users=users, process_id=process_id)
    admitted = [outcome for outcome in outcomes if isinstance(outcome, Participant)]
    if not admitted:  # all refused: no welcome to make
        return [outcome for outcome in outcomes if isinstance(outcome, access.Decision)]
    try:
        shared = welcomes.shared(space.pk, space.started_at, lambda: selectors.room_shared_snapshot(space=space))
        blocks = selectors.block_lists(user_ids=[participant.user_id for participant in admitted])
        shared_json = _json({field: shared[field] for field in SHARED_FIELDS})
        count = selectors.welcome_listener_count(space=space, shared=shared)  # the same for the whole batch
        written: list[Joined | access.Decision] = []
        for outcome in outcomes:
            if isinstance(outcome, Participant):
                outcome.space = space
                blocked_ids = blocks[outcome.user_id]
                welcome = selectors.room_snapshot(
                    space=space, me=outcome, shared=shared, blocked_ids=blocked_ids, listener_count=count
                )
                written.append(Joined(outcome, welcome, welcome_text(welcome, shared_json)))
            else:
                written.append(outcome)
    except Exception as exc:
        raise Unwelcomed(admitted) from exc
    return written


def welcome_text(welcome: dict, shared_json: str) -> str:
    """`welcome` as JSON, its shared fields spliced in from `shared_json` (their object, serialised once a batch:
    in a big Space they are most of a welcome's text, and serialising them per socket was 6 % of a storm)."""
    own = _json({key: value for key, value in welcome.items() if key not in SHARED_FIELDS})
    return f"{own[:-1]},{shared_json[1:]}"


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)


class Unwelcomed(Exception):
    """The batch's sockets were written but their welcomes could not be made: they must be closed again."""

    def __init__(self, admitted: list[Participant]) -> None:
        super().__init__(f"{len(admitted)} joins written without a welcome")
        self.admitted = admitted


def _take(waiting: list[_Request]) -> list[_Request]:
    """The next batch, in order of arrival: one request per person (a second tab waits for the next batch)."""
    batch: list[_Request] = []
    people: set[int] = set()
    rest: list[_Request] = []
    for request in waiting:
        if len(batch) < MAX_BATCH and request.user.pk not in people:
            batch.append(request)
            people.add(request.user.pk)
        else:
            rest.append(request)
    waiting[:] = rest
    return batch


class JoinBatches:
    """One per event loop; everything but the writing happens on the loop."""

    def __init__(self) -> None:
        self._waiting: dict[int, list[_Request]] = {}
        self._writers: dict[int, asyncio.Task] = {}

    async def join(self, space_id: int, user: User, process_id: int) -> Joined:
        """Join `user`'s new socket to the Space. Raises access.AdmissionRefused, Space.DoesNotExist, or what
        writing the batch raised. Whoever awaits it should not be cancelled meanwhile (the room consumer
        shields it): the socket's row would be written with nobody left to close it, so it is closed here."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(space_id, []).append(_Request(user, done))
        if space_id not in self._writers:
            self._writers[space_id] = asyncio.ensure_future(self._write_all(space_id, process_id))
        return await done

    def waiting(self, space_id: int) -> int:
        """Joins of the Space waiting for the batch being written to finish."""
        return len(self._waiting.get(space_id, ()))

    async def _write_all(self, space_id: int, process_id: int) -> None:
        write = on_join_threads(write_batch)
        welcomes = welcome_cache.for_this_loop()
        try:
            while waiting := self._waiting.get(space_id):
                batch = _take(waiting)
                try:
                    outcomes = await write(space_id, [request.user for request in batch], process_id, welcomes)
                except Exception as exc:  # e.g. the database is away: every join of the batch fails with it
                    if isinstance(exc, Unwelcomed):
                        for participant in exc.admitted:
                            await _close(participant)
                    for request in batch:
                        _settle(request.done, exception=exc)
                    continue
                for request, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Joined):
                        if not _settle(request.done, result=outcome):
                            await _close(outcome.participant)
                    else:
                        _settle(request.done, exception=access.AdmissionRefused(outcome))
        finally:
            del self._writers[space_id]
            if not self._waiting.get(space_id):
                self._waiting.pop(space_id, None)


def _settle(done: asyncio.Future, *, result: Joined | None = None, exception: Exception | None = None) -> bool:
    if done.done():  # its caller was cancelled
        return False
    if exception is not None:
        done.set_exception(exception)
    else:
        done.set_result(result)
    return True


async def _close(participant: Participant) -> None:
    """Close the socket a join wrote for nobody (its caller went, or its welcome failed)."""
    try:
        await on_join_threads(services.participant_leave)(socket_id=participant.socket_id)
    except Exception:
        log.warning("could not close a socket written for nobody; retrying with the lease", exc_info=True)
        leases.leave_later(participant.socket_id, participant.space_id, participant.user_id)


for_this_loop = PerLoop(JoinBatches)
