import pytest

from accounts import engagement, selectors, services
from accounts.models import Follow, Post, User
from accounts.pagination import BadCursor
from tests.accounts.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_timeline_has_followed_and_own_posts_newest_first(alice, bob, charlie):
    services.follow_create(follower=alice, followee=bob)
    own = services.post_create(author=alice, body="mine")
    followed = services.post_create(author=bob, body="from bob")
    services.post_create(author=charlie, body="stranger")
    page = selectors.timeline_for(user=alice)
    assert [p.body for p in page.items] == [followed.body, own.body]


def test_timeline_cursor_walks_every_post_once(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    posts = PostFactory.create_batch(7, author=bob)
    seen, cursor = [], None
    while True:
        page = selectors.timeline_for(user=alice, cursor=cursor, limit=3)
        seen += [p.pk for p in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(p.pk for p in posts)
    assert len(seen) == len(set(seen)) == 7


def test_broken_cursor_is_rejected(alice):
    with pytest.raises(BadCursor):
        selectors.timeline_for(user=alice, cursor="not-a-cursor")


def test_blocker_posts_leave_the_blocked_timeline(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    services.post_create(author=bob, body="bob speaks")
    services.block_create(blocker=bob, blocked=alice)
    assert selectors.timeline_for(user=alice).items == []


@pytest.mark.parametrize("follows", [10, 500])
def test_home_timeline_queries_do_not_grow_with_follows(client, alice, follows, django_assert_max_num_queries):
    """The page holds posts, replies, reposts and quotes, some liked and reposted by the reader; the
    number of queries is the same at 10 and 500 follows."""
    others = UserFactory.create_batch(follows)
    Follow.objects.bulk_create([Follow(follower=alice, followee=u) for u in others])
    Post.objects.bulk_create(
        [Post(author=u, body=f"post {n} by {u.username} #tag @alice") for u in others for n in range(3)]
    )
    recent = list(Post.objects.order_by("-pk")[:12])
    for n, post in enumerate(recent[:4]):
        engagement.like_create(user=alice, post=post)
        engagement.reply_create(author=others[n], to=post, body=f"reply {n} to @{post.author.username}")
        engagement.repost_create(author=others[-1 - n], post=post)
        engagement.quote_create(author=others[n + 1], post=recent[n + 4], body=f"quoting {n}")
    engagement.repost_create(author=alice, post=recent[8])
    client.force_login(alice)
    # Who to follow takes three small queries (the reader's follows, the friends' counts, the people), not one
    # that read a famous candidate's every follower.
    with django_assert_max_num_queries(12) as captured:
        response = client.get("/")
    assert response.status_code == 200
    items = response.context["page"].items
    assert len(items) == 20
    assert {"reply", "repost", "quote"} <= {
        "reply" if p.reply_to_id else "repost" if p.is_plain_repost else "quote" if p.repost_of_id else "post"
        for p in items
    }
    assert response.text.count('aria-pressed="true"') >= 2
    assert sum('FROM "accounts_post"' in q["sql"] for q in captured) == 1
    print(f"home timeline at {follows} follows: {len(captured)} queries")


def test_relationship_reports_every_direction(alice, bob):
    services.follow_create(follower=bob, followee=alice)
    services.block_create(blocker=alice, blocked=bob)
    rel = selectors.relationship_between(viewer=alice, other=bob)
    assert rel.blocking and not rel.blocked_by and not rel.following and not rel.followed_by
    assert selectors.relationship_between(viewer=bob, other=alice).blocked_by


def test_relationship_reads_each_pair_whatever_the_other_follows(alice, bob, charlie):
    services.follow_create(follower=alice, followee=bob)
    services.follow_create(follower=bob, followee=alice)
    services.follow_create(follower=charlie, followee=bob)
    assert selectors.relationship_between(viewer=alice, other=bob) == selectors.Relationship(
        following=True, followed_by=True
    )
    assert selectors.relationship_between(viewer=charlie, other=alice) == selectors.Relationship()


def test_follower_lists_leave_out_suspended_accounts(alice, bob, charlie):
    for person in (bob, charlie):
        services.follow_create(follower=person, followee=alice)
        services.follow_create(follower=alice, followee=person)
    User.objects.filter(pk=charlie.pk).update(is_active=False)
    assert list(selectors.followers_of(user=alice)) == [bob]
    assert list(selectors.following_of(user=alice)) == [bob]


def test_inbox_counts_unread_per_conversation(alice, bob, charlie):
    services.message_send(sender=bob, recipient=alice, body="one")
    services.message_send(sender=bob, recipient=alice, body="two")
    services.message_send(sender=charlie, recipient=alice, body="three")
    services.message_send(sender=alice, recipient=charlie, body="reply")
    unread = {c.other(alice).username: (c.unread or 0, c.last_body) for c in selectors.inbox_for(user=alice)}
    assert unread == {"bob": (2, "two"), "charlie": (1, "reply")}
    assert selectors.unread_message_count(user_id=alice.pk) == 3
