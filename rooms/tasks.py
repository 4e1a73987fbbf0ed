"""Background work for Spaces: each task fetches by id (or asks the clock) and calls one service.

Services enqueue these tasks (imported at their module top as `<name>_task`); a task imports its service
inside its body, so no service module imports the tasks' callers in a circle. The business rules (who is
told, when a Space is missed or abandoned) live in the services and selectors, not here.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_space_live(space_id: int) -> int:
    """Tell the host's followers and everyone who set a reminder that the Space is live, in batches."""
    from .live_notices import space_live_notices_plan

    return space_live_notices_plan(space_id=space_id)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_space_live_batch(space_id: int, recipient_ids: list[int]) -> int:
    """One batch of go-live notices (idempotent: a retry writes only what is missing)."""
    from .live_notices import space_live_notices_send

    return space_live_notices_send(space_id=space_id, recipient_ids=recipient_ids)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def push_live_bubble(space_id: int, user_id: int, action: str) -> int:
    """Make a purple bubble appear or vanish on the open home pages of `user_id`'s followers."""
    from .live_notices import live_bubble_push

    return live_bubble_push(space_id=space_id, user_id=user_id, action=action)


@shared_task
def send_due_reminders() -> int:
    """Beat: notify each reminded person once, ahead or at the start; safe with several beats or workers."""
    from .services import reminders_send_due

    return reminders_send_due()


@shared_task
def prompt_due_spaces() -> int:
    """Beat: at a Space's time, prompt its host to start; after the grace period, mark it missed."""
    from .services import spaces_due_prompt

    return spaces_due_prompt()


@shared_task
def end_abandoned_spaces() -> int:
    """Beat: forget the sockets of dead server processes, then end live Spaces whose host left longer
    than the grace period ago."""
    from .services import spaces_abandoned_end

    return spaces_abandoned_end()
