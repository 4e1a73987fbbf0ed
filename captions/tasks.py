"""Background work for captions: handing a live Space to a captions worker, the sweep that finds
Spaces nobody captions, and loading the model when a captions worker starts (captions/README.md)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.db import DatabaseError

from rooms.events import broadcast

from . import live, selectors, services

log = logging.getLogger(__name__)
CAPTIONS_QUEUE = "captions"


@shared_task(acks_late=False, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def caption_space(space_id: int) -> str:
    """Hand a live Space to this worker process's caption host (routed to the `captions` queue).

    Returns at once: the host captions several Spaces side by side for as long as they are live, and
    takes the Space as soon as it has room (another process with room may take it first).
    """
    live.start_in_process(space_id)
    return "offered"


def dispatch(space_id: int) -> bool:
    """Start captioning a Space unless a captioner holds it or one is already on its way."""
    if not settings.CAPTIONS_LIVE or not services.caption_lease_reserve(space_id=space_id):
        return False
    if caption_space.app.conf.task_always_eager:
        live.start_in_process(space_id)  # the embedded default: this process's host
    else:
        caption_space.apply_async((space_id,))
    return True


@shared_task
def sweep_captioners() -> list[int]:
    """Beat: dispatch every live Space nobody captions, and tell the ones still waiting for a captioner."""
    if not settings.CAPTIONS_LIVE:
        return []
    dispatched = [pk for pk in selectors.spaces_without_captioner().values_list("pk", flat=True) if dispatch(pk)]
    if dispatched:
        log.info("captions sweep dispatched spaces %s", dispatched)
    for space_id in selectors.spaces_waiting_for_captioner(seconds=settings.CAPTIONS_SWEEP_SECONDS):
        if services.caption_lease_mark_waiting(space_id=space_id):
            broadcast(
                space_id,
                {
                    "type": "caption_notice",
                    "speaker_id": None,
                    "speaker_index": None,
                    "speaker_name": "",
                    "code": live.NOTICE_WAITING,
                    "message": "Live captions are waiting for a free captioner; they start as soon as one frees up.",
                },
            )
    return dispatched


def _consumes_captions(app) -> bool:
    return CAPTIONS_QUEUE in app.amqp.queues.consume_from


@worker_init.connect
def _load_in_solo_worker(sender=None, **kwargs) -> None:
    # Pools without child processes (solo, threads) caption in the worker process itself.
    pool = str(getattr(sender, "pool_cls", "")).lower()
    if "prefork" not in pool and sender is not None and _consumes_captions(sender.app) and settings.CAPTIONS_LIVE:
        live.start_worker_host()


@worker_process_init.connect
def _load_in_child(**kwargs) -> None:
    from spaces_site.celery import app

    if _consumes_captions(app) and settings.CAPTIONS_LIVE:
        live.start_worker_host()


@worker_process_shutdown.connect
@worker_shutdown.connect
def _release_on_shutdown(**kwargs) -> None:
    # A worker stopped cleanly hands its Spaces back at once instead of leaving them to the lease.
    live.shutdown_host(release=True)
