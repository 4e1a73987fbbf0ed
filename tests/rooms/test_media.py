"""The audio fast path: frame validation, fan-out (in-process and over Redis pub/sub), bounded queues."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

import pytest
import pytest_asyncio
from django.conf import settings as django_settings
from redis.exceptions import ConnectionError as RedisConnectionError

from rooms import encode_once, media
from spaces_site.close_codes import CloseCode

REDIS = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL (the real pub/sub)")


def frame(sequence: int = 0, fmt: int = media.FORMAT_OPUS, payload: bytes = b"\x01" * 80, at: float = 1.0) -> bytes:
    return media.pack_frame(fmt, stream=1, sequence=sequence, captured_ms=at, payload=payload)


class Sink:
    """Collects what the fan-out sends, like a consumer's `send_media`; can hold its socket back."""

    def __init__(self, expect: int = 0) -> None:
        self.payloads: list[bytes] = []
        self.texts: list[dict] = []
        self.closed_with: int | None = None
        self.open = asyncio.Event()
        self.open.set()
        self.expect = expect
        self.done = asyncio.Event()

    async def send_media(self, payload: bytes) -> None:
        if not self.open.is_set():
            await self.open.wait()
        self.payloads.append(payload)
        if self.expect and len(self.frames()) >= self.expect:
            self.done.set()

    async def send(self, text_data: str) -> None:
        self.texts.append(json.loads(text_data))

    async def close(self, code: int) -> None:
        self.closed_with = code
        self.done.set()

    def frames(self) -> list[bytes]:
        return [f for p in self.payloads for f in media.unpack_message(p)]

    def sequences(self) -> list[int]:
        return [media.unpack_header(f[1:]).sequence for f in self.frames()]


@pytest_asyncio.fixture
async def media_settings(settings):
    settings.SPACES_MEDIA_REDIS_PREFIX = f"test.{uuid.uuid4().hex}"
    settings.SPACES_MEDIA_BATCH_FRAMES = 1
    yield settings
    await media.shutdown()


@pytest.fixture
def in_process(media_settings):
    media_settings.REDIS_URL = None
    return media_settings


