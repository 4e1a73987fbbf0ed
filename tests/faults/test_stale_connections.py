"""After a Redis restart every idle connection in the channel layer's pool is stale. A one-shot send (a mute, a
removal, a presence batch) must still arrive: nothing retries it later."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from spaces_site.channel_layer import RetryingRedisChannelLayer
from spaces_site.settings.channel_layer import redis_host

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
BURST = 5


def test_one_shot_sends_after_each_redis_restart_arrive_though_the_pool_was_stale(fault_redis):
    async def scenario() -> list[list[int]]:
        layer = RetryingRedisChannelLayer(hosts=[redis_host(fault_redis.url())], prefix="stale")
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        received = []
        for _ in range(2):  # an operator may restart it more than once
            # A busy moment leaves the pool holding several idle connections.
            await asyncio.gather(*(layer.group_send("room", {"type": "busy", "n": n}) for n in range(BURST)))
            for _ in range(BURST):
                await layer.receive(channel)
            await asyncio.to_thread(fault_redis.restart, 0.5)
            await layer.group_add("room", channel)  # as spaces_site.groups does once it sees the restart
            sends = (layer.group_send("room", {"type": "after", "n": n}) for n in range(BURST))
            await asyncio.gather(*sends)  # each on one of the stale connections
            messages = [await asyncio.wait_for(layer.receive(channel), 10) for _ in range(BURST)]
            received.append(sorted(message["n"] for message in messages))
        return received

    assert asyncio.run(scenario()) == [list(range(BURST))] * 2
