"""Who a websocket is: the sessions and accounts of handshakes arriving together are read together
(accounts/socket_logins.py), and each socket is still exactly who its browser signed in as, or nobody."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import socket_logins
from spaces_site.close_codes import CloseCode
from tests.accounts.factories import UserFactory
from tests.sockets import WAIT, closed_with, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ALLAUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def signed_in(user, backend: str | None = None) -> tuple[str, str]:
    """The cookie header of a browser where `user` signed in (through `backend`), and its session key."""
    browser = Client()
    browser.force_login(user, backend=backend)
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={key}", key


async def me_socket_with(cookie: str) -> WebsocketCommunicator:
    from spaces_site.asgi import application

    headers = [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    return WebsocketCommunicator(application, "/ws/me/", headers=headers)


async def test_a_signed_in_browser_socket_is_accepted():
    for backend in (None, ALLAUTH_BACKEND):
        user = await database_sync_to_async(UserFactory)()
        cookie, _ = await database_sync_to_async(signed_in)(user, backend)
        communicator = await me_socket_with(cookie)
        connected, _ = await communicator.connect(timeout=WAIT)
        assert connected, backend
        await communicator.disconnect()


@pytest.mark.parametrize("ending", ["signed out", "expired", "deactivated", "deleted"])
async def test_a_socket_whose_login_has_ended_is_refused(ending):
    user = await database_sync_to_async(UserFactory)()
    cookie, key = await database_sync_to_async(signed_in)(user)

    def end() -> None:
        if ending == "signed out":
            Session.objects.filter(session_key=key).delete()
        elif ending == "expired":
            Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
        elif ending == "deactivated":
            type(user).objects.filter(pk=user.pk).update(is_active=False)
        else:
            user.delete()

    await database_sync_to_async(end)()
    communicator = await me_socket_with(cookie)
    connected, code = await communicator.connect(timeout=WAIT)
    assert not connected and code == CloseCode.UNAUTHENTICATED


async def test_after_a_password_change_elsewhere_the_old_session_is_refused_and_ended():
    user = await database_sync_to_async(UserFactory)()
    cookie, key = await database_sync_to_async(signed_in)(user)

    def change_password() -> None:
        user.set_password("an-entirely-new-pass-phrase")
        user.save(update_fields=["password"])

    await database_sync_to_async(change_password)()
    communicator = await me_socket_with(cookie)
    connected, code = await communicator.connect(timeout=WAIT)
    assert not connected and code == CloseCode.UNAUTHENTICATED
    assert not await database_sync_to_async(Session.objects.filter(session_key=key).exists)()


async def test_a_socket_with_a_forged_cookie_is_refused():
    communicator = await me_socket_with(f"{settings.SESSION_COOKIE_NAME}=not-a-session-anyone-was-given")
    connected, code = await communicator.connect(timeout=WAIT)
    assert not connected and code == CloseCode.UNAUTHENTICATED


async def test_handshakes_arriving_together_are_read_together_and_each_is_its_own_account(monkeypatch):
    users = await database_sync_to_async(UserFactory.create_batch)(30)
    cookies = [await database_sync_to_async(session_cookie)(user) for user in users]
    stale = await database_sync_to_async(UserFactory)()
    stale_cookie, _ = await database_sync_to_async(signed_in)(stale)
    await database_sync_to_async(lambda: stale.set_password("changed-pass-phrase") or stale.save())()

    batch_sizes: list[int] = []
    read_logins = socket_logins.read_logins

    def counted(session_keys):
        batch_sizes.append(len(session_keys))
        return read_logins(session_keys)

    monkeypatch.setattr(socket_logins, "read_logins", counted)
    seen: dict[str, int | None] = {}

    async def who(scope, receive, send):
        seen[scope["path"]] = scope["user"].pk

    from spaces_site.asgi import SocketSessionMiddleware

    stack = CookieMiddleware(SocketSessionMiddleware(socket_logins.BatchedAuthMiddleware(who)))

    async def handshake(path: str, cookie: str) -> None:
        await stack({"type": "websocket", "path": path, "headers": [(b"cookie", cookie.encode())]}, None, None)

    everyone = [*zip(users, cookies, strict=True), (None, stale_cookie)]
    await asyncio.wait_for(
        asyncio.gather(*(handshake(f"/{index}", cookie) for index, (_, cookie) in enumerate(everyone))), WAIT
    )
    assert seen == {f"/{index}": (user.pk if user else None) for index, (user, _) in enumerate(everyone)}
    assert sum(batch_sizes) == len(everyone) and max(batch_sizes) > 1, batch_sizes


async def test_a_socket_of_a_signed_out_browser_is_closed_with_its_code_through_the_room():
    """The room's socket, as a Space page opens it, after the account signed out in another tab."""
    from tests.rooms.factories import LiveSpaceFactory

    space = await database_sync_to_async(LiveSpaceFactory)()
    user = await database_sync_to_async(UserFactory)()
    cookie, key = await database_sync_to_async(signed_in)(user)
    await database_sync_to_async(Session.objects.filter(session_key=key).delete)()
    headers = [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    from spaces_site.asgi import application

    communicator = WebsocketCommunicator(application, f"/ws/spaces/{space.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected  # the room accepts, then says why it closes
    assert await closed_with(communicator) == CloseCode.UNAUTHENTICATED


async def test_when_the_database_is_away_the_handshakes_waiting_fail_and_the_next_ones_are_read(monkeypatch):
    from django.db import OperationalError

    user = await database_sync_to_async(UserFactory)()
    _, key = await database_sync_to_async(signed_in)(user)
    read_logins = socket_logins.read_logins
    answers = iter([OperationalError("the database is away"), None])

    def database_back_after_one_try(session_keys):
        if (failure := next(answers)) is not None:
            raise failure
        return read_logins(session_keys)

    monkeypatch.setattr(socket_logins, "read_logins", database_back_after_one_try)
    batches = socket_logins.LoginBatches()
    with pytest.raises(OperationalError):
        await asyncio.wait_for(batches.login(key), WAIT)
    assert (await asyncio.wait_for(batches.login(key), WAIT)).pk == user.pk
