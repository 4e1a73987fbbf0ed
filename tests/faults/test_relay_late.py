"""A server process that falls behind (its process stopped for most of every fifth of a second, as a machine
starved of CPU would leave it): it sends its newest listener back into line, never the stage and never a listener
who was there first, and lets them in again, hearing, once it runs on time; the other process is untouched."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from playwright.sync_api import expect

from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.browser.support import signed_in_page, wait_for
from tests.faults.clients import RoomClient, Speaker, run_scenario, running, until
from tests.faults.conftest import needs_deployed_services, two_servers
from tests.personas import seat
from tests.processes import start_uvicorn
from tests.rooms import test_audio_browser as audio
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.test_admission_browser import DESKTOP, PHONE, shoot, shots_dir
from tests.sockets import session_cookie

# A fake microphone playing a sentence, so that the host is on air (fixtures of the audio tests).
browser_type_launch_args = audio.browser_type_launch_args
audio_browser = audio.audio_browser
speech_wav = audio.speech_wav

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]

STOPPED_S, RUNNING_S = 0.15, 0.05  # of every 0.2 s: each of the loop's 0.1 s timers runs about 0.1 s late


@pytest.fixture
def small_servers(transactional_db, fault_redis, static_root, settings):
    """Two uvicorn processes with room for five sockets each (so never fewer than one), late past 50 ms."""
    with two_servers(
        start_uvicorn,
        fault_redis,
        static_root,
        settings,
        SPACES_LISTENERS_PER_PROCESS="5",
        SPACES_RELAY_LATE_MS="50",
        SPACES_WAITING_UPDATE_SECONDS="1",
        SPACES_MEDIA_ACK_LAG_MS="60000",  # this test is about the whole process falling behind, not one player
    ) as started:
        yield started


async def starve(pid: int, until_set: asyncio.Event) -> None:
    """Stop the process for STOPPED_S of every STOPPED_S + RUNNING_S until `until_set`."""
    while not until_set.is_set():
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(STOPPED_S)
        os.kill(pid, signal.SIGCONT)
        await asyncio.sleep(RUNNING_S)


def heard_since(client: RoomClient, speaker_index: int, since: float) -> int:
    return sum(1 for at, index, _ in client.frames if index == speaker_index and at >= since)


def test_a_process_that_falls_behind_sends_its_newest_listener_back_in_line_and_lets_them_in_again(small_servers):
    behind, on_time = small_servers
    host = make_host()
    space = LiveSpaceFactory(host=host)
    speaker = UserFactory()
    seat(space, speaker, Role.SPEAKER, muted=False)
    speaker_index = Participant.objects.get(user=speaker).speaker_index
    first, second, newest, elsewhere = UserFactory.create_batch(4)
    people = [host, speaker, first, second, newest, elsewhere]
    cookies = {user.pk: session_cookie(user) for user in people}
    addresses = [f"127.0.0.1:{server.port}" for server in small_servers]

    def client(user, server: int, kind=RoomClient) -> RoomClient:
        return kind(user.username, addresses, space.pk, cookies[user.pk], first=server, reconnect=False)

    async def scenario() -> dict:
        host_c, speaker_c = client(host, 0), client(speaker, 0, Speaker)
        first_c, second_c, elsewhere_c = client(first, 0), client(second, 0), client(elsewhere, 1)
        newest_c = client(newest, 0)
        everyone = [host_c, speaker_c, first_c, second_c, elsewhere_c]
        async with running(everyone):
            await until(lambda: all(c.live for c in everyone), 30, "everyone to be welcomed")
            everyone.append(newest_c)  # the last to arrive on the process that will fall behind
            newest_c.start()
            await until(lambda: newest_c.live, 15, "the newest listener to be welcomed")
            listening = [first_c, second_c, newest_c, elsewhere_c]
            started = time.monotonic()
            await until(lambda: all(heard_since(c, speaker_index, started) for c in listening), 15, "audio")

            recovered = asyncio.Event()
            starving = asyncio.ensure_future(starve(behind.pid, recovered))
            try:
                await until(lambda: newest_c.events_of("waiting"), 30, "the newest listener to be sent back in line")
            finally:
                recovered.set()
                await starving
                os.kill(behind.pid, signal.SIGCONT)
            sent_back = time.monotonic()
            in_room_meanwhile = Participant.objects.filter(space=space, user=newest, sockets__isnull=False).exists()

            await until(lambda: len(newest_c.welcomes) == 2, 30, "the newest listener to be let in again")
            back = time.monotonic()
            await until(lambda: heard_since(newest_c, speaker_index, back) >= 25, 15, "the audio again")
            return {
                "waiting": newest_c.events_of("waiting")[0],
                "others_sent_back": [
                    c.name for c in [host_c, speaker_c, first_c, second_c, elsewhere_c] if c.events_of("waiting")
                ],
                "closes": {c.name: list(c.closes) for c in everyone},
                "in_room_meanwhile": in_room_meanwhile,
                "role_back": newest_c.welcomes[-1][2]["me"]["role"],
                "first_heard_after": heard_since(first_c, speaker_index, sent_back),
            }

    figures = run_scenario(scenario(), small_servers)
    assert (figures["waiting"]["position"], figures["waiting"]["sent_back"]) == (1, True)
    assert figures["others_sent_back"] == []
    assert all(closes == [] for closes in figures["closes"].values()), figures["closes"]
    assert figures["in_room_meanwhile"] is False
    assert figures["role_back"] == Role.LISTENER
    assert figures["first_heard_after"] > 0  # the listener who was there first heard on throughout


def starve_in_a_thread(pid: int) -> tuple[threading.Event, threading.Thread]:
    """`starve` for a test whose own loop is Playwright's: set the event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            os.kill(pid, signal.SIGSTOP)
            time.sleep(STOPPED_S)
            os.kill(pid, signal.SIGCONT)
            time.sleep(RUNNING_S)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop, thread


