"""The room page a famous account's followers open at once: what one view costs, whatever the Space's size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import headcount, welcome_cache
from rooms.leases import presence_sweep
from rooms.models import Participant, Role, RoomSocket
from tests.accounts.factories import UserFactory
from tests.rooms.factories import fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_caches(live_space):
    headcount.forget(live_space.pk)
    welcome_cache.forget_pages()
    yield
    headcount.forget(live_space.pk)
    welcome_cache.forget_pages()


def view_page(client, space, user=None) -> tuple[str, list[str]]:
    client.force_login(user or UserFactory())
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/spaces/{space.pk}/")
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


def test_the_room_page_costs_the_same_queries_at_10_and_at_5000_listeners(client, live_space, server):
    fill(live_space, server, 10)
    _, small = view_page(client, live_space)

    fill(live_space, server, 4990)
    presence_sweep()  # the headcount is exact
    welcome_cache.forget_pages()
    page, big = view_page(client, live_space)

    assert len(big) == len(small)
    assert page.count('class="listener-tile"') == 101  # the first hundred listeners, and the one viewing
    assert 'id="listener-count">5001<' in page


def test_a_listener_back_after_their_socket_closed_is_counted_once_as_the_welcome_will(client, live_space, server):
    crowd = fill(live_space, server, 150)
    reloading, second_tab = crowd[0], crowd[1]
    RoomSocket.objects.filter(participant=reloading).delete()  # their page unloaded: its socket closed
    presence_sweep()  # the headcount is exact: 149 listeners with a socket

    page, _ = view_page(client, live_space, reloading.user)
    assert 'id="listener-count">150<' in page  # 149 and them, once their socket is in

    welcome_cache.forget_pages()
    page, _ = view_page(client, live_space, second_tab.user)
    assert 'id="listener-count">149<' in page  # already counted by the socket of their other tab


def test_pages_of_a_big_space_are_drawn_from_one_build_of_its_people_for_a_second(
    client, live_space, server, monkeypatch
):
    crowd = fill(live_space, server, 150)
    clock = [1000.0]
    monkeypatch.setattr(welcome_cache.time, "monotonic", lambda: clock[0])
    _, first = view_page(client, live_space)

    promoted = crowd[0]
    Participant.objects.filter(pk=promoted.pk).update(role=Role.SPEAKER, speaker_index=3)
    clock[0] += welcome_cache.MAX_AGE_S / 2
    page, second = view_page(client, live_space)
    assert len(second) < len(first)  # the stage, the first listeners and the pins were not read again
    assert f'<li class="stage-person" data-user="{promoted.user_id}"' not in page

    clock[0] += welcome_cache.MAX_AGE_S
    page, third = view_page(client, live_space)
    assert len(third) == len(first)
    assert f'<li class="stage-person" data-user="{promoted.user_id}" data-role="speaker"' in page


def test_a_small_spaces_page_is_drawn_afresh_every_time(client, live_space, server):
    crowd = fill(live_space, server, 5)
    _, first = view_page(client, live_space)
    Participant.objects.filter(pk=crowd[0].pk).update(role=Role.SPEAKER, speaker_index=3)

    page, second = view_page(client, live_space)

    assert len(second) == len(first)
    assert f'<li class="stage-person" data-user="{crowd[0].user_id}" data-role="speaker"' in page


def test_a_big_space_page_counts_its_list_while_the_shared_cache_is_away(
    client, live_space, server, monkeypatch, shared_cache_away
):
    """Redis restarting: the headcount cannot be read, so the page counts the listeners it lists, not a 500."""
    fill(live_space, server, 150)
    with monkeypatch.context() as away:
        away.setattr(headcount, "process_cache", lambda: shared_cache_away)
        page, _ = view_page(client, live_space)
    assert 'id="listener-count">101<' in page  # the hundred listed, and the one viewing
