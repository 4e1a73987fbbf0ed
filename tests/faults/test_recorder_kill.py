"""The recorder's worker process killed with SIGKILL mid-Space: the sweep (beat) gives the Space to another
recordings worker once the lease runs out, and the replay is complete apart from a gap no longer than the
recovery: what the dead recorder had not flushed, plus the time until the new one taps the frames.

Everything runs in the production shape: a Daphne server, two Celery workers on the `recordings` queue, one on
`celery` (mixes, sweeps), Celery beat, a private Redis and the test database."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from websockets.exceptions import ConnectionClosed

from rooms.media import FORMAT_OPUS, pack_frame
from rooms.models import Space
from rooms.replays.models import Recording, RecordingChunk
from rooms.replays.storage import replay_storage
from tests.captions.speech import opus_payloads
from tests.faults.clients import RoomClient, run_scenario, running, until
from tests.faults.conftest import fault_env, needs_deployed_services
from tests.processes import start_beat, start_daphne, start_worker, stop_all, wait_until
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.rooms.replays.audio import decode_file, rms, speak
from tests.sockets import session_cookie

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3
SENTENCE = "Welcome to the morning show about gardening and tomatoes."


@pytest.fixture
def recording_shape(transactional_db, fault_redis, static_root, settings):
    """A server, the workers and beat of the production shape, sharing the test database, a private Redis and
    a replays folder this process reads too."""
    replays_root = tempfile.mkdtemp(prefix="fault-replays-")
    settings.REPLAYS_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": replays_root},
    }
    env = fault_env(
        fault_redis,
        static_root,
        DJANGO_REPLAYS_ROOT=replays_root,
        REPLAYS_LEASE_SECONDS=str(LEASE_SECONDS),
        REPLAYS_FLUSH_SECONDS="1",
        REPLAYS_SWEEP_SECONDS="1",
        DJANGO_LOG_LEVEL="INFO",
    )
    settings.SECRET_KEY = env["DJANGO_SECRET_KEY"]  # the server accepts the sessions signed here
    started = []
    try:
        started.append(start_daphne(env))
        started.append(start_worker(env, queues=["celery"], concurrency=2, name="tasks"))
        started.append(start_beat(env))
        yield env, started
    finally:
        stop_all(started)
        shutil.rmtree(replays_root, ignore_errors=True)


class Talker(RoomClient):
    """The host's page, talking without pause: real Opus frames of a sentence, 50 a second, stamped with the
    time they were captured."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.payloads = opus_payloads(speak(SENTENCE))
        self.sent: list[float] = []  # capture times (epoch ms) of the frames that went out
        self.sender: asyncio.Task | None = None

    def start(self) -> None:
        super().start()
        self.sender = asyncio.get_running_loop().create_task(self._talk())

    async def _talk(self) -> None:
        sequence, started = 0, time.monotonic()
        while self.reconnect:
            if self.socket is not None:
                captured = time.time() * 1000
                frame = pack_frame(
                    FORMAT_OPUS,
                    stream=1,
                    sequence=sequence + 1,
                    captured_ms=captured,
                    payload=self.payloads[sequence % len(self.payloads)],
                )
                # A send refused while the socket is closing is a pause, counted by longest_pause_ms.
                with contextlib.suppress(ConnectionClosed):
                    await self.socket.send(frame)
                    self.sent.append(captured)
                    sequence += 1
            await asyncio.sleep(max(0.0, started + sequence * 0.02 - time.monotonic()))

    def longest_pause_ms(self, after_ms: float, before_ms: float) -> float:
        """The longest the talker went without sending between two moments (a loaded test process stalls)."""
        times = [t for t in self.sent if after_ms <= t <= before_ms]
        return max([0.0, *(b - a for a, b in zip(times, times[1:], strict=False))])

    async def stop(self) -> None:
        await super().stop()
        if self.sender is not None:
            self.sender.cancel()


def chunks(space_id: int, holder_tail: str, *, written_by: bool = True) -> list[RecordingChunk]:
    found = RecordingChunk.objects.filter(recording_id=space_id).order_by("start_ms")
    mine = found.filter(name__endswith=f"-{holder_tail}.spk")
    result = list(mine if written_by else found.exclude(pk__in=mine.values("pk")))
    connection.close()  # polled from worker threads
    return result


def covered_ms(found: list[RecordingChunk]) -> int:
    return sum(c.end_ms - c.start_ms for c in found)


def recording(space_id: int) -> Recording:
    found = Recording.objects.get(pk=space_id)
    connection.close()
    return found


