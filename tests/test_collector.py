"""Full collections in a server process (spaces_site/collector.py): the survivors of one are left out of the next,
and are let back in time, so that garbage frozen among them is freed after all."""

import gc
import threading
import time
import weakref

import pytest

from spaces_site import collector


class Node:
    """A tracked object that can sit in a cycle."""

    def __init__(self) -> None:
        self.partner: Node | None = None


@pytest.fixture
def collector_installed():
    gc.callbacks.append(collector.freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(collector.freeze_survivors)
        gc.unfreeze()


def test_a_full_collection_freezes_what_survived_it_and_the_next_one_scans_only_what_came_since(collector_installed):
    gc.unfreeze()
    survivors = [Node() for _ in range(1000)]
    gc.collect()
    assert gc.get_freeze_count() >= len(survivors)
    newcomers = [Node() for _ in range(10)]
    gc.collect(1)  # (a younger collection: the newcomers move up a generation, the frozen stay where they are)
    collectable = {id(obj) for obj in gc.get_objects()}  # every generation's, none of the frozen
    assert not any(id(node) in collectable for node in survivors)
    assert all(id(node) in collectable for node in newcomers)


def test_garbage_frozen_in_a_cycle_is_freed_once_the_frozen_are_let_back(collector_installed):
    first, second = Node(), Node()
    first.partner, second.partner = second, first
    gone = weakref.ref(first)
    gc.collect()  # the pair survives (still named here) and is frozen
    del first, second
    gc.collect()
    assert gone() is not None  # frozen garbage: no collection reaches it

    stop = threading.Event()
    releasing = threading.Thread(target=collector.release_frozen_every, args=(0.05, stop), daemon=True)
    releasing.start()
    deadline = time.monotonic() + 5
    while gone() is not None and time.monotonic() < deadline:
        time.sleep(0.06)
        gc.collect()
    stop.set()
    releasing.join()
    assert gone() is None
