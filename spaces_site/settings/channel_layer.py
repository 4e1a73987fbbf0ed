"""How each process talks to the channel layer's Redis: the backend and its channels-redis hosts entry."""

from __future__ import annotations

from typing import Any

# channels-redis with a retry of one-shot sends after a Redis restart (see spaces_site/channel_layer.py).
BACKEND = "spaces_site.channel_layer.RetryingRedisChannelLayer"


def redis_host(url: str) -> dict[str, Any]:
    """The channel layer's options for the Redis at `url`."""
    return {
        "address": url,
        # channels-redis waits 5 s in BZPOPMIN and redis-py 8 stops reading after a 5 s socket timeout by
        # default: idle consumers then die with "Timeout reading". Give the read room past the wait.
        "socket_timeout": 30,
    }
