"""Searching replays by the words spoken: full text on PostgreSQL, icontains on SQLite, the Space's rules."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block
from captions.models import CaptionSegment
from captions.search import replay_search
from rooms.models import Space
from rooms.replays.models import Recording
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory

pytestmark = pytest.mark.django_db


def replay(host, title: str, lines: list[tuple[int, str]], state=Recording.State.READY, **fields) -> Space:
    space = LiveSpaceFactory(host=host, title=title, state=Space.State.ENDED, ended_at=timezone.now(), **fields)
    Recording.objects.create(space=space, state=state, audio="x.m4a", size_bytes=1)
    for start_ms, text in lines:
        CaptionSegment.objects.create(space=space, speaker=host, start_ms=start_ms, end_ms=start_ms + 2000, text=text)
    return space


def test_a_spoken_word_finds_the_replay_at_that_moment(client, host):
    garden = replay(host, "Garden hour", [(1000, "Welcome everyone"), (65_000, "Tomatoes need sun and patience")])
    replay(host, "Bikes", [(3000, "Electric bicycles are everywhere")])
    reader = UserFactory()
    client.force_login(reader)
    page = client.get(reverse("captions:search"), {"q": "tomatoes"}).content.decode()
    assert "Garden hour" in page and "Bikes" not in page
    assert f'href="{garden.get_absolute_url()}#t=65"' in page
    assert "00:01:05" in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stemming and ranking are PostgreSQL's")
def test_postgresql_matches_word_forms_and_ranks_the_best_moment_first(host):
    replay(host, "Garden hour", [(1000, "I planted a tomato"), (9000, "tomatoes, tomatoes and more tomatoes")])
    hits = replay_search(query="tomato", user=UserFactory())
    assert [h.space.title for h in hits] == ["Garden hour"]
    assert hits[0].segment.start_ms == 9000 and hits[0].more == 1


def test_replays_you_may_not_hear_are_not_found(host):
    replay(host, "Tickets only", [(1000, "Secret gardening tips")], audience=Space.Audience.TICKETED)
    replay(host, "Deleted", [(1000, "Secret gardening tips")], state=Recording.State.DELETED)
    public = replay(host, "Open", [(1000, "Secret gardening tips")])
    stranger = UserFactory()
    assert [h.space for h in replay_search(query="secret gardening", user=stranger)] == [public]
    assert {h.space.title for h in replay_search(query="secret gardening", user=host)} == {"Tickets only", "Open"}
    Block.objects.create(blocker=host, blocked=stranger)
    assert replay_search(query="secret gardening", user=stranger) == []


def test_an_empty_search_shows_the_form_only(client, host):
    client.force_login(UserFactory())
    response = client.get(reverse("captions:search"), {"q": "  "})
    assert response.status_code == 200 and "No replay has" not in response.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", (390, 1280))
def test_the_search_box_is_drawn_like_the_sites_other_search_boxes(page, live_server, host, width):
    from tests.browser.support import SHOTS, signed_in

    replay(host, "Garden hour", [(65_000, "Tomatoes need sun and patience")])
    signed_in(page.context, live_server.url, host)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}{reverse('captions:search')}?q=tomatoes")
    box = page.get_by_label("Words said in a Space")
    row = box.evaluate("b => b.parentElement.getBoundingClientRect().width")
    drawn = box.bounding_box()
    # It was the browser's bare input: 180 px wide in a page-wide card, in a smaller font, 20 px high.
    assert drawn and drawn["width"] > row * 0.6 and drawn["height"] >= 40, (drawn, row)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / f"replay-search-{width}.png", full_page=True)