def test_a_sigkilled_recorder_worker_is_replaced_and_the_replay_lacks_only_the_recovery(recording_shape, fault_redis):
    env, processes = recording_shape
    server = processes[0]
    host = make_host()
    space = LiveSpaceFactory(host=host, title="Gardens")
    Recording.objects.create(space=space)  # recorded from the start; beat's sweep dispatches the recorder
    started_ms = space.started_at.timestamp() * 1000
    cookie = session_cookie(host)
    media_channel = f"{django_settings.SPACES_MEDIA_REDIS_PREFIX}.{space.pk}"
    broker = redis.Redis.from_url(fault_redis.url())

    def listening_on_redis() -> int:
        """Subscribers to the Space's frames: the server, plus the recorder while one taps them."""
        return dict(broker.pubsub_numsub(media_channel)).get(media_channel.encode(), 0)

    first_worker = start_worker(env, queues=["recordings"], name="recorder-a")
    processes.append(first_worker)
    first = wait_until(
        lambda: (r := recording(space.pk)).holder not in ("", Recording.PENDING) and r.holder,
        seconds=120,
        what="a recorder to take the Space",
    )
    # The standby worker that takes over (in production: the pool's other workers, or the restarted one).
    processes.append(start_worker(env, queues=["recordings"], name="recorder-b"))

    async def scenario() -> dict:
        talker = Talker("host", [f"127.0.0.1:{server.port}"], space.pk, cookie)
        async with running([talker]):
            await until(lambda: talker.live, 60, "the host to be welcomed")
            await until(lambda: listening_on_redis() == 2, 60, "the recorder to tap the frames")
            await asyncio.to_thread(
                wait_until, lambda: covered_ms(chunks(space.pk, first[-8:])) >= 2_000, seconds=120, what="flushes"
            )
            killed_at = time.time() * 1000
            await asyncio.to_thread(first_worker.kill)
            await until(lambda: listening_on_redis() == 1, 30, "the killed recorder's subscription to go")
            # Recovery: the lease runs out, beat's sweep dispatches, the standby worker's recorder subscribes.
            await until(lambda: listening_on_redis() == 2, 120, "a new recorder to tap the frames", step=0.01)
            back_at = time.time() * 1000
            await asyncio.to_thread(
                wait_until,
                lambda: covered_ms(chunks(space.pk, first[-8:], written_by=False)) >= 3_000,
                seconds=120,
                what="the new recorder to keep a few seconds",
            )
            await talker.send({"type": "end"})
            await until(lambda: talker.final is not None or talker.events_of("space_ended"), 30, "the end")
        return {"killed_at": killed_at, "back_at": back_at, "talker": talker}

    outcome = run_scenario(scenario(), processes)
    ready = wait_until(
        lambda: (r := recording(space.pk)).state in (Recording.State.READY, Recording.State.FAILED) and r,
        seconds=120,
        what="the replay to be mixed",
    )
    assert ready.state == Recording.State.READY, ready.last_error
    assert Space.objects.get(pk=space.pk).state == Space.State.ENDED

    before = chunks(space.pk, first[-8:])
    after = chunks(space.pk, first[-8:], written_by=False)
    gap_ms = after[0].start_ms - before[-1].end_ms
    kill_ms, back_ms = outcome["killed_at"] - started_ms, outcome["back_at"] - started_ms
    unflushed_ms, recovery_ms = kill_ms - before[-1].end_ms, back_ms - kill_ms
    talker: Talker = outcome["talker"]
    stall_ms = talker.longest_pause_ms(outcome["back_at"] - 1_000, outcome["back_at"] + 2_000)
    print(
        f"recorder killed; frames tapped again {recovery_ms / 1000:.1f} s later; {unflushed_ms:.0f} ms were not yet "
        f"flushed; the replay's gap is {gap_ms} ms; mixed in {ready.mix_seconds} s"
    )
    # The gap is what the dead recorder held unflushed plus the recovery (and any stall of the talker itself).
    assert 0 < gap_ms <= unflushed_ms + recovery_ms + stall_ms + 100
    with replay_storage().open(ready.audio, "rb") as handle:
        samples, duration_ms = decode_file(handle)
    # Speech before the kill and after the recovery, to the end.
    assert rms(samples[int((before[0].start_ms + 200) * 16) : int((before[-1].end_ms - 200) * 16)]) > 0.01
    assert rms(samples[int((after[0].start_ms + 200) * 16) : int((after[-1].end_ms - 200) * 16)]) > 0.01
    assert duration_ms >= after[-1].end_ms - 100
