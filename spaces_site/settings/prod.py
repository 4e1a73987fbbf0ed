"""Production: HTTPS only, secrets required from the environment."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to at least 50 random characters in production")
if SECRET_KEY == DEV_SECRET_KEY or "insecure" in SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is the development key; set a random one in production")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# DJANGO_HTTPS=false runs the production shape over plain http on a laptop (no proxy, no TLS): no redirect to
# https, cookies sent without the Secure flag, no HSTS. Never set it where real people connect.
_https = env_bool("DJANGO_HTTPS", True)
SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0) if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Only what `collectstatic` wrote is served; its hashed names with a far-future, immutable cache.
WHITENOISE_USE_FINDERS = False

# Database connections are reused and checked before use. The ASGI servers run each request's ORM work on a thread
# of its own, where persistent connections (CONN_MAX_AGE) would leak one per request: every process takes them from
# a pool (psycopg_pool) instead. DJANGO_DB_POOL=false (e.g. behind PgBouncer) keeps persistent connections.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    if env_bool("DJANGO_DB_POOL", True):
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
            "min_size": env_int("DJANGO_DB_POOL_MIN_SIZE", 1, minimum=0),
            "max_size": env_int("DJANGO_DB_POOL_MAX_SIZE", 10, minimum=1),
            "timeout": env_int("DJANGO_DB_POOL_TIMEOUT", 10, minimum=1),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 60, minimum=0)  # noqa: F405

for _name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
    if "placeholder" in (globals()[_name] or ""):
        raise ImproperlyConfigured(f"{_name} must be set from the Stripe dashboard in production")
