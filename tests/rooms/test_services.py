"""The rules of Spaces as the services enforce them."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Block, Follow, Notification, User
from accounts.services import block_create, follow_create
from rooms import access, services
from rooms.leases import presence_sweep
from rooms.models import Invitation, Participant, PinnedPost, Reminder, Role, RoomSocket, Space
from spaces_site.close_codes import CloseCode
from tests.accounts.factories import PostFactory, UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host

pytestmark = pytest.mark.django_db


def in_an_hour():
    return timezone.now() + timedelta(hours=1)


class TestHosting:
    def test_account_below_follower_threshold_cannot_host_and_is_told_how_many_are_missing(self, settings):
        settings.SPACES_MIN_FOLLOWERS_TO_HOST = 600
        newcomer = UserFactory()
        User.objects.filter(pk=newcomer.pk).update(followers_count=550)
        newcomer.refresh_from_db()
        with pytest.raises(PermissionDenied, match="50 more needed"):
            services.space_create(host=newcomer, title="Hello", scheduled_for=in_an_hour())
        assert access.host_eligibility(user=newcomer).missing == 50
        assert not Space.objects.exists()

    def test_host_with_enough_followers_schedules_and_gets_their_own_reminder(self, host):
        space = services.space_create(host=host, title="Synths", topics="Music, #tech", scheduled_for=in_an_hour())
        assert space.state == Space.State.SCHEDULED
        assert space.topic_list == ["music", "tech"]
        assert Reminder.objects.filter(space=space, user=host).exists()

    def test_starting_without_a_time_goes_live_with_the_host_seated(self, host):
        space = services.space_create(host=host, title="Now")
        assert space.state == Space.State.LIVE
        seat_ = Participant.objects.get(space=space, user=host)
        assert (seat_.role, seat_.speaker_index) == (Role.HOST, 0)

    def test_a_host_has_one_live_space_at_a_time(self, host):
        services.space_create(host=host, title="First")
        second = services.space_create(host=host, title="Second", scheduled_for=in_an_hour())
        with pytest.raises(ValidationError, match="already have a live Space"):
            services.space_start(space=second, by=host)
        assert Space.objects.get(pk=second.pk).state == Space.State.SCHEDULED

    def test_the_database_refuses_a_second_live_space_for_one_host(self, host):
        LiveSpaceFactory(host=host)
        with pytest.raises(IntegrityError), transaction.atomic():
            Space.objects.create(host=host, title="Sneaky", state=Space.State.LIVE)


class TestScheduling:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"scheduled_for": timezone.now() - timedelta(minutes=1)}, "in the future"),
            ({"scheduled_for": timezone.now() + timedelta(days=31)}, "30 days ahead"),
            ({"scheduled_for": timezone.now() + timedelta(days=1), "topics": "a,b,c,d"}, "at most 3 topics"),
            ({"scheduled_for": timezone.now() + timedelta(days=1), "title": "  "}, "title"),
        ],
    )
    def test_bad_schedule_is_refused_and_nothing_is_created(self, host, kwargs, message):
        kwargs = {"title": "Ok", **kwargs}
        with pytest.raises(ValidationError, match=message):
            services.space_create(host=host, **kwargs)
        assert not Space.objects.exists()

    def test_a_host_can_have_at_most_ten_scheduled_spaces(self, host):
        for n in range(10):
            services.space_create(host=host, title=f"S{n}", scheduled_for=in_an_hour())
        with pytest.raises(ValidationError, match="most is 10"):
            services.space_create(host=host, title="Eleventh", scheduled_for=in_an_hour())
        assert Space.objects.filter(host=host).count() == 10

    def test_host_edits_time_and_title_and_reminders_rearm(self, host, listener):
        space = services.space_create(host=host, title="Old", scheduled_for=in_an_hour())
        reminder = services.reminder_set(space=space, user=listener)
        Reminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now())
        later = timezone.now() + timedelta(days=2)
        services.space_update(space=space, by=host, title="New", scheduled_for=later)
        space.refresh_from_db()
        reminder.refresh_from_db()
        assert (space.title, space.scheduled_for, reminder.sent_at) == ("New", later, None)

    def test_only_the_host_edits_or_cancels(self, host, listener):
        space = services.space_create(host=host, title="Mine", scheduled_for=in_an_hour())
        with pytest.raises(PermissionDenied):
            services.space_update(space=space, by=listener, title="Theirs")
        with pytest.raises(PermissionDenied):
            services.space_cancel(space=space, by=listener)
        assert Space.objects.get(pk=space.pk).title == "Mine"

    def test_cancelling_notifies_reminded_people(self, host, listener):
        space = services.space_create(host=host, title="Maybe", scheduled_for=in_an_hour())
        services.reminder_set(space=space, user=listener)
        services.space_cancel(space=space, by=host)
        assert Space.objects.get(pk=space.pk).state == Space.State.CANCELLED
        assert Notification.objects.filter(recipient=listener, text__contains="cancelled").count() == 1

    def test_cohosts_named_in_advance_take_their_seat_on_joining(self, host, server):
        ivy = UserFactory(username="ivy", display_name="Ivy")
        space = services.space_create(host=host, title="Duo", scheduled_for=in_an_hour(), cohosts=[ivy])
        space = services.space_start(space=space, by=host)
        participant = services.participant_join(space=space, user=ivy, process_id=server.pk)
        assert participant.role == Role.COHOST
        assert participant.speaker_index is not None
        assert not Invitation.objects.filter(space=space).exists()

    def test_at_most_two_cohosts_can_be_named(self, host):
        space = services.space_create(host=host, title="Trio", scheduled_for=in_an_hour())
        a, b, c = UserFactory.create_batch(3)
        services.cohost_add(space=space, by=host, user=a)
        services.cohost_add(space=space, by=host, user=b)
        with pytest.raises(ValidationError, match="at most 2 co-hosts"):
            services.cohost_add(space=space, by=host, user=c)


class TestGoingLive:
    def test_followers_and_reminded_people_are_notified_once_when_the_host_goes_live(
        self, host, listener, django_capture_on_commit_callbacks
    ):
        fans = UserFactory.create_batch(3)
        for fan in fans:
            Follow.objects.create(follower=fan, followee=host)
        space = services.space_create(host=host, title="Soon", scheduled_for=in_an_hour())
        services.reminder_set(space=space, user=listener)
        services.reminder_set(space=space, user=fans[0])
        with django_capture_on_commit_callbacks(execute=True):
            services.space_start(space=space, by=host)
        live = Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE)
        assert sorted(live.values_list("recipient_id", flat=True)) == sorted([f.pk for f in fans] + [listener.pk])
        from rooms.tasks import notify_space_live

        assert notify_space_live(space.pk) == 0  # a retry notifies nobody twice

    def test_blocked_account_is_not_told_the_host_is_live(self, host, listener, django_capture_on_commit_callbacks):
        follow_create(follower=listener, followee=host)
        space = services.space_create(host=host, title="Soon", scheduled_for=in_an_hour())
        services.reminder_set(space=space, user=listener)
        block_create(blocker=host, blocked=listener)
        with django_capture_on_commit_callbacks(execute=True):
            services.space_start(space=space, by=host)
        assert not Notification.objects.filter(recipient=listener, kind=Notification.Kind.SPACE_LIVE).exists()


class TestJoining:
    def test_an_account_the_host_blocked_cannot_join(self, live_space, host, listener, server):
        Block.objects.create(blocker=host, blocked=listener)
        with pytest.raises(access.AdmissionRefused) as refused:
            services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert refused.value.decision.code == CloseCode.FORBIDDEN
        assert not Participant.objects.filter(user=listener).exists()

    def test_nobody_joins_an_ended_or_scheduled_space(self, host, listener, server):
        ended = SpaceFactory(host=host, state=Space.State.ENDED)
        scheduled = SpaceFactory(host=host)
        for space, code in ((ended, CloseCode.ENDED), (scheduled, CloseCode.NOT_LIVE)):
            with pytest.raises(access.AdmissionRefused) as refused:
                services.participant_join(space=space, user=listener, process_id=server.pk)
            assert refused.value.decision.code == code

    def test_rejoining_keeps_the_role(self, live_space, listener, server):
        first = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        Participant.objects.filter(user=listener).update(role=Role.SPEAKER, speaker_index=3)
        assert services.participant_leave(socket_id=first.socket_id)
        again = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert (again.role, again.speaker_index, again.first_connection) == (Role.SPEAKER, 3, True)
        assert RoomSocket.objects.filter(participant=again).count() == 1

    def test_a_reload_is_two_sockets_and_only_the_last_close_leaves(self, live_space, listener, server):
        old = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        new = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert (old.first_connection, new.first_connection) == (True, False)
        assert not services.participant_leave(socket_id=old.socket_id)
        assert services.participant_leave(socket_id=new.socket_id)
        assert not services.participant_leave(socket_id=new.socket_id)  # a second close changes nothing

    def test_peak_listeners_is_the_most_people_connected_at_a_sweep_or_the_end(
        self, live_space, host, alice, bob, charlie, server
    ):
        def peak():
            return Space.objects.get(pk=live_space.pk).peak_listeners

        sockets = {
            user: services.participant_join(space=live_space, user=user, process_id=server.pk).socket_id
            for user in (alice, bob)
        }
        services.participant_leave(socket_id=sockets[alice])
        services.participant_join(space=live_space, user=charlie, process_id=server.pk)
        presence_sweep()
        assert peak() == 2
        services.participant_join(space=live_space, user=alice, process_id=server.pk)
        services.space_end(space=live_space, by=host)
        assert peak() == 3

    def test_a_listeners_join_costs_the_same_in_a_big_space_and_locks_nothing(
        self, live_space, listener, server, django_assert_num_queries
    ):
        # A popular host going live means thousands of these in seconds: no lock on the Space, no count.
        def join_new_listener():
            user = UserFactory()
            with CaptureQueriesContext(connection) as queries:
                participant = services.participant_join(space=live_space, user=user, process_id=server.pk)
            assert (participant.role, participant.first_connection) == (Role.LISTENER, True)
            assert not [q for q in queries.captured_queries if "FOR UPDATE" in q["sql"] or "COUNT(" in q["sql"]]
            return len(queries.captured_queries)

        small = join_new_listener()
        for user in UserFactory.create_batch(60):
            services.participant_join(space=live_space, user=user, process_id=server.pk)
        assert join_new_listener() == small
        with django_assert_num_queries(small):
            participant = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert RoomSocket.objects.get(pk=participant.socket_id).process == server

    def test_admission_checks_for_other_audiences_plug_in_without_rooms_knowing_them(self, host, listener, monkeypatch):
        # Only this test's rule: the installed apps register their own (ticketing's for ticketed Spaces).
        monkeypatch.setattr(access, "_admission_checks", {})
        space = LiveSpaceFactory(host=host, audience=Space.Audience.TICKETED)

        def needs_ticket(space, user):
            return access.Decision(False, "Buy a ticket to listen.")

        access.register_admission_check(Space.Audience.TICKETED, needs_ticket)
        try:
            decision = access.can_join(space=space, user=listener)
        finally:
            access.unregister_admission_check(Space.Audience.TICKETED, needs_ticket)
        assert (decision.allowed, decision.reason, decision.code) == (False, "Buy a ticket to listen.", 4403)
        assert access.can_join(space=space, user=listener).allowed


class TestSpeaking:
    def test_listener_raises_hand_and_host_approves(self, live_space, host, listener):
        seat(live_space, listener)
        services.hand_raise(space=live_space, user=listener)
        participant = services.speaker_approve(space=live_space, by=host, user=listener)
        assert participant.role == Role.SPEAKER
        assert participant.muted and participant.hand_raised_at is None
        assert participant.speaker_index in range(1, 13)

    def test_approving_someone_who_did_not_ask_is_refused(self, live_space, host, listener):
        seat(live_space, listener)
        with pytest.raises(ValidationError, match="hasn't asked"):
            services.speaker_approve(space=live_space, by=host, user=listener)

    def test_a_listener_cannot_approve_anyone(self, live_space, listener):
        other = UserFactory()
        seat(live_space, listener)
        seat(live_space, other, hand_raised_at=timezone.now())
        with pytest.raises(PermissionDenied):
            services.speaker_approve(space=live_space, by=listener, user=other)
        assert Participant.objects.get(user=other).role == Role.LISTENER

    def test_the_eleventh_speaker_is_refused(self, live_space, host):
        for user in UserFactory.create_batch(10):
            seat(live_space, user, Role.SPEAKER)
        eleventh = UserFactory()
        seat(live_space, eleventh, hand_raised_at=timezone.now())
        with pytest.raises(ValidationError, match="already has 10 speakers"):
            services.speaker_approve(space=live_space, by=host, user=eleventh)
        assert Participant.objects.filter(space=live_space, role=Role.SPEAKER).count() == 10

    def test_only_the_host_adds_cohosts_and_at_most_two(self, live_space, host, cohost):
        third = UserFactory()
        seat(live_space, third)
        with pytest.raises(PermissionDenied):
            services.cohost_add(space=live_space, by=cohost, user=third)
        second = UserFactory()
        seat(live_space, second)
        services.cohost_add(space=live_space, by=host, user=second)
        with pytest.raises(ValidationError, match="already has 2 co-hosts"):
            services.cohost_add(space=live_space, by=host, user=third)

    def test_a_cohost_cannot_end_the_space(self, live_space, cohost):
        with pytest.raises(PermissionDenied):
            services.space_end(space=live_space, by=cohost)
        assert Space.objects.get(pk=live_space.pk).state == Space.State.LIVE

    def test_followed_only_policy_lets_only_people_the_host_follows_ask(self, host, listener):
        space = LiveSpaceFactory(host=host, speaking_policy=Space.SpeakingPolicy.FOLLOWED)
        friend = UserFactory()
        Follow.objects.create(follower=host, followee=friend)
        seat(space, listener)
        seat(space, friend)
        with pytest.raises(PermissionDenied, match="people the host follows"):
            services.hand_raise(space=space, user=listener)
        assert services.hand_raise(space=space, user=friend).hand_raised

    def test_invited_only_policy_needs_an_invitation_which_can_be_accepted(self, host, listener):
        space = LiveSpaceFactory(host=host, speaking_policy=Space.SpeakingPolicy.INVITED)
        seat(space, listener)
        with pytest.raises(PermissionDenied, match="only invited"):
            services.hand_raise(space=space, user=listener)
        services.speaker_invite(space=space, by=host, user=listener, by_dm=True)
        assert Notification.objects.filter(recipient=listener, kind=Notification.Kind.SPACE_INVITE).exists()
        assert services.invitation_accept(space=space, user=listener).role == Role.SPEAKER

    def test_a_speaker_steps_back_to_listener_and_frees_the_slot(self, live_space, listener):
        seat(live_space, listener, Role.SPEAKER)
        participant = services.participant_step_down(space=live_space, user=listener)
        assert (participant.role, participant.speaker_index) == (Role.LISTENER, None)


# The services that aim an action at one person, as the consumer calls them.
AIMED = {
    "approve": services.speaker_approve,
    "invite": services.speaker_invite,
    "mute": services.participant_mute,
    "make_listener": services.participant_make_listener,
    "remove": services.participant_remove,
    "add_cohost": services.cohost_add,
    "remove_cohost": services.cohost_remove,
}


@pytest.mark.parametrize("action", sorted(AIMED))
@pytest.mark.parametrize("actor_role", [Role.HOST, Role.COHOST, Role.SPEAKER])
@pytest.mark.parametrize("target_role", [Role.COHOST, Role.SPEAKER, Role.LISTENER])
def test_the_services_allow_exactly_what_each_socket_is_told_it_may_aim_at_someone(
    live_space, host, action, actor_role, target_role
):
    actor = host if actor_role == Role.HOST else seat(live_space, UserFactory(), actor_role).user
    target = UserFactory()
    seat(live_space, target, target_role, hand_raised_at=timezone.now() if target_role == Role.LISTENER else None)
    told = action in access.permissions_for(actor_role)["can_target"][target_role]
    try:
        AIMED[action](space=live_space, by=actor, user=target)
    except (PermissionDenied, ValidationError):
        done = False
    else:
        done = True
    assert done == told


class TestModeration:
    def test_host_mutes_a_speaker_and_only_the_speaker_unmutes(self, live_space, host, listener):
        seat(live_space, listener, Role.SPEAKER)
        services.participant_mute(space=live_space, by=host, user=listener)
        assert Participant.objects.get(user=listener).muted
        services.participant_set_muted(space=live_space, user=listener, muted=False)
        assert not Participant.objects.get(user=listener).muted

    def test_mute_all_mutes_every_other_speaker(self, live_space, host):
        speakers = UserFactory.create_batch(3)
        for user in speakers:
            seat(live_space, user, Role.SPEAKER)
        assert services.participant_mute_all(space=live_space, by=host) == 3
        assert not Participant.objects.get(user=host).muted

    def test_removed_listener_cannot_rejoin(self, live_space, host, listener, server):
        services.participant_join(space=live_space, user=listener, process_id=server.pk)
        services.participant_remove(space=live_space, by=host, user=listener)
        with pytest.raises(access.AdmissionRefused) as refused:
            services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert refused.value.decision.code == CloseCode.FORBIDDEN

    def test_a_cohost_cannot_remove_the_host_or_another_cohost(self, live_space, host, cohost):
        other = UserFactory()
        seat(live_space, other, Role.COHOST)
        with pytest.raises(PermissionDenied):
            services.participant_remove(space=live_space, by=cohost, user=host)
        with pytest.raises(PermissionDenied):
            services.participant_remove(space=live_space, by=cohost, user=other)

    def test_anyone_can_report_a_space_or_a_participant(self, live_space, listener, host):
        report = services.space_report_create(space=live_space, reporter=listener, reason="abuse", reported_user=host)
        assert report.space == live_space
        with pytest.raises(ValidationError):
            services.space_report_create(space=live_space, reporter=listener, reason="nonsense")

    def test_speakers_pin_posts_and_listeners_cannot(self, live_space, host, listener):
        post = PostFactory()
        seat(live_space, listener)
        with pytest.raises(PermissionDenied):
            services.pin_create(space=live_space, by=listener, post=post)
        services.pin_create(space=live_space, by=host, post=post)
        with pytest.raises(ValidationError, match="already pinned"):
            services.pin_create(space=live_space, by=host, post=post)
        assert PinnedPost.objects.filter(space=live_space).count() == 1

    def test_a_listener_is_warned_about_a_speaker_they_blocked(self, live_space, listener, server):
        from rooms.selectors import room_snapshot

        rude = UserFactory()
        seat(live_space, rude, Role.SPEAKER)
        Block.objects.create(blocker=listener, blocked=rude)
        me = services.participant_join(space=live_space, user=listener, process_id=server.pk)
        assert room_snapshot(space=live_space, me=me)["blocked_speaker_ids"] == [rude.pk]


class TestSharing:
    def test_share_to_timeline_and_by_dm(self, live_space, listener, host):
        post = services.space_share_to_timeline(space=live_space, user=listener, url="/spaces/1/")
        assert live_space.title in post.body
        services.space_share_by_dm(space=live_space, sender=listener, recipient=host, url="/spaces/1/")
        from accounts.models import Message

        assert Message.objects.get(recipient=host).body.endswith("/spaces/1/")


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_never_make_eleven_speakers():
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("needs PostgreSQL row locks; SQLite serialises every writer anyway")
    host = make_host()
    cohost = UserFactory()
    space = LiveSpaceFactory(host=host)
    seat(space, cohost, Role.COHOST)
    for user in UserFactory.create_batch(9):
        seat(space, user, Role.SPEAKER)
    askers = UserFactory.create_batch(2)
    for user in askers:
        seat(space, user, hand_raised_at=timezone.now())
    barrier = threading.Barrier(2, timeout=30)
    outcomes = []

    def approve(by, user):
        try:
            barrier.wait()
            services.speaker_approve(space=space, by=by, user=user)
            outcomes.append("approved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=approve, args=(host, askers[0])),
        threading.Thread(target=approve, args=(cohost, askers[1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "refused"]
    assert Participant.objects.filter(space=space, role=Role.SPEAKER).count() == 10
