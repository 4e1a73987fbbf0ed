from django.apps import AppConfig


class CaptionsConfig(AppConfig):
    name = "captions"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers the engine check and the lifecycle hooks)
