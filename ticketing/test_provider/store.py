"""The test provider's own records: a SQLite file of Stripe-shaped objects and its API request log.

Kept outside the project's database on purpose: what Stripe has done (an account made, a refund
sent) must not roll back with the caller's transaction, and an SQLite project database holds its
write lock for a whole transaction. Every process pointed at the same file (`STRIPE_TEST_PROVIDER_DB`)
sees the same provider. `atomic()` takes SQLite's write lock (BEGIN IMMEDIATE), which serialises
changes the way Stripe's row locks would.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    private TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, created);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    params TEXT NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    replayable INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_key ON requests (idempotency_key);
"""

_local = threading.local()


@dataclass
class Obj:
    """One Stripe object; `private` is what Stripe keeps to itself (return site, delivery attempts)."""

    id: str
    kind: str
    data: dict[str, Any]
    private: dict[str, Any] = field(default_factory=dict)

    def save(self) -> Obj:
        _connection().execute(
            "UPDATE objects SET data = ?, private = ? WHERE id = ?",
            (json.dumps(self.data), json.dumps(self.private), self.id),
        )
        return self


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int
    response: dict[str, Any]


def _connection() -> sqlite3.Connection:
    path = str(settings.STRIPE_TEST_PROVIDER_DB)
    connections = _local.__dict__.setdefault("connections", {})
    connection = connections.get(path)
    if connection is None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        connections[path] = connection
    return connection


def close() -> None:
    """Close this thread's connections (a thread that is ending, a test switching files)."""
    for connection in _local.__dict__.pop("connections", {}).values():
        connection.close()


@contextmanager
def atomic() -> Iterator[None]:
    """One write transaction; nested calls join it. Callbacks from `after_commit` run once it commits."""
    depth = getattr(_local, "depth", 0)
    if depth:
        connection = _connection()
        connection.execute(f"SAVEPOINT sp{depth}")
        _local.depth += 1
        try:
            yield
        except BaseException:
            connection.execute(f"ROLLBACK TO sp{depth}")
            raise
        finally:
            _local.depth -= 1
            connection.execute(f"RELEASE sp{depth}")
        return
    connection = _connection()
    connection.execute("BEGIN IMMEDIATE")
    _local.depth, _local.callbacks = 1, []
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    else:
        connection.execute("COMMIT")
        callbacks = _local.callbacks
    finally:
        _local.depth = 0
        _local.callbacks = []
    for callback in callbacks:
        callback()


def after_commit(callback: Callable[[], None]) -> None:
    if getattr(_local, "depth", 0):
        _local.callbacks.append(callback)
    else:
        callback()


def _obj(row: tuple) -> Obj:
    return Obj(id=row[0], kind=row[1], data=json.loads(row[2]), private=json.loads(row[3]))


def create(kind: str, data: dict[str, Any], private: dict[str, Any] | None = None) -> Obj:
    obj = Obj(id=data["id"], kind=kind, data=data, private=private or {})
    _connection().execute(
        "INSERT INTO objects (id, kind, data, private, created) VALUES (?, ?, ?, ?, ?)",
        (obj.id, kind, json.dumps(data), json.dumps(obj.private), time.time()),
    )
    return obj


def get(kind: str, object_id: str) -> Obj | None:
    row = (
        _connection()
        .execute("SELECT id, kind, data, private FROM objects WHERE kind = ? AND id = ?", (kind, object_id))
        .fetchone()
    )
    return _obj(row) if row else None


def find(kind: str, field_name: str, value: Any) -> Obj | None:
    """The first object of `kind` whose top-level `field_name` equals `value`."""
    row = (
        _connection()
        .execute(
            "SELECT id, kind, data, private FROM objects WHERE kind = ? AND json_extract(data, ?) = ? "
            "ORDER BY created LIMIT 1",
            (kind, f"$.{field_name}", value),
        )
        .fetchone()
    )
    return _obj(row) if row else None


def all_of(kind: str) -> list[Obj]:
    rows = _connection().execute(
        "SELECT id, kind, data, private FROM objects WHERE kind = ? ORDER BY created, id", (kind,)
    )
    return [_obj(row) for row in rows]


def undelivered_events(*, older_than_seconds: float) -> list[str]:
    rows = _connection().execute(
        "SELECT id FROM objects WHERE kind = 'event' AND json_extract(private, '$.delivered_at') IS NULL "
        "AND created < ? ORDER BY created",
        (time.time() - older_than_seconds,),
    )
    return [row[0] for row in rows]


def request_log(
    *,
    method: str,
    path: str,
    params: dict[str, Any],
    key: str,
    status: int,
    response: dict[str, Any],
    replayable: bool,
) -> None:
    """Log a request; a `replayable` answer is what a later POST with the same idempotency key gets."""
    _connection().execute(
        "INSERT INTO requests (method, path, params, idempotency_key, status, response, replayable, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (method, path, json.dumps(params), key, status, json.dumps(response), replayable, time.time()),
    )


def request_replay(key: str) -> tuple[int, dict[str, Any]] | None:
    """The answer first given to a POST with this idempotency key."""
    row = (
        _connection()
        .execute(
            "SELECT status, response FROM requests WHERE idempotency_key = ? AND method = 'POST' AND replayable "
            "ORDER BY seq LIMIT 1",
            (key,),
        )
        .fetchone()
    )
    return (row[0], json.loads(row[1])) if row else None


def requests() -> list[LoggedRequest]:
    rows = _connection().execute(
        "SELECT method, path, params, idempotency_key, status, response FROM requests ORDER BY seq"
    )
    return [
        LoggedRequest(method, path, json.loads(params), key or None, status, json.loads(response))
        for method, path, params, key, status, response in rows
    ]
