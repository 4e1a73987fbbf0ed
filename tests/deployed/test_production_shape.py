"""The README's production shape, run for real: production settings, collectstatic with the manifest storage, two
Daphne processes, a Celery worker, beat, PostgreSQL and a private Redis, used over HTTP and websockets as a browser
behind the documented TLS proxy would (`X-Forwarded-Proto: https`, the public Host and Origin)."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.processes import (
    NEEDS_POSTGRES,
    Server,
    manage,
    postgres_configured,
    prepare_production,
    production_env,
    redis_server,
    scratch_database,
    start_all,
    start_beat,
    start_daphne,
    start_worker,
    stop_all,
)

pytestmark = pytest.mark.skipif(not postgres_configured(), reason=NEEDS_POSTGRES)

PUBLIC_HOST = "spaces.example"
PUBLIC_ORIGIN = f"https://{PUBLIC_HOST}"
PASSWORD = "deployed-shape-pass-2026"

SETUP = """
import json
from datetime import timedelta
from allauth.account.models import EmailAddress
from django.utils import timezone
from accounts import services
from accounts.models import User
from rooms.models import Space

host = User.objects.create_user(username="shape_host", email="host@shape.example", password=PW, display_name="Host")
listener = User.objects.create_user(username="shape_fan", email="fan@shape.example", password=PW, display_name="Fan")
for user in (host, listener):
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
services.follow_create(follower=listener, followee=host)
User.objects.filter(pk=host.pk).update(followers_count=650)
space = Space.objects.create(
    host=host, title="The deployed shape", topics="tech", scheduled_for=timezone.now() + timedelta(hours=1)
)
print(json.dumps({"host": host.pk, "listener": listener.pk, "space": space.pk}))
"""


@dataclass
class Shape:
    servers: list[Server]
    laptop: Server  # the same shape with DJANGO_HTTPS=false, as the README runs it on a laptop
    static_root: Path
    ids: dict[str, int]
    database_url: str


@pytest.fixture(scope="module")
def shape(tmp_path_factory) -> Iterator[Shape]:
    static_root = tmp_path_factory.mktemp("static")
    with redis_server() as redis, scratch_database("spaces_deployed") as database:
        env = production_env(
            database_url=database.url,
            redis_url=redis.url(0),
            static_root=static_root,
            allowed_hosts=f"{PUBLIC_HOST},127.0.0.1",
            CAPTIONS_LIVE="0",  # the captions worker has a test of its own (test_worker_queues.py)
        )
        prepare_production(env)
        ids = json.loads(manage(env, "shell", "-c", f"PW = {PASSWORD!r}\n{SETUP}").stdout.strip().splitlines()[-1])
        started = []
        try:
            started = start_all(
                lambda: start_daphne(env, name="daphne-a"),
                lambda: start_daphne(env, name="daphne-b"),
                lambda: start_worker(env, queues=["celery"], concurrency=1, name="celery"),
                lambda: start_beat(env),
                lambda: start_daphne({**env, "DJANGO_HTTPS": "false"}, name="daphne-laptop"),
            )
            servers = started[:2]
            yield Shape(
                servers=servers, laptop=started[-1], static_root=static_root, ids=ids, database_url=database.url
            )
            for process in started:
                assert process.alive, f"{process.name} died:\n{process.logs()}"
        finally:
            stop_all(started, timeout=10)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Visitor:
    """A browser behind the TLS proxy (the public Host, https as the forwarded scheme) or, with `over_https=False`,
    straight at a server over plain http as on a laptop; with its own cookies."""

    over_https: bool = True
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookie_lines: list[str] = field(default_factory=list)

    def origin(self, server: Server) -> str:
        return PUBLIC_ORIGIN if self.over_https else server.url

    def request(
        self, server: Server, method: str, path: str, form: dict | None = None, headers: dict | None = None
    ) -> Response:
        forwarded = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"} if self.over_https else {}
        sent = {**forwarded, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            sent.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": self.origin(server),
                    "Referer": f"{self.origin(server)}{path}",
                }
            )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            response = Response(raw.status, raw.headers, raw.read())
        finally:
            conn.close()
        for line in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie_lines.append(line)
            for name, morsel in SimpleCookie(line).items():
                self.cookies[name] = morsel.value
        return response

    def log_in(self, server: Server, username: str) -> None:
        page = self.request(server, "GET", "/accounts/login/")
        assert page.status == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = self.request(
            server,
            "POST",
            "/accounts/login/",
            form={"csrfmiddlewaretoken": token, "login": username, "password": PASSWORD},
        )
        assert done.status == 302, f"login refused ({done.status}): {done.text[:800]}"
        assert "sessionid" in self.cookies

    def post(self, server: Server, path: str) -> Response:
        return self.request(server, "POST", path, form={"csrfmiddlewaretoken": self.cookies["csrftoken"]})

    def socket(self, server: Server, path: str, origin: str | None = None) -> ClientConnection:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.over_https:
            headers["X-Forwarded-Proto"] = "https"
        return connect(
            f"{server.ws_url}{path}",
            origin=origin or self.origin(server),
            additional_headers=headers,
            proxy=None,
            open_timeout=30,
        )


def next_event(socket: ClientConnection, wanted: Callable[[dict], bool], seconds: float = 20.0) -> dict:
    """The first text event on `socket` matching `wanted`, skipping others (audio, batched presence)."""
    seen = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = socket.recv(timeout=left)
        except TimeoutError:
            break
        if isinstance(message, bytes):
            continue
        event = json.loads(message)
        if wanted(event):
            return event
        seen.append(event.get("type"))
    raise AssertionError(f"no matching event within {seconds:.0f} s; saw {seen}")


def manifest(shape: Shape) -> dict[str, str]:
    return json.loads((shape.static_root / "staticfiles.json").read_text())["paths"]


def test_plain_http_is_sent_to_https_and_cookies_are_secure(shape):
    a = shape.servers[0]
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    conn.request("GET", "/accounts/login/", headers={"Host": PUBLIC_HOST})
    redirect = conn.getresponse()
    conn.close()
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"{PUBLIC_ORIGIN}/accounts/login/"

    visitor = Visitor()
    page = visitor.request(a, "GET", "/accounts/login/")
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    csrf_cookie = next(line for line in visitor.set_cookie_lines if line.startswith("csrftoken="))
    assert "Secure" in csrf_cookie


def test_static_files_are_served_by_every_server_under_their_hashed_names(shape):
    hashed = manifest(shape)
    a, b = shape.servers
    page = Visitor().request(a, "GET", "/accounts/login/")
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text).group(1)
    assert stylesheet == f"/static/{hashed['css/site.css']}", "the page does not link the collected, hashed name"

    for server in (a, b):
        for name in ("css/site.css", "ticketing/vendor/chart.umd.min.js", "rooms/audio/index.js"):
            response = Visitor().request(server, "GET", f"/static/{hashed[name]}", headers={"Accept-Encoding": "gzip"})
            assert response.status == 200, f"{name} on {server.name}: {response.status}"
            cache = response.headers["Cache-Control"]
            max_age = int(re.search(r"max-age=(\d+)", cache).group(1))
            assert max_age >= 365 * 24 * 3600 and "immutable" in cache, cache
            assert response.headers["Content-Encoding"] == "gzip"
    # Modules import their siblings by their plain names: those are served too (with a short cache).
    plain = Visitor().request(b, "GET", "/static/rooms/audio/protocol.js")
    assert plain.status == 200 and "immutable" not in plain.headers["Cache-Control"]
    assert Visitor().request(a, "GET", "/static/css/missing.css").status == 404


def test_a_live_space_works_across_the_two_server_processes(shape):
    a, b = shape.servers
    ids = shape.ids
    room = f"/ws/spaces/{ids['space']}/"
    host, fan = Visitor(), Visitor()
    host.log_in(a, "shape_host")
    fan.log_in(b, "shape_fan")

    home = fan.request(b, "GET", "/")
    assert home.status == 200
    assert f"/static/{manifest(shape)['css/site.css']}" in home.text

    with fan.socket(b, "/ws/me/") as fan_events:
        # The host goes live on server A; the worker tells followers; the fan's socket is on server B.
        started = host.post(a, f"/spaces/{ids['space']}/start/")
        assert started.status == 302, started.text[:500]
        next_event(fan_events, lambda e: e.get("type") == "notification", seconds=30)

    with host.socket(a, room) as host_socket, fan.socket(b, room) as fan_socket:
        welcome = next_event(host_socket, lambda e: e["type"] == "welcome")
        assert welcome["me"]["role"] == "host"
        assert next_event(fan_socket, lambda e: e["type"] == "welcome")["me"]["role"] == "listener"

        # Listener on B → host on A.
        joined = next_event(
            host_socket,
            lambda e: e["type"] == "presence" and any(p["user_id"] == ids["listener"] for p in e["joined"]),
        )
        assert joined["joined"][0]["role"] == "listener"
        fan_socket.send(json.dumps({"type": "raise_hand"}))
        hand = next_event(host_socket, lambda e: e["type"] == "hand" and e["user_id"] == ids["listener"])
        assert hand["raised"] is True

        # Host on A → everyone on B: the end closes the listener's socket with 4410.
        host_socket.send(json.dumps({"type": "end"}))
        ended = next_event(fan_socket, lambda e: e["type"] == "space_ended")
        assert ended["url"]
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                fan_socket.recv(timeout=20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410


def test_database_connections_are_kept_and_reused_across_requests(shape):
    """Each server keeps a small pool: the same few connections serve request after request (no connection per
    request, none left behind by one)."""
    import psycopg

    visitor = Visitor()
    visitor.log_in(shape.servers[0], "shape_fan")
    samples = []
    with psycopg.connect(shape.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        for number in range(20):
            assert visitor.request(shape.servers[number % 2], "GET", "/").status == 200
            ports = db.execute(
                "SELECT client_port FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            samples.append({port for (port,) in ports})
    seen = set().union(*samples)
    kept = set.intersection(*samples)
    print(f"database connections seen over 20 requests: {len(seen)}, kept throughout: {len(kept)}")
    assert len(seen) <= 2 * 4 + 4, f"{len(seen)} connections for 20 requests: they are not being reused"
    assert kept, "no connection lasted from one request to the next: each request connected anew"


def test_the_laptop_shape_works_over_plain_http(shape):
    """DJANGO_HTTPS=false (README, "The production shape on a laptop"): no redirect, cookies without Secure."""
    visitor = Visitor(over_https=False)
    visitor.log_in(shape.laptop, "shape_fan")
    assert not any("Secure" in line for line in visitor.set_cookie_lines), visitor.set_cookie_lines
    home = visitor.request(shape.laptop, "GET", "/")
    assert home.status == 200
    stylesheet = f"/static/{manifest(shape)['css/site.css']}"
    assert stylesheet in home.text
    assert visitor.request(shape.laptop, "GET", stylesheet).status == 200
    with visitor.socket(shape.laptop, "/ws/me/") as events:
        events.send("{}")
        assert next_event(events, lambda e: e["type"] == "error")


def test_a_socket_opened_from_another_origin_is_refused(shape):
    visitor = Visitor()
    visitor.log_in(shape.servers[1], "shape_fan")
    with pytest.raises(InvalidStatus) as refused:
        visitor.socket(shape.servers[1], "/ws/me/", origin="https://evil.example").close()
    assert refused.value.response.status_code == 403
