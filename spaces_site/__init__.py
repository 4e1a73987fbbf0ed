"""The Spaces project: settings, ASGI entry point, Celery app and URL map."""

from .celery import app as celery_app

__all__ = ["celery_app"]