async def settle(condition, rounds: int = 500) -> None:
    """Let the event loop run until `condition()` holds (bounded; not a timing assertion)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.001)


# --- validation ---


def test_well_formed_opus_and_pcm_frames_pass_validation():
    media.validate_frame(frame())
    media.validate_frame(frame(fmt=media.FORMAT_PCM16, payload=b"\x00" * 640))
    media.validate_frame(
        b"\x01" + bytes(media.HEADER_BYTES - 1) + b"\x00" * (media.MAX_FRAME_BYTES - media.HEADER_BYTES)
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", CloseCode.BAD_FRAME),
        (b"\x01\x00\x00", CloseCode.BAD_FRAME),
        (frame(payload=b""), CloseCode.BAD_FRAME),
        (frame(fmt=7), CloseCode.BAD_FRAME),
        (frame(fmt=0), CloseCode.BAD_FRAME),
        (frame(at=float("nan")), CloseCode.BAD_FRAME),
        (frame(at=float("inf")), CloseCode.BAD_FRAME),
        (frame(payload=b"\x00" * (media.MAX_FRAME_BYTES - 12)), CloseCode.FRAME_TOO_LARGE),
    ],
    ids=["empty", "short", "header-only", "unknown-format", "format-zero", "nan-time", "inf-time", "oversize"],
)
def test_bad_frames_raise_frame_error_with_documented_close_code(data, code):
    with pytest.raises(media.FrameError) as raised:
        media.validate_frame(data)
    assert raised.value.close_code == code
    assert str(raised.value)


def test_relayed_frame_is_speaker_index_then_client_frame_and_index_is_bounded():
    assert media.relayed(3, frame(9)) == b"\x03" + frame(9)
    with pytest.raises(ValueError):
        media.relayed(media.BATCH_MARKER, frame())


def test_batch_packs_and_unpacks_relayed_frames_in_order():
    frames = [media.relayed(0, frame(1)), media.relayed(2, frame(2, payload=b"\x07" * 300))]
    packed = media.pack_batch(frames)
    assert packed[0] == media.BATCH_MARKER
    assert media.unpack_message(packed) == frames
    assert media.unpack_message(frames[0]) == [frames[0]]


def test_rate_limit_allows_a_speakers_rate_and_refuses_a_flood():
    limit = media.MediaRateLimit()
    assert all(limit.allow(93, now=i * 0.02) for i in range(500))  # 10 s at 50 frames/s
    flood = media.MediaRateLimit()
    verdicts = [flood.allow(93, now=0.0) for _ in range(600)]
    assert verdicts[:500] == [True] * 500  # the five-second burst
    assert not any(verdicts[501:])
    assert flood.allow(93, now=20.0)
    sustained = media.MediaRateLimit()  # 150 frames a second: past the cap once the burst is spent
    assert not all(sustained.allow(93, now=i / 150) for i in range(150 * 15))
    big = media.MediaRateLimit()
    assert not all(big.allow(4096, now=i * 0.02) for i in range(500))


def test_rate_limit_lets_a_speaker_whose_page_stalled_send_what_it_held():
    """A page whose main thread (or network) stalls 8 s sends the 400 frames it held at once, then talks on."""
    limit = media.MediaRateLimit()
    talking = [limit.allow(93, now=i * 0.02) for i in range(250)]  # 5 s
    held = [limit.allow(93, now=13.0) for _ in range(400)]
    after = [limit.allow(93, now=13.0 + i * 0.02) for i in range(1, 500)]
    assert all(talking) and all(held) and all(after)


# --- fan-out ---


@pytest.mark.asyncio
async def test_in_process_fan_out_reaches_every_attached_sink_with_speaker_index(in_process):
    sinks = [Sink() for _ in range(3)]
    for sink in sinks:
        await media.attach(7, sink)
    other_space = Sink()
    await media.attach(8, other_space)
    media.publish(7, 2, frame(1))
    media.publish(7, 2, frame(2))
    for sink in sinks:
        assert sink.payloads == [b"\x02" + frame(1), b"\x02" + frame(2)]
    assert other_space.payloads == []


@pytest.mark.asyncio
async def test_detached_sink_gets_nothing_more_and_detach_twice_is_harmless(in_process):
    staying, leaving = Sink(), Sink()
    await media.attach(1, staying)
    await media.attach(1, leaving)
    media.publish(1, 0, frame(1))
    await media.detach(1, leaving)
    await media.detach(1, leaving)
    media.publish(1, 0, frame(2))
    assert staying.sequences() == [1, 2]
    assert leaving.sequences() == [1]


@pytest.mark.asyncio
async def test_listener_joining_mid_stream_starts_at_the_next_frame(in_process):
    early, late = Sink(), Sink()
    await media.attach(1, early)
    media.publish(1, 0, frame(1))
    await media.attach(1, late)
    media.publish(1, 0, frame(2))
    assert early.sequences() == [1, 2]
    assert late.sequences() == [2]


@pytest.mark.asyncio
@REDIS
async def test_redis_fan_out_reaches_sinks_attached_in_two_processes(media_settings):
    here, there = Sink(expect=3), Sink(expect=3)
    await media.attach(5, here)
    # A second process is a second `_Process` with its own subscription; the first one publishes.
    other = media._Process(media_settings.REDIS_URL)
    try:
        await other.attach(5, there)
        for sequence in (1, 2, 3):
            media.publish(5, 4, frame(sequence))
        await asyncio.wait_for(asyncio.gather(here.done.wait(), there.done.wait()), 10)
    finally:
        await other.close()
    assert here.sequences() == there.sequences() == [1, 2, 3]
    assert {f[0] for f in here.frames()} == {4}


@pytest.mark.asyncio
@REDIS
async def test_redis_fan_out_stops_for_a_space_once_its_last_local_listener_leaves(media_settings):
    leaving, staying = Sink(), Sink(expect=1)
    await media.attach(11, leaving)
    await media.attach(12, staying)
    await media.detach(11, leaving)
    media.publish(11, 0, frame(1))
    media.publish(12, 0, frame(2))
    await asyncio.wait_for(staying.done.wait(), 10)
    assert leaving.payloads == []
    assert staying.sequences() == [2]
    assert 11 not in media._process().hubs


@pytest.mark.asyncio
async def test_batching_packs_frames_into_one_message_and_flushes_a_lone_frame(in_process):
    in_process.SPACES_MEDIA_BATCH_FRAMES = 2
    in_process.SPACES_MEDIA_BATCH_MS = 20
    in_process.SPACES_MEDIA_BATCH_FROM_LISTENERS = 0
    sink = Sink(expect=3)
    await media.attach(3, sink)
    media.publish(3, 0, frame(1))
    media.publish(3, 0, frame(2))
    media.publish(3, 0, frame(3))
    await asyncio.wait_for(sink.done.wait(), 5)
    assert len(sink.payloads) == 2
    assert sink.payloads[0][0] == media.BATCH_MARKER
    assert sink.payloads[1] == b"\x00" + frame(3)
    assert sink.sequences() == [1, 2, 3]


@pytest.mark.asyncio
async def test_a_process_holding_a_large_audience_sends_larger_batches(in_process):
    in_process.SPACES_MEDIA_BATCH_FRAMES = 2
    in_process.SPACES_MEDIA_BATCH_MS = 20
    in_process.SPACES_MEDIA_BATCH_FROM_LISTENERS = 0
    in_process.SPACES_MEDIA_LARGE_BATCH_FRAMES = 3
    in_process.SPACES_MEDIA_LARGE_BATCH_FROM_LISTENERS = 3
    first = Sink()
    await media.attach(3, first)
    for sequence in range(1, 5):
        media.publish(3, 0, frame(sequence))
    assert [len(media.unpack_message(p)) for p in first.payloads] == [2, 2]
    for _ in range(2):
        await media.attach(3, Sink())  # three listeners: the large audience
    for sequence in range(5, 11):
        media.publish(3, 0, frame(sequence))
    assert [len(media.unpack_message(p)) for p in first.payloads] == [2, 2, 3, 3]
    assert first.sequences() == list(range(1, 11))


@pytest.mark.asyncio
async def test_batch_holds_the_same_frames_per_speaker_when_several_speak(in_process):
    in_process.SPACES_MEDIA_BATCH_FRAMES = 2
    in_process.SPACES_MEDIA_BATCH_MS = 20
    in_process.SPACES_MEDIA_BATCH_FROM_LISTENERS = 0
    sink = Sink(expect=8)
    await media.attach(3, sink)
    for sequence in range(1, 9):
        media.publish(3, sequence % 2, frame(sequence))
    await asyncio.wait_for(sink.done.wait(), 5)
    assert sink.sequences() == list(range(1, 9))
    # The first batch learns that two people speak (it waits for its timer); from then on, 4 frames each.
    assert [len(media.unpack_message(p)) for p in sink.payloads][-1] == 4
    assert {f[0] for f in media.unpack_message(sink.payloads[-1])} == {0, 1}


@pytest.mark.asyncio
async def test_small_audience_gets_every_frame_at_once_without_batching(in_process):
    in_process.SPACES_MEDIA_BATCH_FRAMES = 3
    in_process.SPACES_MEDIA_BATCH_FROM_LISTENERS = 5
    sink = Sink()
    await media.attach(3, sink)
    media.publish(3, 0, frame(1))
    media.publish(3, 0, frame(2))
    assert sink.payloads == [b"\x00" + frame(1), b"\x00" + frame(2)]


# --- slow listeners ---


@pytest.mark.asyncio
async def test_slow_listener_queue_drops_oldest_without_slowing_others(in_process):
    in_process.SPACES_MEDIA_QUEUE_MESSAGES = 3
    in_process.SPACES_MEDIA_SLOW_DROP_LIMIT = 100
    slow, fast = Sink(), Sink()
    slow.open.clear()
    await media.attach(1, slow)
    await media.attach(1, fast)
    dropped_before = media.media_stats().get("dropped", 0)
    for sequence in range(1, 9):
        media.publish(1, 0, frame(sequence))
    assert fast.sequences() == list(range(1, 9))
    assert slow.payloads == []
    slow.open.set()
    await settle(lambda: len(slow.payloads) == 4)
    # Frame 1 was on the wire when the socket stalled; the queue kept the newest three of the rest.
    assert slow.sequences() == [1, 6, 7, 8]
    assert media.media_stats()["dropped"] - dropped_before == 4
    media.publish(1, 0, frame(9))
    assert slow.sequences()[-1] == 9


class DirectSink(Sink):
    """A sink whose socket also takes framed messages written straight to it (uvicorn's, rooms/encode_once.py),
    until its buffer is `full`."""

    def __init__(self) -> None:
        super().__init__()
        self.direct_writer = self
        self.full = False
        self.written: list[bytes] = []

    def write(self, framed: bytes) -> bool:
        if self.full:
            return False
        self.written.append(framed)
        return True


@pytest.mark.asyncio
async def test_messages_are_framed_once_and_written_straight_to_sockets_that_can_take_them(in_process):
    direct, plain = DirectSink(), Sink()
    await media.attach(1, direct)
    await media.attach(1, plain)
    written_before = media.media_stats().get("written_once", 0)
    for sequence in range(1, 4):
        media.publish(1, 0, frame(sequence))
    framed = [encode_once.frame(media.relayed(0, frame(n))) for n in range(1, 4)]
    assert direct.written == framed and direct.payloads == []
    assert plain.sequences() == [1, 2, 3]
    assert media.media_stats()["written_once"] - written_before == 3


@pytest.mark.asyncio
async def test_a_socket_with_a_full_buffer_falls_back_to_its_send_and_keeps_the_order(in_process):
    in_process.SPACES_MEDIA_QUEUE_MESSAGES = 10
    listener = DirectSink()
    await media.attach(1, listener)
    media.publish(1, 0, frame(1))
    listener.full = True
    listener.open.clear()  # its send waits for the buffer to drain, as uvicorn's does
    for sequence in (2, 3):
        media.publish(1, 0, frame(sequence))
    listener.full = False  # the buffer drained: yet frame 3 waits in the queue behind frame 2
    media.publish(1, 0, frame(4))
    assert len(listener.written) == 1 and listener.payloads == []
    listener.open.set()
    await settle(lambda: len(listener.payloads) == 3)
    assert listener.sequences() == [2, 3, 4]
    media.publish(1, 0, frame(5))  # caught up: straight to the socket again
    assert len(listener.written) == 2 and len(listener.payloads) == 3


@pytest.mark.asyncio
async def test_listener_that_stays_behind_is_told_detached_and_closed(in_process):
    in_process.SPACES_MEDIA_QUEUE_MESSAGES = 2
    in_process.SPACES_MEDIA_SLOW_DROP_LIMIT = 3
    slow, fast = Sink(), Sink()
    slow.open.clear()
    await media.attach(1, slow)
    await media.attach(1, fast)
    for sequence in range(1, 11):
        media.publish(1, 0, frame(sequence))
    await asyncio.wait_for(slow.done.wait(), 5)
    assert slow.closed_with == CloseCode.SLOW_LISTENER
    assert slow.texts == [
        {
            "type": "error",
            "code": "slow_listener",
            "close_code": CloseCode.SLOW_LISTENER,
            "message": slow.texts[0]["message"],
        }
    ]
    assert fast.sequences() == list(range(1, 11))
    slow.open.set()
    media.publish(1, 0, frame(11))
    assert 11 not in slow.sequences()
    assert fast.sequences()[-1] == 11


@pytest.mark.asyncio
async def test_sink_that_raises_is_detached_and_others_keep_receiving(in_process):
    class Broken(Sink):
        async def send_media(self, payload: bytes) -> None:
            raise ConnectionResetError("socket gone")

    broken, fine = Broken(), Sink()
    await media.attach(1, broken)
    await media.attach(1, fine)
    media.publish(1, 0, frame(1))
    media.publish(1, 0, frame(2))
    assert fine.sequences() == [1, 2]
    assert id(broken) not in media._process().hubs[1].listeners


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("error", "warned"), [(ConnectionResetError("listener went away"), False), (ValueError("a bug"), True)]
)
async def test_a_listener_who_went_away_is_detached_quietly_and_a_failing_sink_is_warned_of(
    in_process, caplog, error, warned
):
    # A storm of leaves must not log a traceback per listener; anything else failing still must be seen.
    class Failing(Sink):
        async def send_media(self, payload: bytes) -> None:
            raise error

    failing = Failing()
    await media.attach(1, failing)
    with caplog.at_level(logging.DEBUG, logger="rooms.media"):
        media.publish(1, 0, frame(1))
    hub = media._process().hubs.get(1)
    assert hub is None or id(failing) not in hub.listeners
    failures = [r for r in caplog.records if "failed; detaching" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING if warned else logging.DEBUG]


@pytest.mark.asyncio
async def test_publish_survives_redis_being_unreachable_and_attach_retries_afresh(media_settings):
    media_settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    failed_before = media.media_stats().get("publish_failed", 0)
    media.publish(4, 0, frame(1))
    media.publish(4, 0, frame(2))
    await settle(lambda: media.media_stats().get("publish_failed", 0) > failed_before, rounds=5000)
    assert media.media_stats()["publish_failed"] == failed_before + 2  # both frames, in one failed round trip
    with pytest.raises(RedisConnectionError):
        await media.attach(4, Sink())
    assert 4 not in media._process().hubs


@pytest.mark.asyncio
async def test_listener_that_stops_acknowledging_is_told_and_closed_while_others_keep_receiving(in_process):
    # Daphne buffers writes without pushing back, so the queue never fills for a socket that stops reading:
    # the acknowledgements are what tell the server, under any server.
    in_process.SPACES_MEDIA_ACK_LAG_MS = 1000
    acking, silent, greedy, captions = Sink(), Sink(), Sink(), Sink()
    for sink in (acking, silent, greedy):
        await media.attach(1, sink, acks=True)
    await media.attach(1, captions)  # a sink that never acknowledges (the caption pipeline) is not held to it
    media.acknowledge(1, greedy, 10**9)  # acknowledging what was never sent buys no time
    sequence = 0
    while silent.closed_with is None or greedy.closed_with is None:
        sequence += 1
        assert sequence < 60, "the silent listeners were never evicted"
        media.publish(1, 0, frame(sequence))
        media.acknowledge(1, acking, len(acking.payloads))
        await asyncio.sleep(0.05)
    media.publish(1, 0, frame(sequence + 1))
    for evicted in (silent, greedy):
        assert evicted.closed_with == CloseCode.SLOW_LISTENER
        assert [(t["code"], t["close_code"]) for t in evicted.texts] == [("slow_listener", CloseCode.SLOW_LISTENER)]
        assert sequence + 1 not in evicted.sequences()
    assert acking.sequences() == captions.sequences() == list(range(1, sequence + 2))
    assert acking.closed_with is None and captions.closed_with is None
    assert media.media_stats()["ack_lagging"] >= 2


@pytest.mark.asyncio
async def test_stage_is_never_evicted_for_lagging_only_listeners_are(in_process):
    # Under overload the server sheds listeners; a speaker who falls behind on playback only skips audio.
    in_process.SPACES_MEDIA_QUEUE_MESSAGES = 2
    in_process.SPACES_MEDIA_SLOW_DROP_LIMIT = 3
    in_process.SPACES_MEDIA_ACK_LAG_MS = 1000
    speaker, listener, quiet = Sink(), Sink(), Sink()
    speaker.on_stage = True
    speaker.open.clear()
    listener.open.clear()
    for sink in (speaker, listener, quiet):
        await media.attach(1, sink, acks=True)
    for sequence in range(1, 11):
        media.publish(1, 0, frame(sequence))
    await asyncio.wait_for(listener.done.wait(), 5)
    assert listener.closed_with == CloseCode.SLOW_LISTENER
    # Neither acknowledges: the checker's verdicts, driven with explicit times past the lag allowed (on the
    # monotonic clock its own once-a-second check uses), shed only the listener.
    hub = media._process().hubs[1]
    start = time.monotonic()
    for now in (start, start + 1, start + 2):
        hub.check_acks(now)
    await asyncio.wait_for(quiet.done.wait(), 5)
    assert quiet.closed_with == CloseCode.SLOW_LISTENER
    speaker.open.set()
    media.publish(1, 0, frame(11))
    await settle(lambda: 11 in speaker.sequences())
    assert speaker.closed_with is None and speaker.texts == []
    assert 11 in speaker.sequences()
    assert id(speaker) in hub.listeners
