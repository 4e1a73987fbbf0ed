"""The Redis channel layer under a burst: a thousand sockets connecting at once each add a group membership
(e.g. /ws/me/ after a server process died), more commands at once than the layer's connection pool holds
(redis-py's 100, which raises instead of waiting). Every membership is made, and the process's receive, which
needs a connection of its own, goes on receiving."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from spaces_site.channel_layer import RetryingRedisChannelLayer
from spaces_site.settings.channel_layer import redis_host

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the in-memory layer has no pool")
BURST = 1000


def test_a_burst_of_memberships_is_made_and_the_receive_goes_on():
    async def scenario() -> tuple[dict, dict]:
        layer = RetryingRedisChannelLayer(hosts=[redis_host(settings.REDIS_URL)], prefix=f"burst{uuid.uuid4().hex}")
        channel = await layer.new_channel()
        # The process's receive loop, asking again as soon as a message came (spaces_site/groups.py).
        first = asyncio.ensure_future(layer.receive(channel))
        burst = asyncio.gather(*(layer.group_add(f"user.{n}", channel) for n in range(BURST)))
        await layer.send(channel, {"type": "during"})
        during = await asyncio.wait_for(first, 10)
        second = asyncio.ensure_future(layer.receive(channel))
        await asyncio.wait_for(burst, 30)
        await layer.group_send(f"user.{BURST - 1}", {"type": "after"})  # the last membership holds
        after = await asyncio.wait_for(second, 10)
        await layer.flush()
        return during, after

    during, after = asyncio.run(scenario())
    assert (during["type"], after["type"]) == ("during", "after")
