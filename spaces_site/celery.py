"""The Celery app; in the embedded default (no REDIS_URL) tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")

app = Celery("spaces_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
