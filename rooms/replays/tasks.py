"""Background work for replays: one recorder per recorded live Space (the `recordings` queue), the mixes,
the sweep that restarts dead recorders, and the retention period."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection

from . import recorder, selectors, services
from .models import Recording

log = logging.getLogger(__name__)

MIX_WAIT_FOR_RECORDER_S = 30  # how long the final mix waits for a recorder that is still flushing


@shared_task(acks_late=False, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def record_space(space_id: int) -> str:
    """Record a live Space until it ends (routed to the `recordings` queue).

    Acknowledged on receipt: a worker that dies mid-Space is replaced by the sweep through the lease, not by
    the broker redelivering an hour-old task. A second copy finds the lease held and returns at once."""
    return recorder.SpaceRecorder(space_id).run()


def dispatch_recorder(space_id: int) -> bool:
    """Start recording a Space unless a recorder holds it or one is already on its way."""
    if not services.recorder_lease_reserve(space_id=space_id):
        return False
    if record_space.app.conf.task_always_eager:
        recorder.start_in_process(space_id)  # eagerly, the task would hold the request for the whole Space
    else:
        record_space.apply_async((space_id,))
    return True


@shared_task(autoretry_for=(DatabaseError, OSError), retry_backoff=True, max_retries=3)
def mix_section(space_id: int, index: int) -> int:
    """Mix one finished section of a live recording, so the replay is ready soon after the end."""
    return services.recording_section_mix(space_id=space_id, index=index)


def dispatch_section_mix(space_id: int, index: int) -> None:
    if mix_section.app.conf.task_always_eager:
        _in_thread(f"replay-section-{space_id}-{index}", mix_section, space_id, index)
    else:
        mix_section.apply_async((space_id, index))


@shared_task(bind=True, max_retries=services.MAX_MIX_ATTEMPTS)
def mix_recording(self, space_id: int) -> str:
    """After the end: wait for the recorder to flush, then mix and keep the replay; retried with backoff."""
    recording = Recording.objects.filter(pk=space_id).first()
    if recording is None or recording.state in (Recording.State.DELETED, Recording.State.READY):
        return "nothing to mix"
    if selectors.recorder_running(recording=recording) and self.request.retries < MIX_WAIT_FOR_RECORDER_S:
        raise self.retry(countdown=1, max_retries=MIX_WAIT_FOR_RECORDER_S + services.MAX_MIX_ATTEMPTS)
    try:
        services.recording_mix(space_id=space_id)
    except Exception as exc:
        final = self.request.retries >= services.MAX_MIX_ATTEMPTS
        log.exception("replays: mixing space %s failed", space_id)
        services.recording_mix_failed(space_id=space_id, error=f"{type(exc).__name__}: {exc}", final=final)
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return "ready"


def dispatch_mix(space_id: int) -> None:
    if not mix_recording.app.conf.task_always_eager:
        mix_recording.apply_async((space_id,))
        return
    _in_thread(f"replay-mix-{space_id}", _mix_in_process, space_id)


def _mix_in_process(space_id: int) -> None:
    """The embedded default: wait for this process's recorder to finish, then mix, retrying a failed mix."""
    running = recorder.running_in_process(space_id)
    if running is not None:
        running[0].join(MIX_WAIT_FOR_RECORDER_S)
    for attempt in range(services.MAX_MIX_ATTEMPTS + 1):
        try:
            services.recording_mix(space_id=space_id)
            return
        except Exception as exc:
            log.exception("replays: mixing space %s failed", space_id)
            final = attempt == services.MAX_MIX_ATTEMPTS
            services.recording_mix_failed(space_id=space_id, error=f"{type(exc).__name__}: {exc}", final=final)
            threading.Event().wait(2**attempt)


def _in_thread(name: str, task, *args) -> threading.Thread:
    def run() -> None:
        try:
            task(*args)
        except Exception:
            log.exception("replays: %s failed", name)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


@shared_task(autoretry_for=(DatabaseError, OSError), retry_backoff=True, max_retries=3)
def cut_clip(clip_id: int) -> bool:
    """Mix a clip's range into its own file."""
    return services.clip_cut(clip_id=clip_id) is not None


def dispatch_clip_cut(clip_id: int, *, live: bool = False) -> None:
    # A live clip waits for the recorder's next flush, so its last seconds are in the chunks.
    delay = settings.REPLAYS_FLUSH_SECONDS + 1 if live else 0
    if cut_clip.app.conf.task_always_eager:

        def later() -> None:
            threading.Event().wait(delay)
            cut_clip(clip_id)

        _in_thread(f"replay-clip-{clip_id}", later)
    else:
        cut_clip.apply_async((clip_id,), countdown=delay)


@shared_task
def sweep_recorders() -> list[int]:
    """Beat: dispatch a recorder for every recorded live Space nobody records (its lease expired)."""
    dispatched = [
        pk for pk in selectors.spaces_without_recorder().values_list("pk", flat=True) if dispatch_recorder(pk)
    ]
    if dispatched:
        log.info("replays sweep dispatched recorders for spaces %s", dispatched)
    return dispatched


@shared_task
def sample_listener_curves() -> int:
    """Beat: this minute's row of every live Space's listener curve."""
    from . import curve

    return curve.sample()


@shared_task
def expire_replays() -> int:
    """Beat: the operator's retention period (REPLAYS_RETENTION_DAYS; 0 keeps replays for ever)."""
    if not settings.REPLAYS_RETENTION_DAYS:
        return 0
    return services.replays_expire(days=settings.REPLAYS_RETENTION_DAYS)
