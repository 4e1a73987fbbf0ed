import os
import sys

from django.apps import AppConfig
from django.conf import settings


class CaptionsConfig(AppConfig):
    name = "captions"

    def ready(self) -> None:
        from . import checks, receivers, tasks  # noqa: F401  (the engine check, lifecycle hooks, worker signals)

        # The serving process of `runserver` in the embedded default captions in-process: load the model
        # now, in the background, so the first Space is captioned from its first word.
        serving = "runserver" in sys.argv and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv)
        if serving and settings.CELERY_TASK_ALWAYS_EAGER and settings.CAPTIONS_LIVE:
            from . import live

            live.host()
