"""Seeds a live Space with speakers and many listeners, each with a real Django session, in bulk.

Shared by bench/fanout.py and the live fan-out tests: both drive the real SpaceConsumer under a real server,
so every socket needs an account, a session cookie the AuthMiddlewareStack accepts and, for speakers, a
Participant row with a speaking role and slot. Thousands of accounts go in with a few bulk INSERTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.crypto import get_random_string

from accounts.models import User
from rooms.models import Participant, Role, Space

BACKEND = "django.contrib.auth.backends.ModelBackend"


@dataclass
class SeededRoom:
    space_id: int
    speaker_sessions: list[str]  # host first, then a co-host, then speakers
    listener_sessions: list[str]

    def cookie(self, session_key: str) -> str:
        return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def _users(prefix: str, count: int, **fields) -> list[User]:
    # One unusable password for all of them: nobody logs in with a password, the session hash still checks.
    password = make_password(None)
    users = [User(username=f"{prefix}-{i}", password=password, **fields) for i in range(count)]
    return User.objects.bulk_create(users, batch_size=1000)


def _sessions(users: list[User]) -> list[str]:
    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    rows = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: BACKEND,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(rows, batch_size=1000)
    return [row.session_key for row in rows]


def seed_room(*, listeners: int, speakers: int, prefix: str) -> SeededRoom:
    """A live Space hosted by a new account, with `speakers` speaking seats (host, co-host, speakers)
    all unmuted, and `listeners` accounts that have not joined yet (their sockets join)."""
    if not 1 <= speakers <= 1 + settings.SPACES_MAX_COHOSTS + settings.SPACES_MAX_SPEAKERS:
        raise ValueError(f"speakers must be 1..{1 + settings.SPACES_MAX_COHOSTS + settings.SPACES_MAX_SPEAKERS}")
    on_stage = _users(f"{prefix}-speaker", speakers, followers_count=settings.SPACES_MIN_FOLLOWERS_TO_HOST)
    audience = _users(f"{prefix}-listener", listeners)
    space = Space.objects.create(
        host=on_stage[0], title=f"{prefix} fan-out", state=Space.State.LIVE, started_at=timezone.now()
    )
    roles = [Role.HOST, Role.COHOST] + [Role.SPEAKER] * (speakers - 2)
    Participant.objects.bulk_create(
        [
            Participant(space=space, user=user, role=role, speaker_index=index)
            for index, (user, role) in enumerate(zip(on_stage, roles, strict=False))
        ]
    )
    return SeededRoom(space_id=space.pk, speaker_sessions=_sessions(on_stage), listener_sessions=_sessions(audience))
