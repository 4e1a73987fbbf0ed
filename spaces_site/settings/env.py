"""Reading the environment: every bad value fails start-up naming the variable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

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


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
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


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate like `30/10m` (a count per period in s, m, h or d) as (count, seconds)."""

    def parse(raw: str) -> tuple[int, int]:
        count, _, period = raw.strip().partition("/")
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        multiplier = period[:-1] or "1"
        if not (count.isdigit() and period and period[-1] in units and multiplier.isdigit()):
            raise ValueError("expected a count per period such as 30/10m (s, m, h or d)")
        if int(count) < 1 or int(multiplier) < 1:
            raise ValueError("the count and the period must be positive")
        return int(count), int(multiplier) * units[period[-1]]

    return _read(name, parse, parse(default), "rate")
