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
from tests.captions.speech import opus_frames
from tests.personas import seat
from tests.rooms.factories import SpaceFactory, make_host
from tests.rooms.replays.audio import best_correlation, decode_file, pcm16k_floats, rms, silence, speak
from tests.sockets import joined

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


def chunks_of(space_id: int, holder: str = "", *, other_than: str = "") -> list[RecordingChunk]:
    """The space's chunks in timeline order, only those written by `holder` (or by anyone but `other_than`)."""
    chunks = RecordingChunk.objects.filter(recording_id=space_id).order_by("start_ms")
    if holder:
        chunks = chunks.filter(name__endswith=f"-{holder[-8:]}.spk")
    if other_than:
        chunks = chunks.exclude(name__endswith=f"-{other_than[-8:]}.spk")
    return list(chunks)


def covered_ms(chunks: list[RecordingChunk]) -> int:
    return sum(c.end_ms - c.start_ms for c in chunks)


@pytest.mark.asyncio
async def test_a_killed_recorder_is_replaced_and_the_gap_is_bounded_by_the_recovery(recording_worker, settings):
    host, _, space = await database_sync_to_async(start_recorded_space)()
    assert await sync_to_async(wait_for)(lambda: recorder_holds(space.pk), 120), "no recorder took the Space"
    first_holder = await database_sync_to_async(recorder_holds)(space.pk)
    started_ms = space.started_at.timestamp() * 1000
    host_socket, _ = await joined(host, space.pk)
    speech = speak(HOST)
    stop_talking = asyncio.Event()
    turns: list[tuple[float, float]] = []  # (wall ms the first frame left, ms of speech sent): the talker's own pauses

    async def talk() -> None:
        while not stop_talking.is_set():
            first, frames = await speak_into(host_socket, speech)
            turns.append((first, frames * 20))

    talking = asyncio.create_task(talk())
    # Killed once the first recorder has kept some of it (what it flushed survives the kill).
    assert await sync_to_async(wait_for)(lambda: covered_ms(chunks_of(space.pk, first_holder)) >= 1_500, 120)
    # What SIGKILL leaves behind: the frames not yet flushed are gone, and the lease stays until it expires.
    dead = recorder.recorder_in_this_process(space.pk)
    dead._flush = lambda: None
    dead._release = lambda: None
    dead.stop.set()
    killed = time.monotonic()

    def recovered() -> bool:
        sweep_recorders()  # the beat runs it every REPLAYS_SWEEP_SECONDS
        return bool(recorder_holds(space.pk, other_than=first_holder))

    assert await sync_to_async(wait_for)(recovered, 120), "the sweep did not restart the recorder"
    back_ms = time.time() * 1000 - started_ms  # the new recorder taps frames from here (or a little earlier)
    recovery_s = time.monotonic() - killed
    # Talk on until the new recorder has kept a few seconds, then end the Space.
    assert await sync_to_async(wait_for)(
        lambda: covered_ms(chunks_of(space.pk, other_than=first_holder)) >= 2_500, 120
    ), "the new recorder kept nothing"
    stop_talking.set()
    await talking
    await database_sync_to_async(services.space_end)(space=space, by=host)
    recording = await sync_to_async(wait_until_ready)(space.pk)
    await host_socket.disconnect()

    kept_before = await database_sync_to_async(chunks_of)(space.pk, first_holder)
    kept_after = await database_sync_to_async(chunks_of)(space.pk, other_than=first_holder)
    gap_ms = kept_after[0].start_ms - kept_before[-1].end_ms
    print(f"recovered in {recovery_s:.1f} s; the gap in the recording is {gap_ms} ms")
    # The gap ends where the new recorder started tapping (its first frame is placed when it was said), so it is no
    # longer than the time from the last kept frame to the recovery, plus any pause the talker itself made then.
    pauses = [b[0] - (a[0] + a[1]) for a, b in zip(turns, turns[1:], strict=False)]
    assert 0 < gap_ms <= back_ms - kept_before[-1].end_ms + max([0.0, *pauses]) + 100
    # Apart from the kill, the recording has no holes the talker did not make.
    chunks = kept_before + kept_after
    holes = [
        b.start_ms - a.end_ms
        for a, b in zip(chunks, chunks[1:], strict=False)
        if (a, b) != (kept_before[-1], kept_after[0])
    ]
    assert max([0, *holes]) <= max([0.0, *pauses]) + 100
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
