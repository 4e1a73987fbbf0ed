"""What Super Followers get: Spaces for Super Followers (page and socket), pins that respect a post's
audience, and the Super Follower badge the creator sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Notification, Post
from rooms import services as room_services
from rooms.models import Invitation, Participant, PinnedPost, Role, Space
from tests.accounts.factories import PostFactory, UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host
from tests.sockets import closed_with, next_of, site_socket
from ticketing.models import CreatorProfile, SuperFollowSubscription

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory, make_creator

Status = SuperFollowSubscription.Status


def super_follow(subscriber, creator, status=Status.ACTIVE) -> SuperFollowSubscription:
    plan = creator.super_follow_plans.first() or SuperFollowPlanFactory(creator=creator, price_cents=299)
    return SuperFollowSubscriptionFactory(subscriber=subscriber, plan=plan, status=status)


def super_followers_space(creator) -> Space:
    return LiveSpaceFactory(host=creator, title="Backstage", audience=Space.Audience.SUPER_FOLLOWERS)


def schedule_data(**overrides) -> dict:
    data = {
        "title": "Backstage",
        "topics": "music",
        "start": "later",
        "scheduled_for": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "speaking_policy": "everyone",
        "cohosts": "",
        "audience": "super_followers",
    }
    return {**data, **overrides}


# --- the room page ---------------------------------------------------------------------------------


@pytest.mark.django_db
class TestRoomPage:
    @pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAST_DUE])
    def test_live_super_follower_opens_the_room(self, client, status):
        creator = make_creator()
        space = super_followers_space(creator)
        fan = UserFactory()
        super_follow(fan, creator, status)
        client.force_login(fan)
        response = client.get(space.get_absolute_url())
        assert response.status_code == 200
        assert b'id="room"' in response.content

    @pytest.mark.parametrize("status", [None, Status.CANCELED, Status.PENDING, Status.INCOMPLETE])
    def test_others_are_refused_with_the_reason_and_a_way_to_super_follow(self, client, status):
        creator = make_creator()
        SuperFollowPlanFactory(creator=creator, price_cents=499)
        space = super_followers_space(creator)
        stranger = UserFactory()
        if status is not None:
            super_follow(stranger, creator, status)
        client.force_login(stranger)
        response = client.get(space.get_absolute_url())
        page = response.content.decode()
        assert response.status_code == 403
        assert 'id="room"' not in page
        assert "This Space is for @dana&#x27;s Super Followers. Super Follow @dana to join." in page
        assert f'href="{creator.get_absolute_url()}"' in page
        if status in (None, Status.CANCELED):
            # The plans are offered right there (a pending checkout is waiting, so nothing to buy twice).
            assert "Super Follow · $4.99/month" in page
        assert not Participant.objects.filter(space=space, user=stranger).exists()

    def test_the_hosts_invited_speakers_and_cohosts_get_in_without_super_following(self, client):
        creator = make_creator()
        space = super_followers_space(creator)
        invited, cohost = UserFactory(), UserFactory()
        Invitation.objects.create(space=space, user=invited, role=Role.SPEAKER, invited_by=creator)
        seat(space, cohost, Role.COHOST)
        for person in (invited, cohost):
            client.force_login(person)
            assert client.get(space.get_absolute_url()).status_code == 200

    def test_a_removed_super_follower_stays_out(self, client):
        creator = make_creator()
        space = super_followers_space(creator)
        fan = UserFactory()
        super_follow(fan, creator)
        seat(space, fan, removed_at=timezone.now())
        client.force_login(fan)
        response = client.get(space.get_absolute_url())
        assert response.status_code == 403
        assert b"You were removed from this Space." in response.content

    def test_a_super_follow_of_someone_else_does_not_count(self, client):
        creator, other = make_creator(), make_creator("eli")
        space = super_followers_space(creator)
        fan = UserFactory()
        super_follow(fan, other)
        client.force_login(fan)
        assert client.get(space.get_absolute_url()).status_code == 403

    def test_public_spaces_are_unchanged(self, client):
        space = LiveSpaceFactory(host=make_creator())
        client.force_login(UserFactory())
        assert client.get(space.get_absolute_url()).status_code == 200


# --- the socket, through the whole site's ASGI stack (session cookie, origin check, auth) --------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
class TestRoomSocket:
    async def test_super_follower_joins_and_a_stranger_is_closed_with_4403(self):
        creator = await database_sync_to_async(make_creator)()
        space = await database_sync_to_async(super_followers_space)(creator)
        fan, stranger = await database_sync_to_async(UserFactory.create_batch)(2)
        await database_sync_to_async(super_follow)(fan, creator)

        fan_socket = await site_socket(fan, space.pk)
        welcome = await fan_socket.receive_json_from(timeout=3)
        assert welcome["type"] == "welcome" and welcome["me"]["user_id"] == fan.pk

        refused = await site_socket(stranger, space.pk)
        event = await refused.receive_json_from(timeout=3)
        assert (event["type"], event["code"], event["close_code"]) == ("error", "refused", 4403)
        assert event["message"] == "This Space is for @dana's Super Followers. Super Follow @dana to join."
        assert await closed_with(refused) == 4403
        assert not await database_sync_to_async(Participant.objects.filter(user=stranger).exists)()
        await fan_socket.disconnect()

    async def test_a_lapsed_super_follower_cannot_reconnect(self):
        creator = await database_sync_to_async(make_creator)()
        space = await database_sync_to_async(super_followers_space)(creator)
        fan = await database_sync_to_async(UserFactory)()
        subscription = await database_sync_to_async(super_follow)(fan, creator)
        first = await site_socket(fan, space.pk)
        assert (await first.receive_json_from(timeout=3))["type"] == "welcome"
        await first.disconnect()

        await database_sync_to_async(SuperFollowSubscription.objects.filter(pk=subscription.pk).update)(
            status=Status.CANCELED
        )
        again = await site_socket(fan, space.pk)
        assert (await again.receive_json_from(timeout=3))["close_code"] == 4403
        assert await closed_with(again) == 4403

    async def test_pinning_a_super_followers_post_in_a_public_space_is_an_error_and_leaks_nothing(self):
        creator = await database_sync_to_async(make_creator)()
        space = await database_sync_to_async(LiveSpaceFactory)(host=creator)
        secret = await database_sync_to_async(PostFactory)(
            author=creator, body="the secret setlist", audience=Post.Audience.SUPER_FOLLOWERS
        )
        host_socket = await site_socket(creator, space.pk)
        assert (await host_socket.receive_json_from(timeout=3))["type"] == "welcome"
        await host_socket.send_json_to({"type": "pin", "post_id": secret.pk})
        error = await next_of(host_socket, "error")
        assert (error["code"], error["ref"]) == ("invalid", "pin")
        assert "Super Followers" in error["message"] and "secret setlist" not in error["message"]
        assert not await database_sync_to_async(PinnedPost.objects.exists)()
        await host_socket.disconnect()


# --- who may schedule or start a Space for Super Followers -----------------------------------------------


@pytest.mark.django_db
class TestHosting:
    def test_enrolled_creator_schedules_a_space_for_super_followers(self, client):
        creator = make_creator()
        client.force_login(creator)
        response = client.post(reverse("rooms:new"), schedule_data())
        space = Space.objects.get(host=creator)
        assert response.status_code == 302
        assert space.audience == Space.Audience.SUPER_FOLLOWERS

    @pytest.mark.parametrize(
        "profile", [False, {"super_follows_enrolled_at": None}], ids=["no creator profile", "not enrolled"]
    )
    def test_a_host_not_enrolled_gets_a_field_error_and_nothing_is_created(self, client, profile):
        host = make_creator(profile=profile)
        client.force_login(host)
        for start in ("later", "now"):
            response = client.post(reverse("rooms:new"), schedule_data(start=start))
            assert response.status_code == 422
            errors = response.context["form"].errors["audience"]
            assert errors == [
                "Only creators enrolled in Super Follows can host a Space for Super Followers; "
                "enrol on your creator page."
            ]
        assert not Space.objects.exists()

    def test_a_forged_audience_is_a_field_error(self, client):
        creator = make_creator()
        client.force_login(creator)
        response = client.post(reverse("rooms:new"), schedule_data(audience="ticketed"))
        assert response.status_code == 422
        assert "Select a valid choice" in response.context["form"].errors["audience"][0]
        assert not Space.objects.exists()

    def test_the_service_refuses_a_host_not_enrolled(self):
        host = make_host()
        with pytest.raises(ValidationError, match="enrolled in Super Follows"):
            room_services.space_create(host=host, title="Backstage", audience=Space.Audience.SUPER_FOLLOWERS)
        assert not Space.objects.exists()

    def test_a_host_whose_enrolment_ended_cannot_start_the_scheduled_space(self, client):
        creator = make_creator()
        space = SpaceFactory(host=creator, audience=Space.Audience.SUPER_FOLLOWERS)
        CreatorProfile.objects.filter(user=creator).update(super_follows_enrolled_at=None)
        client.force_login(creator)
        response = client.post(reverse("rooms:start", args=[space.pk]), follow=True)
        assert "enrolled in Super Follows" in response.content.decode()
        space.refresh_from_db()
        assert space.state == Space.State.SCHEDULED

    def test_the_form_offers_both_audiences(self, client):
        client.force_login(make_creator())
        page = client.get(reverse("rooms:new")).content.decode()
        assert 'value="public"' in page and 'value="super_followers"' in page


# --- pins never show a post to an audience that could not read it ------------------------------------


@pytest.mark.django_db
class TestPins:
    def test_the_authors_super_followers_space_can_pin_it_for_everyone_in_it(self):
        creator = make_creator()
        space = super_followers_space(creator)
        post = PostFactory(author=creator, audience=Post.Audience.SUPER_FOLLOWERS)
        pin = room_services.pin_create(space=space, by=creator, post=post)
        assert pin.post == post

    @pytest.mark.parametrize("where", ["public", "ticketed", "someone else's super followers"])
    def test_nowhere_else(self, where):
        creator = make_creator()
        post = PostFactory(author=creator, audience=Post.Audience.SUPER_FOLLOWERS)
        if where == "someone else's super followers":
            space = super_followers_space(make_creator("eli"))
            pinner = space.host
            super_follow(pinner, creator)  # the pinner may read it; the room's audience may not
        else:
            space = LiveSpaceFactory(host=creator, audience=where)
            pinner = creator
        with pytest.raises(ValidationError, match="only be pinned in @dana's Spaces for Super Followers"):
            room_services.pin_create(space=space, by=pinner, post=post)
        assert not PinnedPost.objects.exists()

    def test_a_speaker_who_cannot_read_the_post_cannot_pin_it(self):
        creator = make_creator()
        space = super_followers_space(creator)
        speaker = UserFactory()
        seat(space, speaker, Role.SPEAKER)
        post = PostFactory(author=make_creator("eli"), audience=Post.Audience.SUPER_FOLLOWERS)
        with pytest.raises(ValidationError) as refused:
            room_services.pin_create(space=space, by=speaker, post=post)
        assert refused.value.messages == ["That post is not available."]
        assert not PinnedPost.objects.exists()

    def test_public_posts_pin_anywhere(self):
        creator = make_creator()
        post = PostFactory(author=UserFactory())
        for space in (super_followers_space(creator), LiveSpaceFactory(host=make_creator("eli"))):
            room_services.pin_create(space=space, by=space.host, post=post)
        assert PinnedPost.objects.count() == 2


# --- the Super Follower badge: one query per page --------------------------------------------------------


@pytest.mark.django_db
class TestBadge:
    def test_the_host_sees_which_participants_super_follow_them(self, client):
        creator = make_creator()
        space = LiveSpaceFactory(host=creator)
        fans = UserFactory.create_batch(3)
        for fan in fans:
            super_follow(fan, creator)
        super_follow(UserFactory(), creator, Status.CANCELED)
        client.force_login(creator)
        response = client.get(space.get_absolute_url())
        assert response.status_code == 200
        ids = response.content.decode().split('<script id="super-follower-ids" type="application/json">')[1]
        assert sorted(map(int, ids.split("</script>")[0].strip("[]").split(","))) == sorted(f.pk for f in fans)

    def test_listeners_pages_do_not_carry_the_list(self, client):
        creator = make_creator()
        space = LiveSpaceFactory(host=creator)
        fan = UserFactory()
        super_follow(fan, creator)
        client.force_login(fan)
        assert b"super-follower-ids" not in client.get(space.get_absolute_url()).content

    def test_notifications_mark_super_followers_in_one_query_per_page(self, client):
        creator = make_creator()
        client.force_login(creator)

        def notified_by(count: int) -> list:
            actors = UserFactory.create_batch(count)
            for actor in actors[::2]:
                super_follow(actor, creator)
            for actor in actors:
                Notification.objects.create(recipient=creator, actor=actor, kind="follow", text=f"@{actor.username} hi")
            return actors

        def badged_page() -> tuple[set[str], int]:
            with CaptureQueriesContext(connection) as queries:
                page = client.get(reverse("accounts:notifications")).content.decode()
            listing = page.split('<ul class="notifications">')[1].split("</ul>")[0]
            items = {item.split(" hi")[0].rsplit("@", 1)[1]: item for item in listing.split("<li")[1:]}
            return {name for name, item in items.items() if "Super Follower</span>" in item}, len(queries)

        few = notified_by(2)
        badged, few_queries = badged_page()
        assert badged == {few[0].username}
        many = few + notified_by(28)
        badged, many_queries = badged_page()
        assert badged == {actor.username for actor in many if actor.super_follows.exists()}
        assert len(badged) == 15
        assert many_queries == few_queries

    def test_the_creators_timeline_marks_their_super_followers(self, client):
        creator = make_creator()
        fan, plain = UserFactory(username="fan"), UserFactory(username="plain")
        super_follow(fan, creator)
        for person in (fan, plain):
            account_services.follow_create(follower=creator, followee=person)
            account_services.post_create(author=person, body=f"hello from {person.username}")
        client.force_login(creator)
        page = client.get("/").content.decode()
        fan_post = page.split("hello from fan")[0].rsplit('<article class="post"', 1)[1]
        plain_post = page.split("hello from plain")[0].rsplit('<article class="post"', 1)[1]
        assert "Super Follower</span>" in fan_post
        assert "Super Follower</span>" not in plain_post

    def test_nobody_else_sees_the_badge(self, client):
        creator = make_creator()
        fan, other = UserFactory(), UserFactory()
        super_follow(fan, creator)
        account_services.follow_create(follower=other, followee=fan)
        account_services.post_create(author=fan, body="hello")
        client.force_login(other)
        assert b"Super Follower</span>" not in client.get("/").content
