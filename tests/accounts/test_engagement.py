"""Conversations around posts: likes, replies, reposts and quotes, mentions and hashtags, each
notifying once, and every one of them respecting blocks and Super Followers audiences."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import engagement, selectors, services
from accounts.models import Follow, Like, Notification, Post
from accounts.text import hashtag_names, mentioned_usernames, render_post_text
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def bob_post(bob) -> Post:
    return services.post_create(author=bob, body="Synth night at nine")


def notifications_of(user, kind) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=kind))


# --- likes ------------------------------------------------------------------------------------------


def test_likes_notify_the_author_once_naming_the_latest_and_counting_the_others(bob, bob_post):
    ana = UserFactory(display_name="Ana")
    engagement.like_create(user=ana, post=bob_post)
    assert [n.text for n in notifications_of(bob, "like")] == ["Ana liked your post “Synth night at nine”"]

    for person in UserFactory.create_batch(11):
        engagement.like_create(user=person, post=bob_post)
    last = UserFactory(display_name="Zed")
    engagement.like_create(user=last, post=bob_post)

    (notification,) = notifications_of(bob, "like")
    assert notification.text.startswith("Zed and 12 others liked your post")
    assert notification.actor == last and notification.read_at is None
    bob_post.refresh_from_db()
    assert bob_post.likes_count == 13


def test_unliking_and_liking_again_counts_once_and_does_not_notify_again(alice, bob, bob_post):
    engagement.like_create(user=alice, post=bob_post)
    engagement.like_create(user=alice, post=bob_post)  # a second like changes nothing
    services.notifications_mark_read(user=bob)
    engagement.like_delete(user=alice, post=bob_post)
    post = engagement.like_create(user=alice, post=bob_post)
    assert post.likes_count == 1 and Like.objects.count() == 1
    (notification,) = notifications_of(bob, "like")
    assert notification.read_at is not None


def test_liking_your_own_post_does_not_notify_you(bob, bob_post):
    engagement.like_create(user=bob, post=bob_post)
    assert notifications_of(bob, "like") == []


def test_like_button_over_htmx_toggles_and_counts(alice_client, bob_post):
    url = reverse("accounts:post_like", args=[bob_post.pk])
    response = alice_client.post(url, **HTMX)
    assert response.status_code == 200
    assert 'aria-pressed="true"' in response.text and "Like, 1 so far" in response.text
    response = alice_client.post(reverse("accounts:post_unlike", args=[bob_post.pk]), **HTMX)
    assert "Like, 0 so far" in response.text and 'aria-pressed="false"' in response.text.split("Like,")[0][-80:]


# --- replies ----------------------------------------------------------------------------------------


def test_replies_form_a_thread_on_the_post_page_with_counts(alice_client, alice, bob, charlie, bob_post):
    first = engagement.reply_create(author=alice, to=bob_post, body="I'll be there")
    engagement.reply_create(author=charlie, to=first, body="Me too, save a seat")
    bob_post.refresh_from_db()
    assert bob_post.replies_count == 1

    response = alice_client.get(first.get_absolute_url())
    assert response.status_code == 200
    assert [p.pk for p in response.context["above"]] == [bob_post.pk]
    assert [p.body for p in response.context["replies"]] == ["Me too, save a seat"]
    assert "Replying to" in response.text and "Synth night at nine" in response.text


def test_replying_through_the_page_posts_and_notifies_once(alice_client, alice, bob, charlie, bob_post):
    response = alice_client.post(reverse("accounts:post_reply", args=[bob_post.pk]), {"body": "Count me in"})
    assert response.status_code == 302
    engagement.reply_create(author=charlie, to=bob_post, body="Same")
    engagement.reply_create(author=alice, to=bob_post, body="Bringing snacks")
    (notification,) = notifications_of(bob, "reply")
    assert notification.text.startswith("Alice and 1 other replied to your post")
    bob_post.refresh_from_db()
    assert bob_post.replies_count == 3


def test_an_empty_reply_is_a_field_error(alice_client, bob_post):
    response = alice_client.post(reverse("accounts:post_reply", args=[bob_post.pk]), {"body": "  "})
    assert response.status_code == 422
    assert "A reply can&#x27;t be empty." in response.text


def test_deleting_a_reply_lowers_the_count(alice, bob_post):
    reply = engagement.reply_create(author=alice, to=bob_post, body="oops")
    services.post_delete(post=reply, by=alice)
    bob_post.refresh_from_db()
    assert bob_post.replies_count == 0


# --- reposts and quotes -----------------------------------------------------------------------------


def test_a_repost_reaches_followers_timelines_with_attribution(client, alice, bob, charlie):
    services.follow_create(follower=alice, followee=bob)
    original = services.post_create(author=charlie, body="Charlie's hot take")
    engagement.repost_create(author=bob, post=original)
    client.force_login(alice)
    response = client.get("/")
    assert "Charlie&#x27;s hot take" in response.text
    assert "Bob</a> reposted" in response.text
    original.refresh_from_db()
    assert original.reposts_count == 1
    assert notifications_of(charlie, "repost")[0].text.startswith("Bob reposted your post")


def test_reposting_twice_is_refused_and_undo_lowers_the_count(bob, charlie):
    original = services.post_create(author=charlie, body="once")
    repost = engagement.repost_create(author=bob, post=original)
    with pytest.raises(ValidationError, match="already reposted"):
        engagement.repost_create(author=bob, post=repost)  # reposting the repost is reposting the original
    assert engagement.repost_delete(author=bob, post=original)
    original.refresh_from_db()
    assert original.reposts_count == 0 and not Post.objects.filter(repost_of=original).exists()


def test_a_quote_shows_the_comment_and_the_quoted_post(client, alice, bob, charlie):
    services.follow_create(follower=alice, followee=bob)
    original = services.post_create(author=charlie, body="Vinyl beats streaming")
    client.force_login(bob)
    response = client.post(reverse("accounts:post_quote", args=[original.pk]), {"body": "Strong disagree"})
    assert response.status_code == 302
    client.force_login(alice)
    page = client.get("/").text
    assert "Strong disagree" in page and 'class="quoted"' in page and "Vinyl beats streaming" in page
    assert notifications_of(charlie, "quote")[0].text.startswith("Bob quoted your post")


def test_a_quote_without_a_comment_is_a_field_error(alice_client, bob_post):
    response = alice_client.post(reverse("accounts:post_quote", args=[bob_post.pk]), {"body": ""})
    assert response.status_code == 422
    assert "to share as is, repost" in response.text


# --- mentions and hashtags --------------------------------------------------------------------------


def test_text_is_escaped_before_mentions_hashtags_and_links_are_made():
    html = render_post_text(
        '<script>alert(1)</script> hi @bob, see #SynthNight at https://ex.com/a?b=1&c="x" mail a@b.io'
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a class="mention" href="/@bob/">@bob</a>,' in html
    assert '<a class="hashtag" href="/tags/synthnight/">#SynthNight</a>' in html
    assert 'href="https://ex.com/a?b=1&amp;c=' in html
    assert "a@b.io" in html and 'href="/@b.io/"' not in html


def test_mentions_and_hashtags_are_found_once_each():
    assert mentioned_usernames("@Bob and @bob. and @carol-x!") == ["Bob", "carol-x"]
    assert hashtag_names("#Jazz #jazz #1 #late_night x#not") == ["jazz", "late_night"]


def test_mentions_notify_each_person_once_and_unknown_names_are_ignored(alice, bob, charlie):
    post = services.post_create(author=alice, body="Thanks @bob and @BOB and @charlie and @nobody!")
    assert [n.text for n in notifications_of(bob, "mention")] == [
        "Alice (@alice) mentioned you: “Thanks @bob and @BOB and @charlie and @nobody!”"
    ]
    assert notifications_of(charlie, "mention")[0].url == post.get_absolute_url()


def test_the_hashtag_page_lists_tagged_posts(client, alice, bob):
    services.post_create(author=alice, body="Tonight: #SynthNight live")
    services.post_create(author=bob, body="no tag here")
    response = client.get(reverse("accounts:hashtag", args=["synthnight"]))
    assert response.status_code == 200
    assert [p.body for p in response.context["page"].items] == ["Tonight: #SynthNight live"]
    assert "<h1>#synthnight</h1>" in response.text


# --- blocks ------------------------------------------------------------------------------------------


def like(user, post):
    return engagement.like_create(user=user, post=post)


def reply(user, post):
    return engagement.reply_create(author=user, to=post, body="hey")


def repost(user, post):
    return engagement.repost_create(author=user, post=post)


def quote(user, post):
    return engagement.quote_create(author=user, post=post, body="look")


@pytest.mark.parametrize("act", [like, reply, repost, quote])
@pytest.mark.parametrize("blocker", ["author", "actor"])
def test_nobody_acts_on_posts_across_a_block(alice, bob, bob_post, act, blocker):
    if blocker == "author":
        services.block_create(blocker=bob, blocked=alice)
    else:
        services.block_create(blocker=alice, blocked=bob)
    with pytest.raises(ValidationError, match="can't"):
        act(alice, bob_post)
    assert Notification.objects.filter(recipient=bob).exclude(kind="follow").count() == 0


def test_a_blocked_person_is_not_notified_of_mentions(alice, bob):
    services.block_create(blocker=bob, blocked=alice)
    services.post_create(author=alice, body="hello @bob")
    assert notifications_of(bob, "mention") == []


@pytest.mark.parametrize("blocker", ["author", "reader"])
def test_the_hashtag_page_hides_posts_across_a_block(client, alice, bob, charlie, blocker):
    services.post_create(author=bob, body="from bob #synthnight")
    services.post_create(author=charlie, body="from charlie #synthnight")
    if blocker == "author":
        services.block_create(blocker=bob, blocked=alice)
    else:
        services.block_create(blocker=alice, blocked=bob)
    client.force_login(alice)
    response = client.get(reverse("accounts:hashtag", args=["synthnight"]))
    assert [p.body for p in response.context["page"].items] == ["from charlie #synthnight"]
    assert "from bob" not in response.text


def test_replies_and_reposts_across_a_block_are_hidden(client, alice, bob, charlie, bob_post):
    services.follow_create(follower=alice, followee=charlie)
    engagement.reply_create(author=charlie, to=bob_post, body="charlie answers bob")
    engagement.repost_create(author=charlie, post=bob_post)
    services.block_create(blocker=bob, blocked=alice)
    assert selectors.replies_to(post=bob_post, viewer=alice) == []
    assert selectors.timeline_for(user=alice).items == []
    client.force_login(alice)
    assert "Synth night" not in client.get("/").text


# --- Super Followers audiences -------------------------------------------------------------------------


@pytest.fixture
def sf(monkeypatch, bob, alice):
    """Bob is enrolled in Super Follows; Alice super-follows him; Charlie only follows him."""
    from accounts import audience

    monkeypatch.setattr(
        audience,
        "_super_follows",
        audience.SuperFollows(
            creator_ids_of=lambda user: Follow.objects.filter(follower=user, follower__username="alice").values(
                "followee_id"
            ),
            is_enrolled=lambda user: user.username == "bob",
        ),
    )
    Follow.objects.create(follower=alice, followee=bob)
    return services.post_create(author=bob, body="secret @charlie #backstage", audience="super_followers")


def test_only_readers_like_or_reply_to_posts_for_super_followers(sf, alice, charlie):
    Follow.objects.create(follower=charlie, followee=sf.author)
    for act in (like, reply):
        with pytest.raises(ValidationError, match="can't see"):
            act(charlie, sf)
    like(alice, sf)
    reply(alice, sf)
    assert notifications_of(charlie, "mention") == []  # mentioned, but may not read it


@pytest.mark.parametrize("act", [repost, quote])
def test_posts_for_super_followers_are_never_reposted_or_quoted(sf, alice, act):
    with pytest.raises(ValidationError, match="can't be reposted or quoted"):
        act(alice, sf)


def test_a_reply_under_a_post_for_super_followers_stays_with_its_readers(client, sf, alice, charlie):
    answer = engagement.reply_create(author=alice, to=sf, body="alice's answer")
    Follow.objects.create(follower=charlie, followee=alice)
    assert selectors.timeline_for(user=charlie).items == []
    assert [p.pk for p in selectors.timeline_for(user=alice).items][:1] == [answer.pk]
    assert selectors.posts_by(author=alice, viewer=charlie).items == []
    assert selectors.posts_tagged(name="backstage", viewer=charlie).items == []
    assert [p.pk for p in selectors.posts_tagged(name="backstage", viewer=alice).items] == [sf.pk]
    client.force_login(charlie)
    assert client.get(answer.get_absolute_url()).status_code == 403
