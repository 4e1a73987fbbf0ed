"""System check: the caption engine's settings point at a usable model (`manage.py check`)."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register("captions")
def caption_engine_check(app_configs=None, **kwargs) -> list[Error]:
    from .engines import check_configuration

    try:
        check_configuration()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="See captions/README.md: CAPTIONS_ENGINE, CAPTIONS_WHISPER_MODEL and VOSK_MODEL_PATH.",
                id="captions.E001",
            )
        ]
    return []
