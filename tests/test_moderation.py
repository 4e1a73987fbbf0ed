"""Staff act on reports from the admin: suspend the reported account, or remove the reported post."""

import pytest
from django.test import Client

from accounts.models import Post, Report
from rooms.models import Participant, Space, SpaceReport
from tests.accounts.factories import PASSWORD, FollowFactory, PostFactory, UserFactory
from tests.rooms.factories import LiveSpaceFactory, ParticipantFactory, SpaceFactory, make_host

pytestmark = pytest.mark.django_db

REPORTS = "/admin/accounts/report/"
SPACE_REPORTS = "/admin/rooms/spacereport/"


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(username="moderator", is_staff=True, is_superuser=True))
    return client


def test_suspending_an_account_from_a_report_signs_it_out_ends_its_spaces_and_hides_its_posts(
    staff_client, django_capture_on_commit_callbacks
):
    troll = make_host(username="troll", display_name="Troll")
    post = PostFactory(author=troll, body="Something abusive")
    reader = UserFactory()
    FollowFactory(follower=reader, followee=troll)
    elsewhere = LiveSpaceFactory(title="Another host's Space")
    ParticipantFactory(space=elsewhere, user=troll)
    live = LiveSpaceFactory(host=troll, title="Live now")
    scheduled = SpaceFactory(host=troll, title="Tomorrow")
    report = Report.objects.create(reporter=reader, reported_user=troll, post=post, reason="abuse")
    troll_client, reader_client = Client(), Client()
    troll_client.force_login(troll)
    reader_client.force_login(reader)
    assert "Something abusive" in reader_client.get("/").text

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            REPORTS, {"action": "suspend_reported", "_selected_action": [report.pk]}, follow=True
        )

    assert "Suspended @troll; their live Spaces ended." in response.text
    report.refresh_from_db()
    troll.refresh_from_db()
    assert (report.status, troll.is_active) == (Report.Status.ACTIONED, False)
    live.refresh_from_db()
    scheduled.refresh_from_db()
    assert (live.state, scheduled.state) == (Space.State.ENDED, Space.State.CANCELLED)
    assert Participant.objects.get(space=elsewhere, user=troll).removed_at is not None
    # Their session no longer signs them in, and their password no longer does either.
    assert troll_client.get("/notifications/").status_code == 302
    assert not Client().login(username="troll", password=PASSWORD)
    # Their posts leave the timeline of those who followed them, and their post's page is gone.
    assert "Something abusive" not in reader_client.get("/").text
    assert reader_client.get(post.get_absolute_url()).status_code == 404


def test_a_repost_of_a_suspended_accounts_post_leaves_the_timeline_too(staff_client):
    troll = UserFactory(username="troll")
    original = PostFactory(author=troll, body="Something abusive")
    friend, reader = UserFactory(), UserFactory()
    Post.objects.create(author=friend, body="", repost_of=original)
    FollowFactory(follower=reader, followee=friend)
    report = Report.objects.create(reporter=reader, reported_user=troll, reason="abuse")
    reader_client = Client()
    reader_client.force_login(reader)
    assert "Something abusive" in reader_client.get("/").text

    staff_client.post(REPORTS, {"action": "suspend_reported", "_selected_action": [report.pk]})

    assert "Something abusive" not in reader_client.get("/").text


def test_staff_remove_a_reported_post_and_the_author_stays(staff_client):
    author = UserFactory()
    post = PostFactory(author=author, body="Spam spam spam")
    report = Report.objects.create(reporter=UserFactory(), reported_user=author, post=post, reason="spam")

    response = staff_client.post(
        REPORTS, {"action": "remove_reported_posts", "_selected_action": [report.pk]}, follow=True
    )

    assert "Removed 1 post." in response.text
    assert not Post.objects.filter(pk=post.pk).exists()
    report.refresh_from_db()
    author.refresh_from_db()
    assert (report.status, report.post, author.is_active) == (Report.Status.ACTIONED, None, True)


def test_a_report_on_a_space_as_a_whole_suspends_its_host(staff_client, django_capture_on_commit_callbacks):
    space = LiveSpaceFactory(title="Reported")
    report = SpaceReport.objects.create(space=space, reporter=UserFactory(), reason="hate")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            SPACE_REPORTS, {"action": "suspend_reported", "_selected_action": [report.pk]}, follow=True
        )

    assert f"Suspended @{space.host.username}" in response.text
    space.refresh_from_db()
    space.host.refresh_from_db()
    assert (space.state, space.host.is_active) == (Space.State.ENDED, False)


def test_a_staff_account_is_not_suspended_from_a_report_and_staff_are_told_why(staff_client):
    colleague = UserFactory(username="colleague", is_staff=True)
    report = Report.objects.create(reporter=UserFactory(), reported_user=colleague, reason="other")

    response = staff_client.post(REPORTS, {"action": "suspend_reported", "_selected_action": [report.pk]}, follow=True)

    assert "@colleague is staff; staff accounts are not suspended from a report." in response.text
    colleague.refresh_from_db()
    assert colleague.is_active


def test_only_staff_suspend_an_account():
    from django.core.exceptions import PermissionDenied

    from accounts import services

    with pytest.raises(PermissionDenied):
        services.account_suspend(user=UserFactory(), by=UserFactory())
