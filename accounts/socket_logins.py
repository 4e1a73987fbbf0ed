"""Who opened a websocket, read for the handshakes of a storm together.

Channels' `AuthMiddleware` reads each socket's session and then its account, two queries a socket on Channels'
one database thread, so in a storm of joins handshakes queue behind each other's round trips (bench/CAPACITY.md:
a seventh of a server's time at 300 joins a second). Here the handshakes that arrive while a batch is being read
wait and go together: one query for their sessions and one for their accounts.

Only what is certain is decided here: a socket with no live session, or with no login in it, or whose account
is gone or inactive, is anonymous; one whose session's hash matches the account's is that account. Anything
else (an unknown backend, a stale hash) goes through Channels' own `get_user`, which decides the rest as it
always has (and flushes a session whose password has changed).
"""

from __future__ import annotations

import asyncio
from importlib import import_module

from channels.auth import AuthMiddleware, get_user
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db as db_sessions
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from spaces_site.db_threads import on_threads_of
from spaces_site.per_loop import PerLoop

MAX_BATCH = 200

# A batch's verdict on a session it cannot decide alone.
UNDECIDED = object()


def read_logins(session_keys: list[str]) -> dict[str, object]:
    """The account (or AnonymousUser) each session key stands for, or UNDECIDED (on a database thread)."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store_class, db_sessions.SessionStore):
        return dict.fromkeys(session_keys, UNDECIDED)
    rows = store_class.get_model_class().objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    sessions = {key: store_class().decode(data) for key, data in rows.values_list("session_key", "session_data")}
    user_model = get_user_model()
    verdicts: dict[str, object] = {}
    claims: dict[str, tuple[object, ModelBackend, str]] = {}
    for key in session_keys:
        session = sessions.get(key, {})
        if SESSION_KEY not in session or BACKEND_SESSION_KEY not in session:
            verdicts[key] = AnonymousUser()
            continue
        backend = _model_backend(session[BACKEND_SESSION_KEY])
        if backend is None:
            verdicts[key] = UNDECIDED
            continue
        try:
            user_id = user_model._meta.pk.to_python(session[SESSION_KEY])
        except Exception:  # noqa: BLE001 - a malformed id is Channels' to report
            verdicts[key] = UNDECIDED
            continue
        claims[key] = (user_id, backend, session.get(HASH_SESSION_KEY) or "")
    accounts = user_model._default_manager.in_bulk({user_id for user_id, _, _ in claims.values()})
    for key, (user_id, backend, session_hash) in claims.items():
        account = accounts.get(user_id)
        if account is None or not backend.user_can_authenticate(account):
            verdicts[key] = AnonymousUser()
        elif session_hash and constant_time_compare(session_hash, account.get_session_auth_hash()):
            verdicts[key] = account
        else:
            verdicts[key] = UNDECIDED
    return verdicts


def _model_backend(path: str) -> ModelBackend | None:
    """The session's login backend if it is one of the site's and finds accounts as Django's ModelBackend does."""
    if path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = load_backend(path)
    if not isinstance(backend, ModelBackend) or type(backend).get_user is not ModelBackend.get_user:
        return None
    return backend


class LoginBatches:
    """One per event loop: the handshakes waiting for the batch being read, and the task reading them."""

    def __init__(self) -> None:
        self._waiting: list[tuple[str, asyncio.Future]] = []
        self._reader: asyncio.Task | None = None

    async def login(self, session_key: str) -> object:
        """The account, AnonymousUser or UNDECIDED for `session_key`."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((session_key, done))
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read_all())
        return await done

    async def _read_all(self) -> None:
        read = on_threads_of("socket-login", 1, read_logins)  # not behind the pages, nor the joins' writes
        batch: list[tuple[str, asyncio.Future]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    verdicts = await read(list({key for key, _ in batch}))
                except Exception as exc:  # e.g. the database is away: each of these handshakes fails with it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for key, done in batch:
                    if not done.done():  # its handshake went meanwhile
                        done.set_result(verdicts[key])
        finally:
            self._reader = None
            for _, done in [*batch, *self._waiting]:  # cancelled with its loop: the handshakes end with it
                if not done.done():
                    done.cancel()
            self._waiting = []


for_this_loop = PerLoop(LoginBatches)


class BatchedAuthMiddleware(AuthMiddleware):
    """Channels' `AuthMiddleware`, with the sessions and accounts of concurrent handshakes read together."""

    async def resolve_scope(self, scope):
        session_key = scope["session"].session_key
        user = await for_this_loop().login(session_key) if session_key else AnonymousUser()
        if user is UNDECIDED:
            user = await get_user(scope)
        scope["user"]._wrapped = user
