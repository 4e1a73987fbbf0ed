"""One object per running event loop: the room fan-out's hub, the relay, the admission gate, the presence
batches and the other in-memory parts of the live sockets.

A server process runs one event loop, so each is one per process there; tests run each on a loop of its own, so
nothing of one test's sockets is left for the next. An object goes with its loop (weakly held).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._objects: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def __call__(self) -> T:
        """This loop's object, made on first use."""
        loop = asyncio.get_running_loop()
        found = self._objects.get(loop)
        if found is None:
            found = self._objects[loop] = self._factory()
        return found

    def existing(self) -> T | None:
        """This loop's object if it was made, without making it."""
        return self._objects.get(asyncio.get_running_loop())
