"""One cache client per server process, for code that runs inside the sockets.

`django.core.cache.cache` is one client per async context (its handler is context-local), and every room
socket is a context of its own: counting or rate-limiting through it in a server opened a Redis connection
per socket (1,024 for 1,000 listeners; Redis refuses clients past `maxclients`, 10,000 by default). Both
Django's Redis client and its local-memory cache are safe to share between threads.
"""

from __future__ import annotations

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver

_shared: BaseCache | None = None


def process_cache() -> BaseCache:
    global _shared
    if _shared is None:
        _shared = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _shared


@receiver(setting_changed, dispatch_uid="spaces_site.process_cache")
def _caches_changed(setting: str, **kwargs) -> None:
    global _shared
    if setting == "CACHES":
        _shared = None
