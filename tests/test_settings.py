"""Configuration comes from the environment; bad values stop start-up naming the variable."""

import os
import subprocess
import sys

import pytest

BOOT = "import django; django.setup()"


def run_django(settings: str, env: dict[str, str], code: str = BOOT) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    clean.update({"DJANGO_SETTINGS_MODULE": settings, **env})
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DJANGO_DEBUG", "maybe"),
        ("DATABASE_URL", "mysqlish://nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("DJANGO_TIMELINE_PAGE_SIZE", "zero"),
        ("SPACES_MIN_FOLLOWERS_TO_HOST", "-1"),
    ],
)
def test_bad_environment_value_names_the_variable(variable, value):
    result = run_django("spaces_site.settings.dev", {variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_production_needs_a_real_secret_key():
    result = run_django("spaces_site.settings.prod", {})
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


PROD_ENV = {
    "DJANGO_SECRET_KEY": "k" * 20 + "Zq8!xY2#vB7@mN4$pL0%wR6^tJ1&hG9*",
    "DJANGO_ALLOWED_HOSTS": "spaces.example",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
}


def test_production_refuses_the_development_secret_key():
    from spaces_site.settings.base import DEV_SECRET_KEY

    env = {"DJANGO_SECRET_KEY": DEV_SECRET_KEY, "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    result = run_django("spaces_site.settings.prod", env)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is the development key" in result.stderr


def test_production_settings_pass_the_deploy_check():
    env = PROD_ENV
    code = (
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('check', '--deploy', '--fail-level', 'WARNING')"
    )
    result = run_django("spaces_site.settings.prod", env, code)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_needs_no_services():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = run_django("spaces_site.settings.dev", {}, code)
    assert result.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer", "True"]


def test_real_services_are_chosen_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL)"
    )
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = run_django("spaces_site.settings.dev", env, code)
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "spaces_site.channel_layer.RetryingRedisChannelLayer",
        "redis://127.0.0.1:6379/0",
    ]


SHOW_SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
)
SHOW_DATABASE = (
    "import django; django.setup(); from django.conf import settings as s; d = s.DATABASES['default']; "
    "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d.get('OPTIONS', {}).get('pool', {}).get('max_size'))"
)


def test_production_is_https_only_unless_a_laptop_asks_for_plain_http():
    assert run_django("spaces_site.settings.prod", PROD_ENV, SHOW_SECURITY).stdout.split() == [
        "True",
        "True",
        "True",
        "31536000",
    ]
    laptop = run_django("spaces_site.settings.prod", {**PROD_ENV, "DJANGO_HTTPS": "false"}, SHOW_SECURITY)
    assert laptop.stdout.split() == ["False", "False", "False", "0"], laptop.stderr


def test_production_pools_database_connections_and_checks_them():
    env = {**PROD_ENV, "DATABASE_URL": "postgres://spaces@db:5432/spaces"}
    assert run_django("spaces_site.settings.prod", env, SHOW_DATABASE).stdout.split() == ["0", "True", "10"]
    behind_pgbouncer = run_django("spaces_site.settings.prod", {**env, "DJANGO_DB_POOL": "false"}, SHOW_DATABASE)
    assert behind_pgbouncer.stdout.split() == ["60", "True", "None"], behind_pgbouncer.stderr


def test_static_files_are_served_by_the_application_in_every_shape():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print('whitenoise.middleware.WhiteNoiseMiddleware' in s.MIDDLEWARE, s.WHITENOISE_USE_FINDERS)"
    )
    assert run_django("spaces_site.settings.dev", {}, code).stdout.split() == ["True", "True"]
    assert run_django("spaces_site.settings.prod", PROD_ENV, code).stdout.split() == ["True", "False"]


def test_uvicorn_caps_websocket_messages_at_daphnes_limit():
    import inspect
    import re
    from pathlib import Path

    from daphne.server import Server

    daphne_limit = inspect.signature(Server).parameters["websocket_max_message_size"].default
    command = subprocess.run(
        ["make", "-n", "uvicorn"], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True
    ).stdout
    found = re.search(r"--ws-max-size (\d+)", command)
    assert found, "make uvicorn leaves uvicorn's 16 MiB default"
    assert int(found.group(1)) == daphne_limit == 1024 * 1024
