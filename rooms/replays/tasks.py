"""Background work for replays: one recorder per recorded live Space (the `recordings` queue), the mixes,
the sweep that restarts dead recorders, and the retention period.

Each task fetches by id (or asks the clock) and calls one service, imported inside its body; the services
and the recorder enqueue these tasks, imported at their module top as `<name>_task` (through
`background.enqueue` where the embedded default runs them in a thread of the serving process).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

log = logging.getLogger(__name__)

MAX_MIX_ATTEMPTS = 5
MIX_WAIT_FOR_RECORDER_S = 30  # how long the final mix waits for a recorder that is still flushing


@shared_task(bind=True, acks_late=False, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def record_space(self, space_id: int) -> str:
    """Record a live Space until it ends (routed to the `recordings` queue).

    Acknowledged on receipt: a worker that dies mid-Space is replaced by the sweep through the lease, not by
    the broker redelivering an hour-old task. A second copy finds the lease held and returns at once."""
    from .recorder import recorder_run

    return recorder_run(space_id=space_id, in_process=bool(self.request.is_eager))


@shared_task(autoretry_for=(DatabaseError, OSError), retry_backoff=True, max_retries=3)
def mix_section(space_id: int, index: int) -> int:
    """Mix one finished section of a live recording, so the replay is ready soon after the end."""
    from .services import recording_section_mix

    return recording_section_mix(space_id=space_id, index=index)


@shared_task(bind=True, max_retries=MAX_MIX_ATTEMPTS)
def mix_recording(self, space_id: int) -> str:
    """After the end: wait for the recorder to flush, then mix and keep the replay; retried with backoff."""
    from . import selectors, services

    recording = selectors.recording_to_mix(space_id=space_id)
    if recording is None:
        return "nothing to mix"
    if selectors.recorder_running(recording=recording) and self.request.retries < MIX_WAIT_FOR_RECORDER_S:
        raise self.retry(countdown=1, max_retries=MIX_WAIT_FOR_RECORDER_S + MAX_MIX_ATTEMPTS)
    try:
        services.recording_mix(space_id=space_id)
    except Exception as exc:
        final = self.request.retries >= MAX_MIX_ATTEMPTS
        log.exception("replays: mixing space %s failed", space_id)
        services.recording_mix_failed(space_id=space_id, error=f"{type(exc).__name__}: {exc}", final=final)
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return "ready"


@shared_task(autoretry_for=(DatabaseError, OSError), retry_backoff=True, max_retries=3)
def cut_clip(clip_id: int) -> bool:
    """Mix a clip's range into its own file."""
    from .services import clip_cut

    return clip_cut(clip_id=clip_id) is not None


@shared_task
def sweep_recorders() -> list[int]:
    """Beat: dispatch a recorder for every recorded live Space nobody records (its lease expired)."""
    from .services import recorders_sweep

    return recorders_sweep()


@shared_task
def sample_listener_curves() -> int:
    """Beat: this minute's row of every live Space's listener curve."""
    from .curve import sample

    return sample()


@shared_task
def expire_replays() -> int:
    """Beat: the operator's retention period (REPLAYS_RETENTION_DAYS; 0 keeps replays for ever)."""
    from .services import replays_expire

    return replays_expire(days=settings.REPLAYS_RETENTION_DAYS)
