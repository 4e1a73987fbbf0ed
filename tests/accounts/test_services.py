import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import Block, Follow, Message, Notification, Post, Report
from tests.accounts.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_follow_updates_both_counts_and_notifies(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.following_count, bob.followers_count) == (1, 1)
    note = Notification.objects.get(recipient=bob)
    assert note.kind == Notification.Kind.FOLLOW and note.actor == alice


def test_unfollowing_and_following_again_does_not_notify_twice(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    services.follow_delete(follower=alice, followee=bob)
    services.follow_create(follower=alice, followee=bob)
    assert Notification.objects.filter(recipient=bob, kind=Notification.Kind.FOLLOW).count() == 1
    bob.refresh_from_db()
    assert bob.followers_count == 1


def test_following_yourself_is_refused(alice):
    with pytest.raises(ValidationError, match="can't follow yourself"):
        services.follow_create(follower=alice, followee=alice)
    assert not Follow.objects.exists()


def test_following_twice_is_refused_and_counts_stay(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    with pytest.raises(ValidationError, match="already follow"):
        services.follow_create(follower=alice, followee=bob)
    bob.refresh_from_db()
    assert bob.followers_count == 1
    assert Follow.objects.count() == 1


def test_unfollow_updates_counts_once(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    assert services.follow_delete(follower=alice, followee=bob) is True
    assert services.follow_delete(follower=alice, followee=bob) is False
    bob.refresh_from_db()
    assert bob.followers_count == 0


def test_block_removes_follows_both_ways(alice, bob):
    services.follow_create(follower=alice, followee=bob)
    services.follow_create(follower=bob, followee=alice)
    services.block_create(blocker=alice, blocked=bob)
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert not Follow.objects.exists()
    assert (alice.followers_count, alice.following_count, bob.followers_count, bob.following_count) == (0, 0, 0, 0)


@pytest.mark.parametrize("direction", ["blocked_follows_blocker", "blocker_follows_blocked"])
def test_blocked_accounts_cannot_follow_either_way(alice, bob, direction):
    services.block_create(blocker=alice, blocked=bob)
    follower, followee = (bob, alice) if direction == "blocked_follows_blocker" else (alice, bob)
    with pytest.raises(ValidationError):
        services.follow_create(follower=follower, followee=followee)
    assert not Follow.objects.exists()


def test_blocking_yourself_is_refused(alice):
    with pytest.raises(ValidationError):
        services.block_create(blocker=alice, blocked=alice)
    assert not Block.objects.exists()


def test_post_body_is_stripped_and_limited(alice):
    post = services.post_create(author=alice, body="  hello  ")
    assert post.body == "hello"
    with pytest.raises(ValidationError, match="can't be empty"):
        services.post_create(author=alice, body="   ")
    with pytest.raises(ValidationError, match="at most 280"):
        services.post_create(author=alice, body="x" * 281)
    assert Post.objects.count() == 1


def test_only_the_author_deletes_a_post(alice, bob):
    post = PostFactory(author=alice)
    with pytest.raises(PermissionDenied):
        services.post_delete(post=post, by=bob)
    services.post_delete(post=post, by=alice)
    assert not Post.objects.exists()


def test_report_on_a_post_must_match_its_author(alice, bob, charlie):
    post = PostFactory(author=bob)
    with pytest.raises(ValidationError):
        services.report_create(reporter=alice, reported_user=charlie, post=post, reason="spam")
    report = services.report_create(reporter=alice, reported_user=bob, post=post, reason="spam", details=" bot ")
    assert report.status == Report.Status.OPEN and report.details == "bot"


def test_reporting_yourself_or_without_a_reason_is_refused(alice, bob):
    with pytest.raises(ValidationError):
        services.report_create(reporter=alice, reported_user=alice, reason="spam")
    with pytest.raises(ValidationError):
        services.report_create(reporter=alice, reported_user=bob, reason="because")
    assert not Report.objects.exists()


def test_messages_share_one_conversation_per_pair(alice, bob):
    first = services.message_send(sender=alice, recipient=bob, body="hi bob")
    reply = services.message_send(sender=bob, recipient=alice, body="hi alice")
    assert first.conversation_id == reply.conversation_id
    assert services.conversation_mark_read(conversation=first.conversation, user=bob) == 1
    assert Message.objects.filter(read_at__isnull=True).count() == 1


def test_messaging_someone_who_blocked_you_is_refused(alice, bob):
    services.block_create(blocker=bob, blocked=alice)
    with pytest.raises(ValidationError, match="isn't accepting messages"):
        services.message_send(sender=alice, recipient=bob, body="hello?")
    with pytest.raises(ValidationError, match="unblock them"):
        services.message_send(sender=bob, recipient=alice, body="hello?")
    assert not Message.objects.exists()


def test_empty_or_long_messages_are_refused(alice, bob):
    with pytest.raises(ValidationError):
        services.message_send(sender=alice, recipient=bob, body=" ")
    with pytest.raises(ValidationError):
        services.message_send(sender=alice, recipient=bob, body="x" * 1001)
    with pytest.raises(ValidationError):
        services.message_send(sender=alice, recipient=alice, body="me")
    assert not Message.objects.exists()


def test_notifications_are_created_in_bulk_and_marked_read(alice, bob, charlie):
    count = services.notification_create_many(
        recipient_ids=[bob.pk, charlie.pk], kind=Notification.Kind.SPACE_LIVE, text="Alice is live", actor=alice
    )
    assert count == 2
    first = Notification.objects.get(recipient=bob)
    assert services.notifications_mark_read(user=bob, ids=[first.pk]) == 1
    assert services.notifications_mark_read(user=bob) == 0
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
