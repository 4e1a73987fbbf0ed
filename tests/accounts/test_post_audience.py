"""Posts for Super Followers only: who may write them, who reads them, and that nobody else ever gets the text."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import audience, selectors, services
from accounts.models import Follow, Post
from tests.accounts.factories import PostFactory, UserFactory
from tests.ticketing.factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory, make_creator
from ticketing.models import SuperFollowSubscription

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "the secret setlist for tonight"
Status = SuperFollowSubscription.Status


def super_follow(subscriber, creator, status=Status.ACTIVE) -> SuperFollowSubscription:
    plan = creator.super_follow_plans.first() or SuperFollowPlanFactory(creator=creator, price_cents=299)
    return SuperFollowSubscriptionFactory(subscriber=subscriber, plan=plan, status=status)


@pytest.fixture
def secret_post(creator) -> Post:
    return services.post_create(author=creator, body=SECRET, audience=Post.Audience.SUPER_FOLLOWERS)


@pytest.fixture
def fan(creator):
    """Follows the creator and super-follows them."""
    person = UserFactory(username="fan")
    services.follow_create(follower=person, followee=creator)
    super_follow(person, creator)
    return person


@pytest.fixture
def follower(creator):
    """Follows the creator but does not super-follow them."""
    person = UserFactory(username="plainfollower")
    services.follow_create(follower=person, followee=creator)
    return person


# --- writing ----------------------------------------------------------------------------------------


class TestWriting:
    def test_only_enrolled_creators_see_the_choice(self, client, creator):
        client.force_login(creator)
        assert b'name="audience"' in client.get("/").content
        not_enrolled = make_creator("eli", profile={"super_follows_enrolled_at": None})
        client.force_login(not_enrolled)
        assert b'name="audience"' not in client.get("/").content

    def test_enrolled_creator_posts_for_super_followers(self, client, creator):
        client.force_login(creator)
        response = client.post(reverse("accounts:post_create"), {"body": SECRET, "audience": "super_followers"})
        assert response.status_code == 302
        post = Post.objects.get(author=creator)
        assert post.audience == Post.Audience.SUPER_FOLLOWERS
        assert b"Super Followers only" in client.get("/").content

    def test_posting_without_the_choice_is_for_everyone(self, client, creator):
        client.force_login(creator)
        client.post(reverse("accounts:post_create"), {"body": "hello all"})
        assert Post.objects.get(author=creator).audience == Post.Audience.EVERYONE

    @pytest.mark.parametrize(
        "profile", [False, {"super_follows_enrolled_at": None}], ids=["no creator profile", "not enrolled"]
    )
    @pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
    def test_a_forged_audience_from_someone_not_enrolled_is_a_field_error(self, client, profile, headers):
        author = make_creator("eli", profile=profile)
        client.force_login(author)
        response = client.post(
            reverse("accounts:post_create"), {"body": SECRET, "audience": "super_followers"}, **headers
        )
        assert response.status_code == 422
        assert response.context["form"].errors["audience"] == [
            "Only creators enrolled in Super Follows can post for Super Followers."
        ]
        assert b"Only creators enrolled in Super Follows can post for Super Followers." in response.content
        assert SECRET.encode() in response.content  # what they typed is kept
        assert not Post.objects.exists()

    def test_an_unknown_audience_is_a_field_error(self, client, creator):
        client.force_login(creator)
        response = client.post(reverse("accounts:post_create"), {"body": SECRET, "audience": "friends"})
        assert response.status_code == 422
        assert "Select a valid choice" in response.context["form"].errors["audience"][0]
        assert not Post.objects.exists()

    def test_the_service_refuses_too(self):
        author = UserFactory()
        with pytest.raises(ValidationError, match="enrolled in Super Follows"):
            services.post_create(author=author, body=SECRET, audience=Post.Audience.SUPER_FOLLOWERS)
        with pytest.raises(ValidationError, match="Choose who can read"):
            services.post_create(author=author, body=SECRET, audience="friends")
        assert not Post.objects.exists()


# --- reading ------------------------------------------------------------------------------------------


class TestTimeline:
    def test_the_author_and_live_super_followers_see_it(self, creator, secret_post, fan):
        past_due = UserFactory()
        services.follow_create(follower=past_due, followee=creator)
        super_follow(past_due, creator, Status.PAST_DUE)
        for reader in (creator, fan, past_due):
            assert selectors.timeline_for(user=reader).items == [secret_post]

    @pytest.mark.parametrize("status", [None, Status.CANCELED, Status.PENDING, Status.EXPIRED])
    def test_other_followers_do_not_see_it_at_all(self, client, creator, secret_post, follower, status):
        if status is not None:
            super_follow(follower, creator, status)
        public = services.post_create(author=creator, body="for everyone")
        assert selectors.timeline_for(user=follower).items == [public]
        client.force_login(follower)
        page = client.get("/").content.decode()
        assert SECRET not in page and "for everyone" in page

    def test_a_super_follow_of_someone_else_does_not_count(self, creator, secret_post, follower):
        super_follow(follower, make_creator("eli"))
        assert selectors.timeline_for(user=follower).items == []

    def test_the_cursor_walks_readable_posts_only(self, creator, fan, follower):
        for n in range(5):
            services.post_create(author=creator, body=f"public {n}")
            services.post_create(author=creator, body=f"secret {n}", audience=Post.Audience.SUPER_FOLLOWERS)
        for reader, expected in ((fan, 10), (follower, 5)):  # the plain follower last
            seen, cursor = [], None
            while True:
                page = selectors.timeline_for(user=reader, cursor=cursor, limit=3)
                seen += [post.body for post in page.items]
                if not (cursor := page.next_cursor):
                    break
            assert len(set(seen)) == len(seen) == expected
        assert sum(body.startswith("secret") for body in seen) == 0  # the last reader is the plain follower

    def test_home_timeline_queries_stay_constant_with_super_follows(self, client):
        """Half the posts are for Super Followers; the reader super-follows a third of the creators. The
        number of queries is fixed by the page, not by how many accounts are followed or super-followed."""
        reader = UserFactory()
        client.force_login(reader)
        readable: set[int] = set()

        def follow_more(count: int) -> None:
            creators = [make_creator(f"c{Follow.objects.count()}x{n}") for n in range(count)]
            Follow.objects.bulk_create([Follow(follower=reader, followee=c) for c in creators])
            Post.objects.bulk_create(
                [
                    Post(author=c, body=f"post {n} by {c.username}", audience=["everyone", "super_followers"][n % 2])
                    for c in creators
                    for n in range(2)
                ]
            )
            for c in creators[::3]:
                super_follow(reader, c)
                readable.add(c.pk)

        def home() -> int:
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/")
            items = response.context["page"].items
            assert len(items) == 20
            assert all(p.audience == "everyone" or p.author_id in readable for p in items)
            assert any(p.audience == "super_followers" for p in items)
            assert sum('FROM "accounts_post"' in q["sql"] for q in queries) == 1
            return len(queries)

        follow_more(20)
        few = home()
        follow_more(300)
        many = home()
        print(f"home timeline: {few} queries at 20 follows, {many} at 320")
        assert many == few


class TestProfileAndPostPage:
    def test_others_see_a_locked_placeholder_and_never_the_text(self, client, creator, secret_post, follower):
        client.force_login(follower)
        page = client.get(creator.get_absolute_url()).content.decode()
        assert SECRET not in page
        assert "Super Follow @dana to see this post" in page
        assert f'id="post-{secret_post.pk}"' in page

    def test_anonymous_visitors_see_the_placeholder(self, client, creator, secret_post):
        page = client.get(creator.get_absolute_url()).content.decode()
        assert SECRET not in page and "Super Follow @dana to see this post" in page

    def test_the_locked_posts_text_does_not_even_leave_the_database(self, creator, secret_post, follower):
        with CaptureQueriesContext(connection) as queries:
            page = selectors.posts_by(author=creator, viewer=follower)
        assert [(p.pk, p.locked, p.body) for p in page.items] == [(secret_post.pk, True, "")]
        assert SECRET not in str(page.items[0].__dict__)
        assert len(queries) <= 2

    def test_super_followers_and_the_author_read_it_on_the_profile(self, client, creator, secret_post, fan):
        for reader in (fan, creator):
            client.force_login(reader)
            page = client.get(creator.get_absolute_url()).content.decode()
            assert SECRET in page and "to see this post" not in page

    def test_the_post_page_is_locked_for_others(self, client, creator, secret_post, follower, fan):
        url = secret_post.get_absolute_url()
        for viewer in (None, follower):
            client.logout()
            if viewer:
                client.force_login(viewer)
            response = client.get(url)
            assert response.status_code == 403
            assert SECRET not in response.content.decode()
            assert "Super Follow @dana to see this post" in response.content.decode()
        client.force_login(fan)
        response = client.get(url)
        assert response.status_code == 200 and SECRET in response.content.decode()

    def test_reporting_a_post_you_cannot_read_shows_nothing(self, client, creator, secret_post, follower):
        client.force_login(follower)
        response = client.get(reverse("accounts:report", args=[creator.username]) + f"?post={secret_post.pk}")
        assert response.status_code == 404
        assert SECRET not in response.content.decode()

    def test_the_profile_offers_the_super_follow_plans(self, client, creator, follower):
        SuperFollowPlanFactory(creator=creator, price_cents=499)
        client.force_login(follower)
        assert "Super Follow · $4.99/month" in client.get(creator.get_absolute_url()).content.decode()


def test_without_a_super_follows_provider_only_the_author_reads(monkeypatch, creator, secret_post, fan):
    monkeypatch.setattr(audience, "_super_follows", None)
    assert selectors.timeline_for(user=fan).items == []
    assert selectors.timeline_for(user=creator).items == [secret_post]
    assert not audience.can_read(post=secret_post, viewer=fan)
    assert not audience.may_write_for_super_followers(author=creator)


def test_posts_for_everyone_are_readable_by_everyone(creator):
    post = PostFactory(author=creator)
    stranger = UserFactory()
    assert audience.can_read(post=post, viewer=stranger)
    assert selectors.posts_by(author=creator, viewer=stranger).items[0].body == post.body
