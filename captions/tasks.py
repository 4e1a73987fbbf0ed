"""Background work for captions: one long-running captioner per live Space, and the sweep that
re-dispatches Spaces whose captioner died (captions/README.md, "Operation")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from . import live, selectors, services

log = logging.getLogger(__name__)


@shared_task(acks_late=False, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def caption_space(space_id: int) -> str:
    """Caption a live Space until it ends (routed to the `captions` queue).

    Acknowledged on receipt, not at the end: a Space can stay live for hours, and a worker that dies
    mid-Space is replaced by the sweep through the lease, not by the broker redelivering the task.
    Idempotent: a second copy finds the lease held and returns at once.
    """
    return live.SpaceCaptionRunner(space_id).run()


def dispatch(space_id: int) -> bool:
    """Start captioning a Space unless a captioner holds it or one is already on its way."""
    if not settings.CAPTIONS_LIVE or not services.caption_lease_reserve(space_id=space_id):
        return False
    if caption_space.app.conf.task_always_eager:
        # Embedded default: running the task eagerly would hold the request for the whole Space.
        live.start_in_process(space_id)
    else:
        caption_space.apply_async((space_id,))
    return True


@shared_task
def sweep_captioners() -> list[int]:
    """Beat: dispatch every live Space nobody captions (never dispatched, or its lease expired)."""
    if not settings.CAPTIONS_LIVE:
        return []
    dispatched = [pk for pk in selectors.spaces_without_captioner().values_list("pk", flat=True) if dispatch(pk)]
    if dispatched:
        log.info("captions sweep dispatched spaces %s", dispatched)
    return dispatched
