"""The room page while people wait to get in: someone arriving as a listener is drawn in line, behind them, rather
than in a room that vanishes when their socket is told its place; whoever goes straight in is drawn in the room."""

import pytest
from django.core.cache import cache

from rooms import admission
from rooms.models import Invitation, Role
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, fill, make_host

pytestmark = pytest.mark.django_db

LINE_SHOWN = '<section id="waiting-line" class="waiting-line" aria-labelledby="waiting-heading">'


def drawn_in_line(client, space, user) -> bool:
    client.force_login(user)
    page = client.get(f"/spaces/{space.pk}/").content.decode()
    in_line = 'data-waiting="true"' in page
    assert in_line == (LINE_SHOWN in page)  # the room is hidden exactly when the line is shown
    assert in_line == ("Others are waiting too: finding your place…" in page)
    return in_line


@pytest.fixture
def space():
    space = LiveSpaceFactory(host=make_host())
    cache.delete(admission._members_key(space.pk))  # ids come round again between tests on SQLite
    yield space
    cache.delete(admission._members_key(space.pk))


def test_a_listener_arriving_while_others_wait_is_drawn_in_line(client, space):
    newcomer = UserFactory()
    assert not drawn_in_line(client, space, newcomer)  # nobody waits: the room, as it will be

    admission._report(101, {space.pk: 3}, set())  # a server process has three in line for this Space
    assert drawn_in_line(client, space, newcomer)

    admission._report(101, {}, {space.pk})  # its line emptied
    assert not drawn_in_line(client, space, newcomer)


def test_whoever_goes_straight_in_is_drawn_in_the_room_while_others_wait(client, space, server):
    admission._report(101, {space.pk: 3}, set())
    speaker, invited = UserFactory(), UserFactory()
    seat(space, speaker, Role.SPEAKER)
    Invitation.objects.create(space=space, user=invited, role=Role.SPEAKER, invited_by=space.host)
    [inside] = fill(space, server, 1)  # a listener with a socket in the room: a second tab, a reload

    assert not drawn_in_line(client, space, space.host)
    assert not drawn_in_line(client, space, speaker)
    assert not drawn_in_line(client, space, invited)
    assert not drawn_in_line(client, space, inside.user)
    assert drawn_in_line(client, space, UserFactory())


def test_the_room_page_draws_the_room_while_the_shared_cache_is_away(client, space, monkeypatch, shared_cache_away):
    """Redis restarting: the page cannot tell whether anyone waits, so it draws the room (the socket says)."""
    admission._report(101, {space.pk: 3}, set())
    monkeypatch.setattr(admission, "process_cache", lambda: shared_cache_away)
    assert not drawn_in_line(client, space, UserFactory())