DECODED = "(window.spacesAudioStats?.speakers[0]?.framesDecoded ?? 0)"  # Maya's frames this page decoded


@pytest.mark.browser
def test_a_listener_listening_in_the_browser_waits_in_line_while_the_server_is_behind_and_plays_again(
    audio_browser, small_servers, tmp_path
):
    behind = small_servers[0]
    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Synths at night")
    path = f"/spaces/{space.pk}/"
    folder = shots_dir(tmp_path)
    host_page = signed_in_page(audio_browser, behind.url, host, path, viewport=DESKTOP)
    expect(host_page.locator("#room")).to_have_attribute("data-on-air", "on-air", timeout=60_000)
    first = signed_in_page(audio_browser, behind.url, UserFactory(username="sam"), path, viewport=PHONE)
    expect(first.locator("#room")).to_have_attribute("data-connected", "true")
    newest = signed_in_page(audio_browser, behind.url, UserFactory(username="ivy"), path, viewport=PHONE)
    expect(newest.locator("#room")).to_have_attribute("data-connected", "true")
    # Ivy is listening before the server falls behind.
    # The player's stats exist once its audio worklet has loaded, after `welcome`: until then nothing is decoded.
    wait_for(newest, f"{DECODED} > 50", timeout=30_000)

    stop, thread = starve_in_a_thread(behind.pid)
    try:
        expect(newest.locator("#waiting-line")).to_be_visible(timeout=30_000)
    finally:
        stop.set()
        thread.join()
        os.kill(behind.pid, signal.SIGCONT)
    expect(newest.locator("#waiting-position")).to_have_text("You're next.")
    expect(newest.locator("#waiting-sent-back")).to_contain_text("The server carrying this room fell behind")
    expect(newest.locator("#waiting-full")).to_be_hidden()
    expect(newest.locator(".stage")).to_be_hidden()
    shoot(newest, folder, "sent-back-in-line")
    expect(first.locator("#waiting-line")).to_be_hidden()  # Sam was there first and stays in the room

    # On time again: Ivy is let in on the same page, without a reload, and hears Maya again.
    expect(newest.locator("#waiting-line")).to_be_hidden(timeout=30_000)
    expect(newest.locator(".stage")).to_be_visible()
    decoded = newest.evaluate(DECODED)
    wait_for(newest, f"{DECODED} > {decoded + 50}", timeout=30_000)
    shoot(newest, folder, "let-in-again")
    assert host_page.errors == [] and first.errors == [] and newest.errors == []
    for page in (host_page, first, newest):
        page.context.close()
