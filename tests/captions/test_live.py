"""The live captioner of a Space: real speech through the real room socket and relay, real engine.

Embedded mode (no REDIS_URL): the captioner runs as a thread of the test process and taps the
relay on the test's event loop, as it would on the server's. With REDIS_URL: a real Celery worker
(celery.contrib.testing, in a thread of this process) consumes the `captions` queue on the Redis
broker and taps the frames through Redis pub/sub, pushing captions through the Redis channel layer.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time

import pytest
from asgiref.sync import sync_to_async
from celery.contrib.testing.worker import start_worker
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from captions import live
from captions import services as caption_services
from captions.engines import VadConfig, WhisperRecogniser, get_engine
from captions.models import CaptionLease, CaptionPreference, CaptionSegment
from captions.tasks import sweep_captioners
from rooms import media, services
from rooms.models import Role, Space
from spaces_site.celery import app
from tests.accounts.factories import UserFactory
from tests.captions.speech import opus_frames, silence, speak, words_of
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host
from tests.sockets import joined, next_of

pytestmark = [pytest.mark.django_db(transaction=True)]

HOST_SPEECH = "Welcome to the morning show about gardening."
GUEST_SPEECH = "Our guest speaker talks about electric bicycles."


@pytest.fixture(autouse=True)
def captions_live(settings):
    settings.CAPTIONS_LIVE = True
    settings.CAPTIONS_LEASE_SECONDS = 3
    # On a loaded machine recognition runs slower than speech: let captions fall behind rather than
    # skip words, so what these tests assert (which words, whose) does not depend on the machine's
    # speed. Skipping is tested in test_streams.py.
    settings.CAPTIONS_MAX_BACKLOG_MS = 120_000


@pytest.fixture(scope="module")
def loaded_engine():
    """Load the process's engine once, so a captioner starts in well under a second."""
    return get_engine()


@pytest.fixture
def caption_worker(loaded_engine):
    """With Redis: a real worker on the `captions` queue; embedded: captioners run in-process."""
    if not django_settings.REDIS_URL:
        yield None
        return
    assert not app.conf.task_always_eager
    # Both queues, as `make worker` runs: a worker's -Q narrows the app's queue selection for the rest of
    # the process, and the default queue must stay in it for the other worker tests.
    queues = ["captions", "celery"]
    with start_worker(app, pool="threads", concurrency=2, queues=queues, perform_ping_check=False) as worker:
        yield worker


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def lease_of(space_id: int) -> CaptionLease | None:
    return CaptionLease.objects.filter(space_id=space_id).first()


def captioning(space_id: int) -> bool:
    """A captioner holds the Space's lease (and, in-process, taps the relay once there is one)."""
    lease = lease_of(space_id)
    if lease is None or lease.holder == CaptionLease.PENDING:
        return False
    running = live.running_in_process(space_id)
    return running is None or running.loop is not None or media.relay_loop() is None


async def speak_into(socket, pcm16: bytes) -> int:
    """Send `pcm16` as Opus client frames over a speaker's socket at real time (5 frames per 100 ms).

    Each call is a fresh capture, as a page that starts talking again: a new stream whose sequence starts
    at 0, and the capture clock is the wall clock."""
    frames = opus_frames(pcm16, origin_ms=time.time() * 1000, stream=secrets.randbits(32))
    started = time.monotonic()
    for n in range(0, len(frames), 5):
        for frame in frames[n : n + 5]:
            await socket.send_to(bytes_data=frame)
        await asyncio.sleep(max(0.0, started + (n + 5) * 0.02 - time.monotonic()))
    return len(frames)


