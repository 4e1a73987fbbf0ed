"""Test settings: the same services as configured by the environment, faster hashing."""

import os
import tempfile
import uuid

from .base import *  # noqa: F403
from .env import env_bool, env_int

# One cache namespace per test run, inherited by the live servers it starts, so state a run leaves
# in a shared Redis (allauth's rate-limit counters, say) never leaks into the next run.
os.environ.setdefault("DJANGO_CACHE_PREFIX", f"test-{uuid.uuid4().hex[:12]}")
CACHES["default"]["KEY_PREFIX"] = os.environ["DJANGO_CACHE_PREFIX"]  # noqa: F405
# Redis's pub/sub ignores the database number: another run on the same Redis (CI beside a developer's run) would
# hear this run's audio in its Spaces of the same ids. The channel layer's groups are this run's too.
SPACES_MEDIA_REDIS_PREFIX = os.environ.setdefault(
    "SPACES_MEDIA_REDIS_PREFIX", f"{os.environ['DJANGO_CACHE_PREFIX']}.media"
)
if "CONFIG" in CHANNEL_LAYERS["default"]:  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ.setdefault(  # noqa: F405
        "DJANGO_CHANNELS_PREFIX", os.environ["DJANGO_CACHE_PREFIX"]
    )
# Recordings in a folder of this run, shared with the live servers and workers it starts.
_replays = os.path.join(tempfile.gettempdir(), f"spaces-test-replays-{os.environ['DJANGO_CACHE_PREFIX']}")
os.environ.setdefault("DJANGO_REPLAYS_ROOT", _replays)
REPLAYS_STORAGE = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": os.environ["DJANGO_REPLAYS_ROOT"]},
}
# A loaded test machine's late loop would move the capacity under tests about something else: the tests of it
# turn it on (tests/rooms/test_relay_shedding.py; the fault suite's servers run the production settings).
SPACES_RELAY_LATE_MS = env_int("SPACES_RELAY_LATE_MS", 0, minimum=0)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_EMAIL_VERIFICATION = "optional"
# allauth counts sign-ups and logins per address across the whole run; tests that are about those limits
# turn them back on with ACCOUNT_RATE_LIMITS={} (allauth's defaults).
ACCOUNT_RATE_LIMITS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than memory, so the live Daphne server of end-to-end tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}  # noqa: F405

# The payments test provider's records, apart from the development server's; live servers inherit the path.
os.environ.setdefault("STRIPE_TEST_PROVIDER_DB", str(BASE_DIR / ".test-provider.sqlite3"))  # noqa: F405
STRIPE_TEST_PROVIDER_DB = os.environ["STRIPE_TEST_PROVIDER_DB"]

# Tests that are not about captions start Spaces too: only caption tests (and the live servers
# they start with CAPTIONS_LIVE=1) run a captioner and load a recognition model.
CAPTIONS_LIVE = env_bool("CAPTIONS_LIVE", False)
