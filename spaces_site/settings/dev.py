"""Local development: debug on, mail to the console, verification optional."""

from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
ACCOUNT_EMAIL_VERIFICATION = env_str("DJANGO_ACCOUNT_EMAIL_VERIFICATION", "optional")

# The embedded beat runs its schedule in-process every few seconds; one "Task … succeeded" line per run
# buries the server's own lines. Failures still print.
LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405
