"""How late this process's event loop runs what it was asked to run at a given moment: the relay's own lateness.

Every audio message a listener gets is written from this loop (rooms/media.py), so a loop that wakes its timers
late delivers the audio as late. Ten times a second (when on time) a timer notes how far past its moment it ran;
once a second the median of those notes is handed on (to admission, rooms/admission.py). The median, because one
long pause (a full garbage collection, a batch of handshakes) is a moment, while a loop that cannot keep up is
late on every timer.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable

TICK_SECONDS = 0.1


async def watch(on_second: Callable[[float], None]) -> None:
    """Call `on_second` with each second's median lateness, in seconds; runs until cancelled."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    since = loop.time()
    while True:
        asked = loop.time()
        await asyncio.sleep(TICK_SECONDS)
        lags.append(max(0.0, loop.time() - asked - TICK_SECONDS))
        if loop.time() - since >= 1:
            on_second(statistics.median(lags))
            lags.clear()
            since = loop.time()
