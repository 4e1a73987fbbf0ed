import pytest
from django.core.management import call_command

from accounts.models import Follow, Post, Report, User

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_network_once():
    call_command("seed_demo")
    counts = (User.objects.count(), Follow.objects.count(), Post.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Follow.objects.count(), Post.objects.count()) == counts
    host, creator = User.objects.get(username="maya"), User.objects.get(username="leo")
    assert 600 <= host.followers_count < 700
    assert 1000 <= creator.followers_count < 1300
    assert host.followers_count == Follow.objects.filter(followee=host).count()
    assert User.objects.count() > 300
    assert host.check_password("spaces-demo-2026")
    # Moderation can be tried: a staff account, and a report for it to act on.
    assert User.objects.get(username="staff").is_staff
    assert Report.objects.filter(reported_user__username="fan1299", status="open").exists()


def test_seed_demo_reads_like_a_network_with_conversations_and_spaces():
    from accounts.models import Hashtag, Like, Notification
    from rooms.models import Space

    call_command("seed_demo")
    top_level = Post.objects.filter(reply_to__isnull=True, repost_of__isnull=True)
    assert top_level.values("body").distinct().count() > 200  # not the same few sentences over and over
    assert Post.objects.filter(reply_to__isnull=False).count() >= 150
    assert Post.objects.filter(repost_of__isnull=False, body="").exists()
    assert Post.objects.filter(repost_of__isnull=False).exclude(body="").exists()
    assert Like.objects.count() > 1000 and Hashtag.objects.filter(name="jazz").exists()
    assert top_level.filter(body__contains="@").exists()
    liked = Post.objects.order_by("-likes_count").first()
    assert liked.likes_count == Like.objects.filter(post=liked).count() > 0
    assert Notification.objects.filter(recipient__username="maya", kind="like", text__contains="others liked").exists()
    assert Space.objects.filter(state=Space.State.LIVE).count() >= 2
    assert Space.objects.filter(state=Space.State.SCHEDULED).count() >= 3
    counts = (Post.objects.count(), Like.objects.count(), Space.objects.count())
    call_command("seed_demo")
    assert (Post.objects.count(), Like.objects.count(), Space.objects.count()) == counts


@pytest.mark.django_db(transaction=True)
def test_seed_demo_leaves_the_live_spaces_for_the_servers_captioner(settings):
    """The seed is a one-shot process: a captioner it started would hold each live Space's lease after it
    exits and keep `make run`'s own captioner out until the lease ran out."""
    from captions.models import CaptionLease
    from rooms.models import Space

    settings.CAPTIONS_LIVE = True
    call_command("seed_demo")  # committed as on `make run`, so the go-live work runs
    assert Space.objects.filter(state=Space.State.LIVE).exists()
    assert not CaptionLease.objects.exists()
