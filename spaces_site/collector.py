"""Python's full garbage collections in a server process that holds thousands of sockets.

A full collection scans every object the process tracks, and the event loop, with the audio of every listener,
waits until it is done. Python starts one each time the objects that lived long have grown by a quarter, so a
process filling with sockets pays for the whole of its memory again and again: in a storm of 10,000 arriving,
two server processes paused 7.3-8.2 s in 24 full collections, the longest 649-663 ms, and the audio to those
inside ran 428-498 ms late at p99 (bench/CAPACITY.md). Here each full collection freezes what survived it
(`gc.freeze`), so the next one scans only what was made since: 1.6-1.9 s in 26, the longest 98-124 ms, and the
audio at 134-144 ms.

What is frozen is never collected, even if it later becomes garbage held in a cycle (a socket that closes after
the freeze), so every RELEASE_SECONDS everything is let back (`gc.unfreeze`): the next full collection scans and
frees the lot, one long pause in that time instead of one at every quarter of growth.
"""

from __future__ import annotations

import gc
import threading

RELEASE_SECONDS = 600


def freeze_survivors(phase: str, info: dict) -> None:
    """A `gc.callbacks` callback: after a full collection, what survived it is left out of the next ones."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def release_frozen_every(seconds: float, stop: threading.Event) -> None:
    """Let everything frozen back into the collector's reach every `seconds` until `stop` is set."""
    while not stop.wait(seconds):
        gc.unfreeze()


def keep_survivors_out_of_full_collections(release_seconds: float = RELEASE_SECONDS) -> None:
    """Collect and freeze what is loaded now, freeze the survivors of every later full collection, and let them all
    back every `release_seconds` (on a daemon thread); for a server process, once."""
    gc.collect()
    gc.freeze()
    if freeze_survivors in gc.callbacks:
        return
    gc.callbacks.append(freeze_survivors)
    releasing = threading.Thread(
        target=release_frozen_every, args=(release_seconds, threading.Event()), name="gc-release", daemon=True
    )
    releasing.start()
