"""Reading the environment: every bad value fails start-up naming the variable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _read(name: str, parse: Callable[[str], Any], default: Any, kind: str) -> Any:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {kind}: {exc}") from exc


def env_bool(name: str, default: bool) -> bool:
    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError("use one of 1/0, true/false, yes/no, on/off")

    return _read(name, parse, default, "boolean")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return _read(name, parse, default, "integer")


def env_str(name: str, default: str | None = None) -> str | None:
    return env.str(name, default=default)


def env_list(name: str, default: list[str]) -> list[str]:
    return _read(name, lambda raw: [p.strip() for p in raw.split(",") if p.strip()], default, "list")


def env_db(name: str, default: str) -> dict[str, Any]:
    def parse(raw: str) -> dict[str, Any]:
        scheme = raw.split("://", 1)[0] if "://" in raw else ""
        if scheme not in environ.Env.DB_SCHEMES:
            raise ValueError("expected postgres://… or sqlite:///…")
        return environ.Env.db_url_config(raw)

    return _read(name, parse, parse(default), "database URL")


def env_redis_url(name: str) -> str | None:
    def parse(raw: str) -> str:
        if not raw.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db")
        return raw

    return _read(name, parse, None, "Redis URL")
