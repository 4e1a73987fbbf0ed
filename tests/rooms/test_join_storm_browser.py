"""A burst of listeners joining a live Space, seen from a real room page already listening (Debian's Chromium,
a live Daphne): the joins are written in batches, every one of them is welcomed as itself, the page already
inside goes on hearing every frame the host sends and shows the new count, and no page is closed. Screenshots
of that page at 390 and 1280 px go to $SPACES_SCREENSHOTS (else the test's tmp dir)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from websockets.asyncio.client import connect

from accounts.models import User
from rooms.models import RoomSocket
from tests.browser.support import wait_for
from tests.rooms import test_audio_browser as audio
from tests.rooms.test_admission_browser import shoot, shots_dir
from tests.sockets import session_cookie

browser_type_launch_args = audio.browser_type_launch_args
audio_browser = audio.audio_browser
speech_wav = audio.speech_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The burst's sockets are bare clients that do not acknowledge audio as a page does: this test is about their
# joins, not about slow listeners.
LIVE_DAPHNE_ENV = {"SPACES_MEDIA_ACK_LAG_MS": "60000"}
BURST = 60


async def join_all(address: str, space_id: int, cookies: list[str]) -> tuple[list[dict], list]:
    async def one(cookie: str):
        socket = await connect(
            f"ws://{address}/ws/spaces/{space_id}/",
            additional_headers={"Cookie": cookie},
            origin=f"http://{address}",
            max_queue=None,  # read the audio as it comes, as a page does
        )
        while True:
            message = await asyncio.wait_for(socket.recv(), 30)
            if isinstance(message, str) and (event := json.loads(message))["type"] == "welcome":
                return event, socket

    joined = await asyncio.gather(*(one(cookie) for cookie in cookies))
    return [welcome for welcome, _ in joined], [socket for _, socket in joined]


def test_a_burst_of_joins_leaves_the_page_already_listening_hearing_every_frame(audio_browser, live_daphne, tmp_path):
    speaker, listener = audio.host_and_listener(audio_browser, live_daphne)
    wait_for(listener, "window.spacesAudioStats.framesReceived > 50", timeout=30_000)  # listening already
    space_id = int(listener.url.split("/spaces/")[1].split("/")[0])
    crowd = User.objects.bulk_create(
        User(username=f"burst{i}", email=f"burst{i}@example.com", display_name=f"Burst {i}") for i in range(BURST)
    )
    cookies = [session_cookie(user) for user in crowd]

    opened: Future = Future()
    leave = threading.Event()

    async def burst() -> None:
        # In a thread of its own (Playwright's loop runs in the test's): open them all at once, keep them open
        # while the page is looked at, then close them.
        try:
            welcomes, sockets = await join_all(live_daphne, space_id, cookies)
        except Exception as exc:
            opened.set_exception(exc)
            return
        opened.set_result(welcomes)
        await asyncio.to_thread(leave.wait, 60)
        for socket in sockets:
            await socket.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        closed = worker.submit(asyncio.run, burst())
        welcomes = opened.result(timeout=60)
        # Everyone inside now: the page already listening counts them all.
        wait_for(listener, f"document.getElementById('listener-count').textContent === '{BURST + 1}'", timeout=15_000)
        shoot(listener, shots_dir(tmp_path), "burst-listener")
        leave.set()
        closed.result(timeout=60)

    assert sorted(welcome["me"]["user_id"] for welcome in welcomes) == sorted(user.pk for user in crowd)
    assert all(welcome["me"]["role"] == "listener" for welcome in welcomes)
    assert max(welcome["listener_count"] for welcome in welcomes) == BURST + 1
    # The server closes the burst's 60 rows one after another (each a transaction on the process's database
    # thread): on a loaded machine that alone can take longer than the page's wait. Wait for it first, then give
    # the page its time to show the count.
    still_open = RoomSocket.objects.filter(participant__user__in=crowd)
    deadline = time.monotonic() + 90
    while still_open.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not still_open.exists(), f"{still_open.count()} of the burst's sockets still open on the server"
    wait_for(listener, "document.getElementById('listener-count').textContent === '1'", timeout=15_000)
    audio.stop_and_count_received(speaker, listener)  # every frame the host sent, through the burst
    assert speaker.evaluate("window.socketCloses") == [] and listener.evaluate("window.socketCloses") == []
    assert speaker.errors == [] and listener.errors == []
