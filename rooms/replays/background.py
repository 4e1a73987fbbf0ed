"""Where replay work runs: on the Celery workers, or, in the embedded default (tasks run eagerly, in the
caller), in a thread of this process, so no request and no recorder waits for a mix or a cut."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Task
from django.db import connection

log = logging.getLogger(__name__)


def runs_in_process(task: Task) -> bool:
    return bool(task.app.conf.task_always_eager)


def in_thread(name: str, work: Callable[..., Any], *args: Any) -> threading.Thread:
    def run() -> None:
        try:
            work(*args)
        except Exception:
            log.exception("replays: %s failed", name)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def enqueue(task: Task, *args: Any, name: str, countdown: float = 0) -> None:
    """Send `task` to the workers, or run it in a thread named `name` after `countdown` seconds."""
    if not runs_in_process(task):
        if countdown:
            task.apply_async(args, countdown=countdown)
        else:
            task.apply_async(args)
        return

    def later() -> None:
        if countdown:
            threading.Event().wait(countdown)
        task(*args)

    in_thread(name, later)
