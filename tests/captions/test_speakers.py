"""Every consenting speaker is captioned: three speakers in turn, then talking over each other."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from rooms import services
from rooms.models import Role
from tests.accounts.factories import UserFactory
from tests.captions.speech import silence, speak, words_of
from tests.captions.test_live import (  # noqa: F401  (fixtures)
    caption_worker,
    captions_live,
    collect,
    finals,
    heard,
    loaded_engine,
    speak_into,
    wait_until_captioning,
    wait_until_stopped,
)
from tests.personas import seat
from tests.rooms.factories import SpaceFactory, make_host
from tests.sockets import joined

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def sockets_never_acknowledge(settings):
    # The test's sockets read everything but never send `media_ack`; keep them from being evicted.
    settings.SPACES_MEDIA_ACK_LAG_MS = 600_000


LINES = {
    "maya": "Welcome to the morning show about gardening.",
    "dora": "Our guest speaker talks about electric bicycles.",
    "ravi": "Tomorrow we visit the museum of modern sculpture.",
}
# Words tiny.en gets on every decode of these lines (it hears "bicycles" as "an electric bicycle" on some).
KEYWORDS = {"maya": {"morning", "gardening"}, "dora": {"guest", "electric"}, "ravi": {"tomorrow", "museum"}}


def _space_with_three_speakers():
    host = make_host(username="maya", display_name="Maya")
    space = SpaceFactory(host=host, title="Gardens")
    dora = UserFactory(username="dora", display_name="Dora")
    ravi = UserFactory(username="ravi", display_name="Ravi")
    listener = UserFactory(username="sam", display_name="Sam")
    return host, dora, ravi, listener, space


def _by_speaker(events: list[dict]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for event in finals(events):
        out.setdefault(event["speaker_id"], set()).update(words_of(event["text"]))
    return out


@pytest.mark.asyncio
async def test_three_speakers_in_turn_and_overlapping_are_all_captioned(caption_worker):  # noqa: F811
    host, dora, ravi, listener, space = await database_sync_to_async(_space_with_three_speakers)()
    await database_sync_to_async(services.space_start)(space=space, by=host)
    audience, _ = await joined(listener, space.pk)
    await database_sync_to_async(seat)(space, dora, Role.SPEAKER)
    await database_sync_to_async(seat)(space, ravi, Role.SPEAKER)
    people = {"maya": host, "dora": dora, "ravi": ravi}
    sockets = {name: (await joined(user, space.pk))[0] for name, user in people.items()}
    await wait_until_captioning(space.pk)
    speech = {name: silence(300) + speak(text) + silence(900) for name, text in LINES.items()}

    def all_heard(events, names):
        got = _by_speaker(events)
        return all(KEYWORDS[n] <= got.get(people[n].pk, set()) for n in names)

    # In turn: each speaker while the others' pages send silence, as an open microphone does.
    events = []
    for name in LINES:
        quiet = [speak_into(sockets[o], silence(len(speech[name]) // 32)) for o in LINES if o != name]
        sent = await asyncio.gather(
            speak_into(sockets[name], speech[name]),
            *quiet,
            collect(audience, lambda ev, n=name: all_heard(ev, [n]), seconds=120),
        )
        events += sent[-1]
    by_speaker = _by_speaker(events)
    for name in LINES:
        assert KEYWORDS[name] <= by_speaker.get(people[name].pk, set()), (name, by_speaker)

    # Overlapping: all three at once. Each is captioned under their own name; on a loaded machine a
    # word may be lost to the backlog bound, so one of each speaker's keywords is enough here.
    def each_captioned(events):
        got = _by_speaker(events)
        return all(KEYWORDS[n] & got.get(people[n].pk, set()) for n in LINES)

    sent = await asyncio.gather(
        *(speak_into(sockets[name], speech[name]) for name in LINES),
        collect(audience, each_captioned, seconds=120),
    )
    by_speaker = _by_speaker(sent[-1])
    for name in LINES:
        assert KEYWORDS[name] & by_speaker.get(people[name].pk, set()), (name, by_speaker)
    names = {e["speaker_id"]: e["speaker_name"] for e in finals(sent[-1])}
    assert names == {host.pk: "Maya", dora.pk: "Dora", ravi.pk: "Ravi"}

    await database_sync_to_async(services.space_end)(space=space, by=host)
    await wait_until_stopped(space.pk)
    for socket in (audience, *sockets.values()):
        await socket.disconnect()
