"""spaces_site.per_loop: the live sockets' in-memory parts are one per event loop, so one per server process."""

import asyncio

from spaces_site.per_loop import PerLoop


def test_each_event_loop_gets_its_own_object_made_on_first_use():
    made = []
    registry = PerLoop(lambda: made.append(object()) or made[-1])

    async def twice():
        before = registry.existing()
        return before, registry(), registry(), registry.existing()

    first = asyncio.run(twice())
    second = asyncio.run(twice())
    assert first[0] is None and first[1] is first[2] is first[3]
    assert second[0] is None and second[1] is not first[1]
    assert len(made) == 2
