"""The hosts' studio at /studio/: allauth log-in, and each host sees and changes only their own Spaces."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from rooms.models import Invitation, Space, SpaceReport
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_a():
    return make_host(username="hosta")


@pytest.fixture
def host_b():
    return make_host(username="hostb")


def change_data(space, **overrides):
    data = {
        "title": space.title,
        "topics": "music",
        "scheduled_for_0": (space.scheduled_for).strftime("%Y-%m-%d"),
        "scheduled_for_1": (space.scheduled_for).strftime("%H:%M:%S"),
        "speaking_policy": "everyone",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
        "invitations-MIN_NUM_FORMS": "0",
        "invitations-MAX_NUM_FORMS": "2",
        "participants-TOTAL_FORMS": "0",
        "participants-INITIAL_FORMS": "0",
        "reports-TOTAL_FORMS": "0",
        "reports-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_anonymous_visitors_are_sent_to_allauth_login(client):
    response = client.get("/studio/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "next=/studio/" in response.redirect_chain[-1][0]


def test_account_without_enough_followers_is_told_how_many_are_missing(client, settings):
    settings.SPACES_MIN_FOLLOWERS_TO_HOST = 600
    newcomer = UserFactory()
    User.objects.filter(pk=newcomer.pk).update(followers_count=100)
    client.force_login(newcomer)
    response = client.get("/studio/", follow=True)
    assert response.status_code == 403
    assert b"<strong>500</strong> more" in response.content


def test_host_sees_only_their_own_spaces(client, host_a, host_b):
    mine = SpaceFactory(host=host_a, title="Alpha talk")
    theirs = SpaceFactory(host=host_b, title="Bravo talk")
    client.force_login(host_a)
    listing = client.get("/studio/rooms/space/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [mine]
    assert b"Bravo talk" not in listing.content
    assert b'rel="icon" href="/static/favicon.svg"' in listing.content  # the site's icon, not a 404 for /favicon.ico
    detail = client.get(f"/studio/rooms/space/{theirs.pk}/change/", follow=True)
    assert b"Bravo talk" not in detail.content
    assert detail.redirect_chain  # sent away as if it did not exist


def test_host_cannot_change_or_cancel_another_hosts_space(client, host_a, host_b):
    theirs = SpaceFactory(host=host_b, title="Bravo talk")
    client.force_login(host_a)
    client.post(f"/studio/rooms/space/{theirs.pk}/change/", change_data(theirs, title="Hijacked"))
    client.post("/studio/rooms/space/", {"action": "cancel_spaces", "_selected_action": [theirs.pk], "index": "0"})
    theirs.refresh_from_db()
    assert (theirs.title, theirs.state) == ("Bravo talk", Space.State.SCHEDULED)


def test_host_edits_and_cancels_their_own_space(client, host_a):
    mine = SpaceFactory(host=host_a, title="Alpha talk")
    client.force_login(host_a)
    response = client.post(f"/studio/rooms/space/{mine.pk}/change/", change_data(mine, title="Alpha, renamed"))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.title == "Alpha, renamed"
    client.post("/studio/rooms/space/", {"action": "cancel_spaces", "_selected_action": [mine.pk], "index": "0"})
    assert Space.objects.get(pk=mine.pk).state == Space.State.CANCELLED


def test_the_studio_shows_topics_as_the_site_writes_them_and_saves_them_back(client, host_a):
    mine = SpaceFactory(host=host_a, title="Alpha talk", topics="music,synths")
    client.force_login(host_a)
    page = client.get(f"/studio/rooms/space/{mine.pk}/change/").content.decode()
    assert 'name="topics" value="music, synths"' in page
    client.post(f"/studio/rooms/space/{mine.pk}/change/", change_data(mine, topics="music, synths, tech"))
    mine.refresh_from_db()
    assert mine.topics == "music,synths,tech"


def test_host_schedules_in_the_studio_with_field_errors_for_bad_times(client, host_a):
    client.force_login(host_a)
    past = timezone.now() - timedelta(days=1)
    data = {
        "title": "From the studio",
        "topics": "a,b",
        "scheduled_for_0": past.strftime("%Y-%m-%d"),
        "scheduled_for_1": past.strftime("%H:%M:%S"),
        "speaking_policy": "everyone",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
    }
    response = client.post("/studio/rooms/space/add/", data)
    assert response.status_code == 200
    assert "in the future" in str(response.context["adminform"].form.errors["scheduled_for"])
    soon = timezone.now() + timedelta(days=3)
    data["scheduled_for_0"], data["scheduled_for_1"] = soon.strftime("%Y-%m-%d"), soon.strftime("%H:%M:%S")
    assert client.post("/studio/rooms/space/add/", data).status_code == 302
    space = Space.objects.get(title="From the studio")
    assert (space.host, space.topic_list) == (host_a, ["a", "b"])


def test_host_names_cohosts_in_advance(client, host_a):
    mine = SpaceFactory(host=host_a)
    ivy = UserFactory()
    client.force_login(host_a)
    data = change_data(mine, **{"invitations-TOTAL_FORMS": "1", "invitations-0-username": "nobody"})
    response = client.post(f"/studio/rooms/space/{mine.pk}/change/", data)
    assert response.status_code == 200 and b"No account is called @nobody." in response.content
    data["invitations-0-username"] = ivy.username
    assert client.post(f"/studio/rooms/space/{mine.pk}/change/", data).status_code == 302
    assert Invitation.objects.get(space=mine).user == ivy


def _cohost_rows(space, *names, initial=0):
    """The co-host inline as the change page posts it: one row per name, the first `initial` of them stored."""
    stored = list(Invitation.objects.filter(space=space).order_by("pk"))
    rows = {"invitations-TOTAL_FORMS": str(len(names)), "invitations-INITIAL_FORMS": str(initial)}
    for i, name in enumerate(names):
        rows[f"invitations-{i}-username"] = name
        rows[f"invitations-{i}-space"] = str(space.pk)
        rows[f"invitations-{i}-id"] = str(stored[i].pk) if i < initial else ""
    return rows


def test_renaming_a_cohost_in_the_studio_replaces_them(client, host_a):
    """Changing a named co-host's username left them a co-host beside the new one, and with two named a rename
    was a 500 (the service counted the person being replaced against the limit of 2)."""
    mine = SpaceFactory(host=host_a)
    ivy, leo, omar = UserFactory(username="ivy"), UserFactory(username="leo"), UserFactory(username="omar")
    client.force_login(host_a)
    url = f"/studio/rooms/space/{mine.pk}/change/"
    assert client.post(url, change_data(mine, **_cohost_rows(mine, "ivy", "leo"))).status_code == 302
    assert client.post(url, change_data(mine, **_cohost_rows(mine, "ivy", "omar", initial=2))).status_code == 302
    assert set(Invitation.objects.filter(space=mine).values_list("user", flat=True)) == {ivy.pk, omar.pk}
    assert not Invitation.objects.filter(space=mine, user=leo).exists()


@pytest.mark.parametrize("who_blocks", ["host", "cohost"])
def test_naming_a_cohost_across_a_block_in_the_studio_is_a_field_error(client, host_a, who_blocks):
    from accounts import services as account_services

    mine = SpaceFactory(host=host_a)
    sam = UserFactory(username="sam")
    blocker, blocked = (host_a, sam) if who_blocks == "host" else (sam, host_a)
    account_services.block_create(blocker=blocker, blocked=blocked)
    client.force_login(host_a)
    response = client.post(f"/studio/rooms/space/{mine.pk}/change/", change_data(mine, **_cohost_rows(mine, "sam")))
    assert response.status_code == 200
    assert "name @sam as a co-host." in response.content.decode()
    assert not Invitation.objects.filter(space=mine).exists()


def test_participants_and_reports_are_visible_only_to_their_host(client, host_a, host_b):
    theirs = LiveSpaceFactory(host=host_b)
    stranger = UserFactory(username="visible_only_to_b")
    seat(theirs, stranger)
    client.force_login(host_a)
    assert b"visible_only_to_b" not in client.get(f"/studio/rooms/space/{theirs.pk}/change/", follow=True).content
    client.force_login(host_b)
    assert b"visible_only_to_b" in client.get(f"/studio/rooms/space/{theirs.pk}/change/").content


def test_the_host_sees_reports_on_people_in_their_space_but_never_who_reported_or_reports_on_them(client, host_a):
    space = LiveSpaceFactory(host=host_a)
    troll = UserFactory(username="reported_troll")
    seat(space, troll)
    for reporter, reported, details in [
        (UserFactory(username="reporter_one"), troll, "shouting slurs"),
        (UserFactory(username="reporter_two"), None, "the whole Space is a scam"),
        (UserFactory(username="reporter_three"), host_a, "the host insulted me"),
    ]:
        SpaceReport.objects.create(
            space=space, reporter=reporter, reported_user=reported, reason="abuse", details=details
        )
    client.force_login(host_a)
    page = client.get(f"/studio/rooms/space/{space.pk}/change/").content.decode()
    assert "shouting slurs" in page and "reported_troll" in page
    assert "reporter_" not in page
    assert "the whole Space is a scam" not in page and "the host insulted me" not in page


def test_a_report_on_the_space_itself_is_said_to_go_to_the_moderators_alone(client, host_a):
    space = LiveSpaceFactory(host=host_a)
    listener = UserFactory()
    seat(space, listener)
    client.force_login(listener)
    on_space = client.post(reverse("rooms:report", args=[space.pk]), {"reason": "spam"}, follow=True)
    assert "Thanks. Our moderators will review your report." in on_space.content.decode()
    on_host = client.post(reverse("rooms:report", args=[space.pk]), {"reason": "spam", "user": host_a.pk}, follow=True)
    assert "Thanks. Our moderators will review your report." in on_host.content.decode()
    other = UserFactory()
    seat(space, other)
    on_other = client.post(reverse("rooms:report", args=[space.pk]), {"reason": "spam", "user": other.pk}, follow=True)
    assert "Thanks. The host and our moderators will review your report." in on_other.content.decode()


def test_the_view_on_site_shortcut_answers_only_for_the_hosts_own_spaces(client, host_a, host_b):
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import Post

    own = SpaceFactory(host=host_a)
    theirs = SpaceFactory(host=host_b)
    secret = Post.objects.create(author=host_b, body="for super followers", audience=Post.Audience.SUPER_FOLLOWERS)
    client.force_login(host_a)
    space_type = ContentType.objects.get_for_model(Space).pk
    post_type = ContentType.objects.get_for_model(Post).pk
    shortcut = "/studio/r/{}/{}/"
    assert client.get(shortcut.format(space_type, own.pk))["Location"] == own.get_absolute_url()
    assert client.get(shortcut.format(space_type, theirs.pk)).status_code == 404
    revealing = client.get(shortcut.format(post_type, secret.pk))
    assert revealing.status_code == 404
    assert "hostb" not in revealing.content.decode() and "Location" not in revealing
