"""Celery beat for the embedded default: `manage.py runserver` without REDIS_URL runs tasks
in-process and has no beat process, so this thread runs the CELERY_BEAT_SCHEDULE entries itself
(due reminders, the host grace sweep). The production shape runs `celery beat` instead."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_started = threading.Event()


def _every_seconds(schedule) -> float | None:
    if isinstance(schedule, int | float):
        return float(schedule)
    run_every = getattr(schedule, "run_every", None)
    return run_every.total_seconds() if run_every is not None else None


def run_due(last_run: dict[str, float], now: float) -> list[str]:
    """One pass over the schedule: run each entry whose interval has passed; returns the task names run."""
    from spaces_site.celery import app

    ran = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every = _every_seconds(entry.get("schedule"))
        if every is None or (name in last_run and now - last_run[name] < every):
            continue
        last_run[name] = now
        try:
            app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            ran.append(entry["task"])
        except Exception:
            log.exception("embedded beat: %s failed", entry["task"])
    return ran


def _loop() -> None:
    from spaces_site.celery import app

    app.loader.import_default_modules()  # registers every app's tasks (autodiscovery is lazy)
    last_run: dict[str, float] = {}
    while True:
        time.sleep(1)
        run_due(last_run, time.monotonic())
        close_old_connections()


def start() -> None:
    """Start the beat thread once per process."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_loop, name="embedded-beat", daemon=True).start()
    log.info("embedded beat started: %s", ", ".join(settings.CELERY_BEAT_SCHEDULE))
