"""How each process talks to the channel layer's Redis (channels-redis hosts entry)."""

from __future__ import annotations

from typing import Any


def redis_host(url: str) -> dict[str, Any]:
    """The channel layer's options for the Redis at `url`.

    channels-redis pools its connections without redis-py's retry, so after a Redis restart every idle
    connection in the pool fails its next command ("Connection closed by server") and a one-shot send on it
    (a mute, a removal, a presence batch) would be lost. A retry on a connection error reconnects and sends
    it again; such a failure happens before Redis ran the command, and events are idempotent anyway.
    """
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return {
        "address": url,
        # channels-redis waits 5 s in BZPOPMIN and redis-py 8 stops reading after a 5 s socket timeout by
        # default: idle consumers then die with "Timeout reading". Give the read room past the wait.
        "socket_timeout": 30,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        "retry_on_error": [RedisConnectionError],
    }