async def collect(socket, until, seconds: float = 20.0) -> list[dict]:
    """Caption events reaching a listener until `until(events)` holds."""
    events: list[dict] = []
    deadline = time.monotonic() + seconds
    while not until(events) and time.monotonic() < deadline:
        try:
            output = await socket.receive_output(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if output.get("text") is None:
            continue  # relayed audio
        event = json.loads(output["text"])
        if event["type"] in ("caption", "caption_notice"):
            events.append(event)
    return events


def finals(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "caption" and e["final"]]


def heard(events: list[dict]) -> set[str]:
    return set().union(*(words_of(e["text"]) for e in finals(events))) if finals(events) else set()


async def wait_until_captioning(space_id: int) -> None:
    """Wait once the sockets are in: a captioner in this process taps the relay's loop at its keeper's next turn
    (up to a second after the loop appears), and speech sent before it is never heard."""
    assert await sync_to_async(wait_for)(lambda: captioning(space_id)), "no captioner took the Space"


async def wait_until_stopped(space_id: int) -> None:
    def stopped() -> bool:
        lease = lease_of(space_id)
        return live.running_in_process(space_id) is None and (lease is None or lease.expires_at <= _now())

    assert await sync_to_async(wait_for)(stopped), "the captioner did not stop"


def _now():
    from django.utils import timezone

    return timezone.now()


def _start_space_with_guest():
    host = make_host(username="maya", display_name="Maya")
    guest = UserFactory(username="dora", display_name="Dora")
    CaptionPreference.objects.create(user=guest, caption_my_voice=False)
    space = SpaceFactory(host=host, title="Gardens")
    listener = UserFactory(username="sam", display_name="Sam")
    return host, guest, listener, space


@pytest.mark.asyncio
async def test_going_live_captions_the_speakers_and_keeps_the_transcript(caption_worker):
    host, guest, listener, space = await database_sync_to_async(_start_space_with_guest)()
    await database_sync_to_async(services.space_start)(space=space, by=host)
    await database_sync_to_async(seat)(space, guest, Role.SPEAKER)

    audience, _ = await joined(listener, space.pk)
    host_socket, _ = await joined(host, space.pk)
    guest_socket, _ = await joined(guest, space.pk)
    await wait_until_captioning(space.pk)
    host_pcm = silence(300) + speak(HOST_SPEECH) + silence(900)
    guest_pcm = silence(300) + speak(GUEST_SPEECH) + silence(900)
    # Both talk at once: the guest, who declined captions, is relayed but never recognised.
    sent = await asyncio.gather(
        speak_into(host_socket, host_pcm),
        speak_into(guest_socket, guest_pcm),
        collect(audience, lambda events: {"morning", "gardening"} <= heard(events), seconds=60),
    )
    events = sent[2]

    assert {"morning", "gardening"} <= heard(events), events
    caption = finals(events)[0]
    assert caption["speaker_id"] == host.pk and caption["speaker_name"] == "Maya" and caption["speaker_index"] == 0
    assert 0 <= caption["start_ms"] < caption["end_ms"]
    assert all(e.get("speaker_id") != guest.pk for e in events)

    await database_sync_to_async(services.space_end)(space=space, by=host)
    await wait_until_stopped(space.pk)
    for socket in (audience, host_socket, guest_socket):
        await socket.disconnect()

    segments = await database_sync_to_async(lambda: list(CaptionSegment.objects.filter(space=space)))()
    assert segments and {s.speaker_id for s in segments} == {host.pk}
    assert {"morning", "gardening"} <= set().union(*(words_of(s.text) for s in segments))


class FlakyModel:
    """The real Whisper model behind a fault: its first `failures` calls raise, as a crashed model would."""

    name = "whisper"
    gives_partials = False

    def __init__(self, real, failures: int) -> None:
        self.real = real
        self.failures = failures

    def start(self, *, grammar=None):
        return WhisperRecogniser(self, VadConfig())

    def transcribe(self, pcm16: bytes, *, partial: bool = False) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the model crashed")
        return self.real.transcribe(pcm16, partial=partial)


async def own_host(space_id: int, engine_factory) -> live.CaptionHost:
    """A caption host on the test's loop (where the in-memory relay lives) that takes only `space_id`."""
    host = live.CaptionHost(engine_factory=engine_factory, loop=asyncio.get_running_loop(), poll=False)
    await sync_to_async(host.start)()
    host.offer(space_id)
    return host


@pytest.mark.asyncio
async def test_an_engine_exception_shows_a_notice_and_captions_carry_on(loaded_engine):
    host_user = await database_sync_to_async(make_host)(username="maya", display_name="Maya")
    space = await database_sync_to_async(LiveSpaceFactory)(host=host_user)
    listener = await database_sync_to_async(UserFactory)()
    host = await own_host(space.pk, lambda: FlakyModel(loaded_engine, failures=1))
    assert await sync_to_async(wait_for)(lambda: captioning_by(host, space.pk))
    session = host.session(space.pk)
    audience, _ = await joined(listener, space.pk)
    host_socket, _ = await joined(host_user, space.pk)

    pcm = silence(300) + speak("This first sentence is lost.") + silence(900) + speak(HOST_SPEECH) + silence(900)
    _, events = await asyncio.gather(
        speak_into(host_socket, pcm),
        collect(audience, lambda events: {"morning", "gardening"} <= heard(events), seconds=60),
    )

    notices = [e for e in events if e["type"] == "caption_notice"]
    assert [n["code"] for n in notices] == ["engine_error"]
    assert all(n["speaker_name"] == "Maya" and n["message"] for n in notices)
    assert {"morning", "gardening"} <= heard(events)
    assert host.session(space.pk) is session  # the same captioner carries on: no crash, no restart
    await database_sync_to_async(services.space_end)(space=space, by=host_user)
    assert await sync_to_async(session.done.wait)(10)
    assert session.reason == "space over"
    await sync_to_async(host.close)()
    await audience.disconnect()
    await host_socket.disconnect()


def captioning_by(host: live.CaptionHost, space_id: int) -> bool:
    session = host.session(space_id)
    return session is not None and session.loop is not None


@pytest.mark.asyncio
async def test_a_model_that_does_not_load_is_announced_once_and_not_retried_in_a_loop():
    host_user = await database_sync_to_async(make_host)(username="maya", display_name="Maya")
    space = await database_sync_to_async(LiveSpaceFactory)(host=host_user)
    listener = await database_sync_to_async(UserFactory)()
    audience, _ = await joined(listener, space.pk)

    def broken():
        raise RuntimeError("model.bin is missing")

    host = await own_host(space.pk, broken)
    notice = await next_of(audience, "caption_notice", timeout=10)
    assert notice["code"] == "captions_unavailable" and "audio goes on" in notice["message"]
    assert await sync_to_async(wait_for)(lambda: lease_of(space.pk).last_error == "model.bin is missing")
    lease = await database_sync_to_async(lease_of)(space.pk)
    assert (lease.expires_at - _now()).total_seconds() > live.ENGINE_RETRY_SECONDS - 10
    assert await database_sync_to_async(sweep_captioners)() == []  # the sweep leaves it be for now
    await sync_to_async(host.close)()
    await audience.disconnect()


def test_a_space_whose_captioner_died_is_taken_over_by_a_host_with_room(caption_worker):
    from django.db import transaction

    with transaction.atomic():  # a host polling meanwhile sees the Space with its dead lease, or nothing
        space = LiveSpaceFactory(host=make_host(display_name="Maya"))
        quiet = LiveSpaceFactory(host=make_host(), state=Space.State.ENDED)
        # A worker took the Space, then crashed: its lease ran out without being renewed.
        dead_token, _ = caption_services.caption_lease_acquire(
            space_id=space.pk, holder="dead-worker:1:abc", seconds=-1
        )

    live.host()  # a captions worker that has room (the sweep's dispatch is not needed for this)
    assert wait_for(lambda: lease_of(space.pk).holder != "dead-worker:1:abc" and captioning(space.pk)), "not taken"
    lease = lease_of(space.pk)
    assert lease.holder not in ("dead-worker:1:abc", CaptionLease.PENDING) and lease.token == dead_token + 1
    assert wait_for(lambda: lease_of(space.pk).expires_at > _now() + _seconds(1))  # renewed, not left to expire
    assert lease_of(space.pk).holder == lease.holder
    assert sweep_captioners() == []
    assert lease_of(quiet.pk) is None  # ended Spaces are never captioned

    services.space_end(space=space, by=space.host)
    assert wait_for(lambda: lease_of(space.pk).expires_at <= _now()), "the captioner kept the lease after the end"
    assert wait_for(lambda: live.running_in_process(space.pk) is None)


def test_the_sweep_dispatches_a_live_space_nobody_captions_once(caption_worker):
    space = LiveSpaceFactory(host=make_host(display_name="Maya"))
    assert live.running_in_process(space.pk) is None

    assert sweep_captioners() == [space.pk]
    assert sweep_captioners() == []  # dispatched once: the Space waits for a worker, not in a pile
    assert wait_for(lambda: captioning(space.pk)), "the dispatched Space was not taken"
    services.space_end(space=space, by=space.host)
    assert wait_for(lambda: lease_of(space.pk).expires_at <= _now())


def test_a_copy_of_the_task_for_a_held_space_leaves_it_to_its_holder(caption_worker):
    from captions.tasks import caption_space

    space = LiveSpaceFactory(host=make_host())
    caption_services.caption_lease_acquire(space_id=space.pk, holder="other:1:x", seconds=60)
    assert caption_space.apply(args=(space.pk,)).get() == "offered"
    running = live.host()
    assert wait_for(lambda: space.pk not in running.offered)  # the host looked at it
    assert live.running_in_process(space.pk) is None
    assert lease_of(space.pk).holder == "other:1:x"


def _seconds(n: float):
    from datetime import timedelta

    return timedelta(seconds=n)


def test_a_speaker_who_withdraws_consent_mid_space_is_never_recognised_again(loaded_engine):
    from captions.pipeline import SpaceCaptioner

    space = LiveSpaceFactory(host=make_host(display_name="Maya"))
    guest = UserFactory(display_name="Dora")
    index = seat(space, guest, Role.SPEAKER).speaker_index
    session = live._Session(space.pk, token=1, started_ms=0)
    captioner = session.captioner = SpaceCaptioner(
        engine=loaded_engine, speaker_for_index=session.speaker_for_index, space_started_at_ms=0
    )
    frames = opus_frames(silence(300) + speak(GUEST_SPEECH) + silence(900), speaker_index=index)
    half = len(frames) // 2
    for frame in frames[:half]:
        captioner.relay(frame)  # queued while Dora still consents, not yet recognised

    caption_services.caption_preference_update(user=guest, caption_my_voice=False)
    live.CaptionHost(engine_factory=lambda: loaded_engine, poll=False)._refresh_speakers(session)
    for frame in frames[half:]:
        captioner.relay(frame)

    assert captioner.pump() + captioner.close() == []
    assert captioner.declined_frames == len(frames) - half


def test_the_embedded_beat_runs_the_caption_sweep(caption_worker):
    from spaces_site.embedded_beat import run_due

    app.loader.import_default_modules()
    space = LiveSpaceFactory(host=make_host())
    assert "captions.tasks.sweep_captioners" in run_due({}, now=0.0)
    assert wait_for(lambda: captioning(space.pk)), "the sweep run by the embedded beat did not start a captioner"
    services.space_end(space=space, by=space.host)
    assert wait_for(lambda: lease_of(space.pk).expires_at <= _now())


@pytest.mark.asyncio
async def test_a_space_dispatched_from_the_beat_thread_is_tapped_on_the_relays_loop(caption_worker):
    """The embedded beat runs the sweep in a thread of its own, away from the server's loop: the
    captioner it starts must still tap the relay where the room sockets live, and caption them."""
    import threading

    if django_settings.REDIS_URL:
        pytest.skip("the embedded default's relay; with Redis a worker taps frames on its own loop")

    host_user = await database_sync_to_async(make_host)(username="maya", display_name="Maya")
    space = await database_sync_to_async(LiveSpaceFactory)(host=host_user)  # live, never dispatched
    listener = await database_sync_to_async(UserFactory)()
    audience, _ = await joined(listener, space.pk)
    host_socket, _ = await joined(host_user, space.pk)

    swept: list[list[int]] = []
    beat = threading.Thread(target=lambda: swept.append(sweep_captioners()), name="embedded-beat")
    beat.start()
    await sync_to_async(beat.join)()
    assert swept == [[space.pk]]
    await wait_until_captioning(space.pk)

    pcm = silence(300) + speak(HOST_SPEECH) + silence(900)
    _, events = await asyncio.gather(
        speak_into(host_socket, pcm),
        collect(audience, lambda events: {"morning", "gardening"} <= heard(events), seconds=60),
    )
    assert {"morning", "gardening"} <= heard(events)
    await database_sync_to_async(services.space_end)(space=space, by=host_user)
    await wait_until_stopped(space.pk)
    await audience.disconnect()
    await host_socket.disconnect()
