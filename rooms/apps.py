import os
import sys

from django.apps import AppConfig
from django.conf import settings


class RoomsConfig(AppConfig):
    name = "rooms"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
        from .replays import receivers as replay_receivers  # noqa: F401  (recording follows the lifecycle)

        # Only the serving process of `runserver` in the embedded default (not the autoreloader's parent,
        # not tests or other commands) runs the schedule in-process.
        serving = "runserver" in sys.argv and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv)
        if serving and settings.CELERY_TASK_ALWAYS_EAGER:
            from spaces_site.embedded_beat import start

            start()
