"""Discovery: people search, who to follow from the follow graph, a profile's Spaces, the Spaces tab."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import selectors, services
from accounts.models import Follow, User
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.models import Participant, Role, RoomSocket
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host

pytestmark = pytest.mark.django_db


def test_people_search_finds_names_and_usernames_and_hides_blocks(client, alice, bob):
    maria = UserFactory(username="maria_synth", display_name="Maria Okafor")
    UserFactory(username="zed", display_name="Zed")
    services.block_create(blocker=bob, blocked=alice)
    assert [p.username for p in selectors.people_search(query="okafor", viewer=alice)] == [maria.username]
    assert [p.username for p in selectors.people_search(query="@maria", viewer=alice)] == [maria.username]
    assert selectors.people_search(query="bob", viewer=alice) == []
    client.force_login(alice)
    response = client.get(reverse("accounts:people_search"), {"q": "maria"})
    assert response.status_code == 200 and "Maria Okafor" in response.text


def test_people_search_forgives_typos_on_postgresql(alice):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("trigram similarity is PostgreSQL's; other databases match substrings")
    maria = UserFactory(username="mariaokafor", display_name="Maria Okafor")
    assert maria in selectors.people_search(query="Mariaa Okafr", viewer=alice)


def test_who_to_follow_comes_from_people_you_follow(alice, bob, charlie):
    dana, eve, star = UserFactory(username="dana"), UserFactory(username="eve"), UserFactory(username="star")
    services.follow_create(follower=alice, followee=bob)
    services.follow_create(follower=alice, followee=charlie)
    for follower in (bob, charlie):
        services.follow_create(follower=follower, followee=dana)
    services.follow_create(follower=bob, followee=eve)
    Follow.objects.bulk_create([Follow(follower=u, followee=star) for u in UserFactory.create_batch(5)])
    star.followers_count = 5
    star.save()
    services.block_create(blocker=eve, blocked=alice)
    suggestions = selectors.who_to_follow(user=alice, limit=3)
    assert [p.username for p in suggestions][:1] == ["dana"]
    assert suggestions[0].followed_by_friends == 2
    assert "eve" not in [p.username for p in suggestions]
    assert "star" in [p.username for p in suggestions]  # topped up with popular accounts


def test_a_profile_shows_the_persons_live_and_upcoming_spaces_and_counts(client, alice):
    host = make_host(username="dj", display_name="DJ")
    LiveSpaceFactory(host=host, title="On air now")
    room_services.space_create(host=host, title="Next week", scheduled_for=timezone.now() + timedelta(days=7))
    client.force_login(alice)
    page = client.get(host.get_absolute_url()).text
    assert "Spaces by DJ" in page and "On air now" in page and "Next week" in page
    assert f'href="{reverse("accounts:followers", args=["dj"])}"' in page
    assert f'href="{reverse("accounts:following", args=["dj"])}"' in page


def listening(server, participant: Participant) -> None:
    RoomSocket.objects.create(participant=participant, process=server)


def test_the_spaces_tab_ranks_by_people_you_follow_then_listeners_and_lists_topics(client, alice, server):
    crowded = LiveSpaceFactory(host=make_host(username="big"), title="Crowded", topics="music")
    friendly = LiveSpaceFactory(host=make_host(username="small"), title="Friends here", topics="music,jazz")
    quiet = LiveSpaceFactory(host=make_host(username="quiet"), title="Quiet")
    for person in UserFactory.create_batch(3):
        listening(server, Participant.objects.create(space=crowded, user=person, role=Role.LISTENER))
    friend = UserFactory()
    Follow.objects.create(follower=alice, followee=friend)
    listening(server, Participant.objects.create(space=friendly, user=friend, role=Role.LISTENER))
    Participant.objects.create(space=quiet, user=UserFactory(), role=Role.LISTENER)  # left: no open socket
    ranked = list(room_selectors.spaces_live_ranked(user=alice))
    assert [s.title for s in ranked] == ["Friends here", "Crowded", "Quiet"]
    assert ranked[1].listening == 3 and quiet in ranked
    client.force_login(alice)
    page = client.get(reverse("rooms:list")).text
    assert page.index("Friends here") < page.index("Crowded")
    assert "3 listening" in page and "1 person you follow" in page
    assert '<a class="tag" href="?q=music">#music' in page


def test_the_spaces_tab_lists_no_space_whose_host_blocked_you(client, alice):
    blocker = make_host(username="blocker")
    LiveSpaceFactory(host=blocker, title="Live behind a block")
    SpaceFactory(host=blocker, title="Later behind a block")
    SpaceFactory(title="Open later")
    services.block_create(blocker=blocker, blocked=alice)
    client.force_login(alice)
    page = client.get(reverse("rooms:list")).text
    assert "Open later" in page
    assert "Live behind a block" not in page and "Later behind a block" not in page


def test_people_search_says_when_more_people_match_than_it_shows(client, alice):
    UserFactory.create_batch(31, display_name="Sam Synth")
    client.force_login(alice)
    page = client.get(reverse("accounts:people_search"), {"q": "synth"}).text
    # It said "30 people like “synth”" when 31 did.
    assert "The 30 people most like “synth”" in page and "More people match" in page
    assert page.count('class="person"') == 30
    UserFactory.create_batch(2, display_name="Ada Lovesynth")
    page = client.get(reverse("accounts:people_search"), {"q": "lovesynth"}).text
    assert "2 people like “lovesynth”" in page and "More people match" not in page


def test_who_to_follow_ranks_friends_picks_by_friends_then_followers_and_fills_up_to_the_limit(alice, bob, charlie):
    services.follow_create(follower=alice, followee=bob)
    services.follow_create(follower=alice, followee=charlie)
    both, quiet, loud = UserFactory(username="both"), UserFactory(username="quiet"), UserFactory(username="loud")
    User.objects.filter(pk=loud.pk).update(followers_count=40)
    for friend in (bob, charlie):
        services.follow_create(follower=friend, followee=both)
    for pick in (quiet, loud):
        services.follow_create(follower=bob, followee=pick)
    famous = UserFactory(username="famous")
    User.objects.filter(pk=famous.pk).update(followers_count=1000)
    services.follow_create(follower=alice, followee=famous)  # already followed: never suggested
    UserFactory(username="popular", followers_count=500)

    suggestions = selectors.who_to_follow(user=alice, limit=4)
    assert [(p.username, p.followed_by_friends) for p in suggestions] == [
        ("both", 2),
        ("loud", 1),
        ("quiet", 1),
        ("popular", 0),
    ]
    assert [p.username for p in selectors.who_to_follow(user=alice, limit=2)] == ["both", "loud"]
