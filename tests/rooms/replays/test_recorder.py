"""Recording a live Space through the real room socket and relay, then the mix after the end.

Embedded mode (no REDIS_URL): the recorder is a thread of the test process attached to the relay on the
test's event loop, as it is on the server's, and the mix runs in a thread. With REDIS_URL: a real Celery
worker (in a thread of this process) consumes the `recordings` and `celery` queues from the Redis broker;
the recorder taps the frames through Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from rooms import services
from rooms.models import Role
from rooms.replays import recorder
from rooms.replays import services as replay_services
from rooms.replays.models import Recording, RecordingChunk
from rooms.replays.storage import replay_storage
from rooms.replays.tasks import sweep_recorders
from tests.accounts.factories import UserFactory
from tests.captions.conftest import opus_frames
from tests.rooms.conftest import seat
from tests.rooms.factories import SpaceFactory, make_host
from tests.rooms.replays.audio import best_correlation, decode_file, pcm16k_floats, rms, silence, speak
from tests.rooms.test_consumers import joined

pytestmark = [pytest.mark.django_db(transaction=True)]

HOST = "Welcome to the morning show about gardening and tomatoes."
GUEST = "Seven green boxes arrived on Monday, and nobody could open them."


def wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def recording_of(space_id: int) -> Recording:
    return Recording.objects.get(pk=space_id)


def recorder_holds(space_id: int, other_than: str = "") -> str:
    """The holder of the recorder lease when a recorder (not a dispatch) holds it and taps frames."""
    rec = recording_of(space_id)
    running = recorder.recorder_in_this_process(space_id)
    if rec.holder in ("", Recording.PENDING, other_than) or running is None or not running.ready.is_set():
        return ""
    return rec.holder


async def speak_into(socket, pcm16: bytes) -> tuple[float, int]:
    """Send `pcm16` as Opus frames at real time; returns when the first frame left (epoch ms) and how many."""
    frames = opus_frames(pcm16)
    first = time.time() * 1000
    started = time.monotonic()
    for n in range(0, len(frames), 5):
        for frame in frames[n : n + 5]:
            await socket.send_to(bytes_data=frame)
        await asyncio.sleep(max(0.0, started + (n + 5) * 0.02 - time.monotonic()))
    return first, len(frames)


def start_recorded_space():
    host = make_host(username="maya", display_name="Maya")
    guest = UserFactory(username="dora", display_name="Dora")
    space = SpaceFactory(host=host, title="Gardens")
    replay_services.recording_start(space=space, by=host)
    space = services.space_start(space=space, by=host)
    seat(space, guest, Role.SPEAKER)
    return host, guest, space


def wait_until_ready(space_id: int) -> Recording:
    assert wait_for(lambda: recording_of(space_id).state in (Recording.State.READY, Recording.State.FAILED), 60)
    recording = recording_of(space_id)
    assert recording.state == Recording.State.READY, recording.last_error
    return recording


def decoded(recording: Recording):
    with replay_storage().open(recording.audio, "rb") as handle:
        return decode_file(handle)


def window(samples, start_ms: float, length_ms: float):
    return samples[int(start_ms * 16) : int((start_ms + length_ms) * 16)]


@pytest.mark.asyncio
async def test_two_speakers_in_turn_are_recorded_and_mixed_at_their_moments(recording_worker):
    host, guest, space = await database_sync_to_async(start_recorded_space)()
    assert await sync_to_async(wait_for)(lambda: recorder_holds(space.pk)), "no recorder took the Space"
    started_ms = space.started_at.timestamp() * 1000

    host_socket, _ = await joined(host, space.pk)
    guest_socket, _ = await joined(guest, space.pk)
    host_pcm = silence(300) + speak(HOST) + silence(300)
    guest_pcm = silence(300) + speak(GUEST) + silence(300)
    host_at, _ = await speak_into(host_socket, host_pcm)
    await asyncio.sleep(1.0)
    guest_at, _ = await speak_into(guest_socket, guest_pcm)
    await asyncio.sleep(0.5)
    ended = time.monotonic()
    await database_sync_to_async(services.space_end)(space=space, by=host)
    recording = await sync_to_async(wait_until_ready)(space.pk)
    print(f"replay ready {time.monotonic() - ended:.1f} s after the end (mix {recording.mix_seconds} s)")
    for socket in (host_socket, guest_socket):
        await socket.disconnect()

    samples, duration_ms = await sync_to_async(decoded)(recording)
    assert abs(duration_ms - recording.duration_ms) <= 40
    host_ms, guest_ms = len(host_pcm) // 32, len(guest_pcm) // 32
    host_r, host_lag = best_correlation(window(samples, host_at - started_ms, host_ms), pcm16k_floats(host_pcm), 60)
    guest_r, guest_lag = best_correlation(
        window(samples, guest_at - started_ms, guest_ms), pcm16k_floats(guest_pcm), 60
    )
    chance, _ = best_correlation(window(samples, guest_at - started_ms, guest_ms), pcm16k_floats(host_pcm), 60)
    print(
        f"host r={host_r:.2f} lag={host_lag * 10} ms; guest r={guest_r:.2f} lag={guest_lag * 10} ms; "
        f"chance {chance:.2f}"
    )
    assert host_r > 0.7 and guest_r > 0.7, (host_r, guest_r)
    assert guest_r > chance + 0.2
    assert abs(host_lag) <= 25 and abs(guest_lag) <= 25  # within 250 ms of when it was said
    # Between their turns nobody spoke, and the recording says so.
    gap_from = host_at - started_ms + host_ms + 300
    assert rms(window(samples, gap_from, guest_at - started_ms - gap_from - 300)) < 0.003
    speakers = await database_sync_to_async(
        lambda: set(RecordingChunk.objects.filter(recording_id=space.pk).values_list("speaker_id", flat=True))
    )()
    assert speakers == {host.pk, guest.pk}


@pytest.mark.asyncio
async def test_a_killed_recorder_is_replaced_and_the_gap_is_bounded_by_the_recovery(recording_worker, settings):
    host, _, space = await database_sync_to_async(start_recorded_space)()
    assert await sync_to_async(wait_for)(lambda: recorder_holds(space.pk)), "no recorder took the Space"
    first_holder = await database_sync_to_async(recorder_holds)(space.pk)
    host_socket, _ = await joined(host, space.pk)
    speech = speak(HOST)
    stop_talking = asyncio.Event()

    async def talk() -> None:
        while not stop_talking.is_set():
            await speak_into(host_socket, speech)

    talking = asyncio.create_task(talk())
    await asyncio.sleep(2.5)
    # What SIGKILL leaves behind: the frames not yet flushed are gone, and the lease stays until it expires.
    dead = recorder.recorder_in_this_process(space.pk)
    dead._flush = lambda: None
    dead._release = lambda: None
    dead.stop.set()
    killed = time.monotonic()

    def recovered() -> bool:
        sweep_recorders()  # the beat runs it every REPLAYS_SWEEP_SECONDS
        return bool(recorder_holds(space.pk, other_than=first_holder))

    assert await sync_to_async(wait_for)(recovered, 30), "the sweep did not restart the recorder"
    recovery_s = time.monotonic() - killed
    await asyncio.sleep(3)
    stop_talking.set()
    await talking
    await database_sync_to_async(services.space_end)(space=space, by=host)
    recording = await sync_to_async(wait_until_ready)(space.pk)
    await host_socket.disconnect()

    chunks = await database_sync_to_async(
        lambda: list(RecordingChunk.objects.filter(recording_id=space.pk).order_by("start_ms"))
    )()
    holes = [b.start_ms - a.end_ms for a, b in zip(chunks, chunks[1:], strict=False)]
    gap_ms = max(holes)
    print(f"recovered in {recovery_s:.1f} s; largest gap in the recording {gap_ms} ms")
    # The host talked throughout: one gap, no longer than the recovery plus the frames a flush holds.
    assert gap_ms <= (recovery_s + settings.REPLAYS_FLUSH_SECONDS + 0.5) * 1000
    assert sorted(holes)[-2] < 200 if len(holes) > 1 else True
    samples, _ = await sync_to_async(decoded)(recording)
    last_ms = chunks[-1].end_ms
    assert rms(window(samples, last_ms - 2_000, 1_500)) > 0.01  # recorded after the recovery, to the end
    assert rms(window(samples, chunks[0].start_ms + 200, 1_500)) > 0.01  # and before the kill


def test_the_sweep_dispatches_a_recorded_space_once_and_leaves_unrecorded_ones(recording_worker, settings):
    settings.REPLAYS_LEASE_SECONDS = 3
    host = make_host(username="maya")
    space = services.space_create(host=host, title="Not recorded")
    assert not Recording.objects.filter(space=space).exists()
    assert space.pk not in sweep_recorders()
    replay_services.recording_start(space=space, by=host)
    assert wait_for(lambda: recorder_holds(space.pk)), "starting to record mid-Space starts a recorder"
    assert sweep_recorders() == []  # held: left alone
    services.space_end(space=space, by=host)
    assert wait_for(lambda: recorder.recorder_in_this_process(space.pk) is None)
    wait_until_ready(space.pk)  # nobody spoke: a replay of silence, as long as the Space
