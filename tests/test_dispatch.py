"""spaces_site.dispatch: a socket's waiting messages are read in one turn of the event loop (a speaker's audio
is not read more slowly than it comes while the loop is busy), where Channels' own loop takes turns for each."""

from __future__ import annotations

import asyncio

from channels.generic.websocket import AsyncWebsocketConsumer

from spaces_site.dispatch import DirectDispatch

WAITING = 200


class Counting(AsyncWebsocketConsumer):
    channel_layer_alias = None  # as the room's sockets: their events come through a process-wide reader

    def __init__(self) -> None:
        super().__init__()
        self.received: list[bytes] = []

    async def receive(self, text_data=None, bytes_data=None) -> None:
        self.received.append(bytes_data)


class DirectCounting(DirectDispatch, Counting):
    """The same consumer, reading its socket as the room's sockets do."""


def read_a_backlog(consumer: Counting) -> tuple[list[dict], int]:
    """Hand `consumer` a socket whose connect, `WAITING` frames and close already wait at the server; return
    what it sent and how many turns the event loop took until it had handled every frame."""

    async def scenario():
        inbox: asyncio.Queue = asyncio.Queue()
        inbox.put_nowait({"type": "websocket.connect"})
        for n in range(WAITING):
            inbox.put_nowait({"type": "websocket.receive", "bytes": n.to_bytes(2, "big")})
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        sent: list[dict] = []
        turns = 0

        async def send(message: dict) -> None:
            sent.append(message)

        async def count_turns() -> None:
            nonlocal turns
            while True:
                await asyncio.sleep(0)
                turns += 1

        read_all_at = None

        async def receive() -> dict:
            nonlocal read_all_at
            message = await inbox.get()
            if message["type"] == "websocket.disconnect":
                read_all_at = turns  # every frame was handled (the close itself may hop to a thread)
            return message

        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0)  # the counter is running
        start = turns
        await consumer({"type": "websocket", "path": "/"}, receive, send)
        counter.cancel()
        assert read_all_at is not None, "the consumer never read its close"
        return sent, read_all_at - start

    return asyncio.run(scenario())


def test_a_backlog_of_frames_is_read_in_order_within_a_few_turns_of_the_loop():
    consumer = DirectCounting()
    sent, turns = read_a_backlog(consumer)
    assert consumer.received == [n.to_bytes(2, "big") for n in range(WAITING)]
    assert [message["type"] for message in sent] == ["websocket.accept"]
    assert turns < 10


def test_channels_own_loop_takes_turns_for_every_frame():
    """Why spaces_site.dispatch reads the socket itself: the same backlog under Channels' `await_many_dispatch`."""
    consumer = Counting()
    _, turns = read_a_backlog(consumer)
    assert len(consumer.received) == WAITING
    assert turns >= WAITING
