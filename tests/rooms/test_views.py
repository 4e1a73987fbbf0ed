"""Spaces pages: list and search, the scheduling form's errors, the room, the ended page, bubbles."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Follow, User
from rooms import services
from rooms.models import Participant, Reminder, Role, Space
from rooms.selectors import live_bubbles_for
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, SpaceFactory, make_host

pytestmark = pytest.mark.django_db


def local(dt):
    return dt.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def host_client(client, host):
    client.force_login(host)
    return client


def schedule_data(**overrides):
    data = {
        "title": "Synths",
        "topics": "music, tech",
        "start": "later",
        "scheduled_for": local(timezone.now() + timedelta(days=2)),
        "speaking_policy": "everyone",
        "cohosts": "",
    }
    data.update(overrides)
    return data


class TestScheduleForm:
    def test_host_schedules_a_space(self, host_client, host):
        response = host_client.post(reverse("rooms:new"), schedule_data())
        space = Space.objects.get(host=host)
        assert response.status_code == 302 and response.url == space.get_absolute_url()
        assert space.state == Space.State.SCHEDULED

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"scheduled_for": local(timezone.now() - timedelta(hours=1))}, "scheduled_for", "in the future"),
            ({"scheduled_for": local(timezone.now() + timedelta(days=31))}, "scheduled_for", "30 days ahead"),
            ({"topics": "a, b, c, d"}, "topics", "at most 3 topics"),
            ({"scheduled_for": ""}, "scheduled_for", "Choose when"),
            ({"scheduled_for": "next tuesday"}, "scheduled_for", "valid date"),
            ({"title": ""}, "title", "title"),
            ({"cohosts": "nobody_here"}, "cohosts", "No account is called @nobody_here"),
        ],
    )
    def test_bad_input_shows_a_field_error_and_creates_nothing(self, host_client, overrides, field, message):
        response = host_client.post(reverse("rooms:new"), schedule_data(**overrides))
        assert response.status_code == 422
        assert any(message in error for error in response.context["form"].errors[field])
        assert not Space.objects.exists()

    def test_eleventh_scheduled_space_is_a_field_error(self, host_client, host):
        for n in range(10):
            SpaceFactory(host=host, title=f"S{n}")
        response = host_client.post(reverse("rooms:new"), schedule_data())
        assert response.status_code == 422
        assert "the most is 10" in response.context["form"].errors["scheduled_for"][0]
        assert Space.objects.filter(host=host).count() == 10

    def test_refusal_page_says_how_many_followers_are_missing(self, client, settings):
        settings.SPACES_MIN_FOLLOWERS_TO_HOST = 600
        newcomer = UserFactory()
        User.objects.filter(pk=newcomer.pk).update(followers_count=421)
        client.force_login(newcomer)
        response = client.get(reverse("rooms:new"))
        assert response.status_code == 403
        assert b"you need <strong>179</strong> more" in response.content
        assert client.post(reverse("rooms:new"), schedule_data()).status_code == 403
        assert not Space.objects.exists()

    def test_a_cohost_across_a_block_is_an_error_on_the_cohosts_field(self, host_client, host, listener):
        account_services.block_create(blocker=listener, blocked=host)
        response = host_client.post(reverse("rooms:new"), schedule_data(cohosts="sam"))
        assert response.status_code == 422
        assert response.context["form"].errors["cohosts"] == ["You can't name @sam as a co-host."]
        assert not Space.objects.exists()

    def test_start_now_goes_live(self, host_client, host):
        host_client.post(reverse("rooms:new"), schedule_data(start="now", scheduled_for=""))
        assert Space.objects.get(host=host).state == Space.State.LIVE

    def test_a_host_already_live_is_shown_the_way_back_to_that_space(self, host_client, host):
        live = LiveSpaceFactory(host=host, title="Synths at night")
        # The refusal alone left the host to find their own live Space.
        page = host_client.get(reverse("rooms:new")).content.decode()
        assert f'You\'re live now in <a href="{live.get_absolute_url()}">Synths at night</a>' in page
        response = host_client.post(reverse("rooms:new"), schedule_data(start="now", scheduled_for=""))
        assert response.status_code == 422
        page = response.content.decode()
        assert "You already have a live Space" in page and f'href="{live.get_absolute_url()}"' in page
        host_client.post(reverse("rooms:end", args=[live.pk]))
        assert "live now in" not in host_client.get(reverse("rooms:new")).content.decode()

    def test_edit_rejects_a_past_time(self, host_client, host):
        space = SpaceFactory(host=host)
        data = {"title": "New", "topics": "", "scheduled_for": local(timezone.now() - timedelta(days=1))}
        response = host_client.post(reverse("rooms:edit", args=[space.pk]), data)
        assert response.status_code == 422
        assert Space.objects.get(pk=space.pk).title == space.title

    def test_edit_with_no_title_asks_for_one_as_the_new_space_form_does(self, host_client, host):
        space = SpaceFactory(host=host)
        data = {"title": " ", "topics": "", "scheduled_for": local(space.scheduled_for)}
        response = host_client.post(reverse("rooms:edit", args=[space.pk]), data)
        assert response.status_code == 422
        assert "Give your Space a title." in response.text and "This field is required." not in response.text

    def test_the_host_sees_how_many_people_set_a_reminder(self, host_client, host):
        space = SpaceFactory(host=host)
        assert "Nobody has set a reminder yet." in host_client.get(space.get_absolute_url()).text
        for person in UserFactory.create_batch(2):
            services.reminder_set(space=space, user=person)
        assert "2 people have set a reminder." in host_client.get(space.get_absolute_url()).text

    def test_the_host_changes_who_can_speak_when_editing(self, host_client, host):
        space = SpaceFactory(host=host)
        form = host_client.get(reverse("rooms:edit", args=[space.pk])).text
        assert "Who can speak" in form and '<option value="everyone" selected>' in form
        data = {
            "title": space.title,
            "topics": "",
            "scheduled_for": local(space.scheduled_for),
            "speaking_policy": "invited",
        }
        assert host_client.post(reverse("rooms:edit", args=[space.pk]), data).status_code == 302
        assert Space.objects.get(pk=space.pk).speaking_policy == "invited"

    def test_another_account_cannot_edit_or_cancel(self, client, host, listener):
        space = SpaceFactory(host=host)
        client.force_login(listener)
        assert client.get(reverse("rooms:edit", args=[space.pk])).status_code == 403
        client.post(reverse("rooms:cancel", args=[space.pk]))
        assert Space.objects.get(pk=space.pk).state == Space.State.SCHEDULED


class TestPages:
    def test_list_shows_live_and_upcoming_and_searches_title_and_topic(self, client, listener):
        live = LiveSpaceFactory(title="Jazz hour", topics="music")
        upcoming = SpaceFactory(title="Startup chat", topics="business,tech")
        client.force_login(listener)
        page = client.get(reverse("rooms:list"))
        assert list(page.context["live"]) == [live] and list(page.context["upcoming"]) == [upcoming]
        by_topic = client.get(reverse("rooms:list"), {"q": "#tech"})
        assert list(by_topic.context["live"]) == [] and list(by_topic.context["upcoming"]) == [upcoming]
        by_title = client.get(reverse("rooms:list"), {"q": "jazz"})
        assert list(by_title.context["live"]) == [live]

    def test_nav_links_to_spaces(self, client, listener):
        client.force_login(listener)
        assert b'href="/spaces/"' in client.get(reverse("home")).content

    def test_follower_sets_a_reminder_on_a_scheduled_space(self, client, host, listener):
        space = SpaceFactory(host=host)
        client.force_login(listener)
        assert b"Set reminder" in client.get(space.get_absolute_url()).content
        client.post(reverse("rooms:reminder", args=[space.pk]))
        assert Reminder.objects.filter(space=space, user=listener).exists()
        assert b"Remove reminder" in client.get(space.get_absolute_url()).content

    def test_room_page_for_a_live_space(self, client, live_space, listener):
        client.force_login(listener)
        response = client.get(live_space.get_absolute_url())
        assert response.status_code == 200
        assert b'id="room"' in response.content and b"Request to speak" in response.content

    def test_room_page_is_drawn_as_its_welcome_will_find_it(self, client, live_space, host, listener):
        # Nothing moves when the socket's `welcome` arrives: the page already shows the room as it says it is.
        seat(live_space, UserFactory(username="ada"), hand_raised_at=timezone.now())
        client.force_login(listener)
        page = client.get(live_space.get_absolute_url()).content.decode()
        speakers = page.split('id="speakers"')[1].split("</ul>")[0]
        assert speakers.count("<li ") == 1 and f'data-user="{host.pk}"' in speakers and "Maya" in speakers
        assert '<strong id="my-role">Listener</strong>' in page
        assert '<span class="badge-count" id="hand-count">1</span>' in page
        assert '<ul id="hands" class="room-people">' in page and "waiting less than a minute" in page
        assert 'data-send="raise_hand" disabled data-show="can-ask">' in page  # shown (enabled by `welcome`)
        assert 'data-show="mute_all" hidden' in page and 'id="next-speaker" hidden' in page
        listeners = page.split('id="listeners"')[1].split("</ul>")[0]
        assert f'data-user="{listener.pk}"' in listeners  # the socket will seat Sam as a listener

        client.force_login(host)
        page = client.get(live_space.get_absolute_url()).content.decode()
        assert '<strong id="my-role">Host</strong>' in page and 'data-show="mute_all">' in page
        assert 'id="talk" class="dock-talk">' in page and 'id="next-speaker" data-user=' in page

    def test_removed_person_sees_why_instead_of_the_room(self, client, live_space, listener):
        seat(live_space, listener, removed_at=timezone.now())
        client.force_login(listener)
        response = client.get(live_space.get_absolute_url())
        assert response.status_code == 403
        assert b"You were removed from this Space." in response.content

    def test_ended_page_shows_host_speakers_duration_and_peak(self, client, host, listener):
        space = LiveSpaceFactory(host=host, title="Done")
        speaker = UserFactory(display_name="Rita Speaker")
        seat(space, speaker, Role.SPEAKER)
        Space.objects.filter(pk=space.pk).update(
            peak_listeners=1234, started_at=timezone.now() - timedelta(hours=1, minutes=5)
        )
        services.space_end(space=space, by=host)
        client.force_login(listener)
        response = client.get(space.get_absolute_url())
        content = response.content.decode()
        assert "This Space has ended" in content
        assert "Rita Speaker" in content and host.name in content
        assert "1,234" in content and "1\xa0hour, 5\xa0minutes" in content

    def test_a_suspended_speaker_is_named_without_a_link_to_their_profile_which_is_gone(self, client, host, listener):
        space = LiveSpaceFactory(host=host, title="Done")
        rita, sol = UserFactory(username="rita", display_name="Rita"), UserFactory(username="sol", display_name="Sol")
        seat(space, rita, Role.SPEAKER)
        seat(space, sol, Role.SPEAKER)
        services.space_end(space=space, by=host)
        User.objects.filter(pk=rita.pk).update(is_active=False)
        client.force_login(listener)
        content = client.get(space.get_absolute_url()).content.decode()
        assert "Rita (suspended)" in content and 'href="/@rita/"' not in content
        assert '<a href="/@sol/">Sol</a>' in content

    def test_share_to_timeline_and_invite_by_dm_pages(self, client, live_space, host, listener):
        seat(live_space, listener)
        client.force_login(listener)
        client.post(reverse("rooms:share", args=[live_space.pk]))
        assert listener.posts.get().body.endswith(f"/spaces/{live_space.pk}/")
        client.force_login(host)
        client.post(reverse("rooms:invite", args=[live_space.pk]), {"username": "sam", "by_dm": "on"})
        assert live_space.invitations.filter(user=listener).exists()
        response = client.post(reverse("rooms:invite", args=[live_space.pk]), {"username": "ghost"}, follow=True)
        assert b"No account is called @ghost." in response.content

    def test_share_invite_and_dm_from_the_room_answer_in_place(self, client, live_space, host, listener):
        # From the room page (htmx), the result comes back as a fragment: the room, and its audio, stay.
        seat(live_space, listener)
        htmx = {"HTTP_HX_REQUEST": "true"}
        client.force_login(listener)
        response = client.post(reverse("rooms:share", args=[live_space.pk]), **htmx)
        assert response.status_code == 200 and response.content.decode().strip().startswith("<p")
        assert "Shared." in response.content.decode() and listener.posts.count() == 1
        response = client.post(reverse("rooms:share_dm", args=[live_space.pk]), {"username": "ghost"}, **htmx)
        assert response.status_code == 422 and "No account is called @ghost." in response.content.decode()
        response = client.post(reverse("rooms:share_dm", args=[live_space.pk]), {"username": "maya"}, **htmx)
        assert response.status_code == 200 and "Sent to @maya." in response.content.decode()
        client.force_login(host)
        response = client.post(reverse("rooms:invite", args=[live_space.pk]), {"username": "sam"}, **htmx)
        assert response.status_code == 200 and "Invited @sam to speak." in response.content.decode()
        response = client.post(reverse("rooms:invite", args=[live_space.pk]), {"username": ""}, **htmx)
        assert response.status_code == 422 and "flash-error" in response.content.decode()
        client.force_login(listener)
        response = client.post(reverse("rooms:invite", args=[live_space.pk]), {"username": "maya"}, **htmx)
        assert response.status_code == 422 and "<html" not in response.content.decode()

    def test_sharing_a_space_to_the_timeline_twice_posts_it_once(self, client, live_space, listener):
        seat(live_space, listener)
        htmx = {"HTTP_HX_REQUEST": "true"}
        client.force_login(listener)
        assert client.post(reverse("rooms:share", args=[live_space.pk]), **htmx).status_code == 200
        response = client.post(reverse("rooms:share", args=[live_space.pk]), **htmx)
        assert response.status_code == 422
        assert "This Space is already on your timeline." in response.content.decode()
        assert listener.posts.count() == 1

    def test_report_form_needs_a_reason(self, client, live_space, listener):
        client.force_login(listener)
        response = client.post(reverse("rooms:report", args=[live_space.pk]), {"reason": ""})
        assert response.status_code == 422 and live_space.reports.count() == 0
        client.post(reverse("rooms:report", args=[live_space.pk]), {"reason": "spam"})
        assert live_space.reports.count() == 1

    def test_a_listener_may_report_the_space_and_its_host_is_not_offered_to(self, client, live_space, host, listener):
        report_url = reverse("rooms:report", args=[live_space.pk])
        client.force_login(listener)
        assert f'href="{report_url}"' in client.get(live_space.get_absolute_url()).content.decode()
        client.force_login(host)
        assert f'href="{report_url}"' not in client.get(live_space.get_absolute_url()).content.decode()

    def test_reporting_a_person_whose_number_is_no_number_is_a_404(self, client, live_space, listener):
        client.force_login(listener)
        # "²" is a digit to str.isdigit() but not a number to int(): it was a 500.
        assert client.get(reverse("rooms:report", args=[live_space.pk]), {"user": "²"}).status_code == 404


class TestLiveBubbles:
    def test_followed_hosts_and_speakers_in_live_spaces_are_bubbles(self, listener):
        followed_host, followed_speaker, stranger = make_host(), UserFactory(), make_host()
        for user in (followed_host, followed_speaker):
            Follow.objects.create(follower=listener, followee=user)
        space = LiveSpaceFactory(host=followed_host, title="On air")
        seat(space, followed_speaker, Role.SPEAKER)
        LiveSpaceFactory(host=stranger)
        SpaceFactory(host=make_host())
        bubbles = live_bubbles_for(user=listener)
        assert {b.user_id for b in bubbles} == {followed_host.pk, followed_speaker.pk}
        assert all(b.url == space.get_absolute_url() and b.title == "On air" for b in bubbles)

    def test_bubbles_cost_the_same_queries_however_many(self, listener, django_assert_num_queries):
        for _ in range(2):
            host = make_host()
            Follow.objects.create(follower=listener, followee=host)
            LiveSpaceFactory(host=host)
        with django_assert_num_queries(1):
            assert len(live_bubbles_for(user=listener)) == 2
        for _ in range(5):
            host = make_host()
            Follow.objects.create(follower=listener, followee=host)
            LiveSpaceFactory(host=host)
        with django_assert_num_queries(1):
            assert len(live_bubbles_for(user=listener)) == 7

    def test_home_page_renders_bubbles(self, client, listener):
        host = make_host(display_name="Maya Okafor")
        Follow.objects.create(follower=listener, followee=host)
        space = LiveSpaceFactory(host=host, title="Morning show")
        client.force_login(listener)
        content = client.get(reverse("home")).content.decode()
        assert f'href="{space.get_absolute_url()}" data-user="{host.pk}"' in content
        assert "is live: Morning show" in content
        partial = client.get(reverse("rooms:bubbles")).content.decode()
        assert "Morning show" in partial

    def test_ended_space_leaves_no_bubble(self, listener):
        host = make_host()
        Follow.objects.create(follower=listener, followee=host)
        space = LiveSpaceFactory(host=host)
        services.space_end(space=space, by=host)
        assert live_bubbles_for(user=listener) == []
        assert Participant.objects.filter(space=space).exists()


@pytest.mark.django_db
def test_the_sign_in_page_says_which_space_it_leads_back_to_and_why(client):
    space = LiveSpaceFactory(host=make_host(username="maya"), title="<b>Voices</b>")
    login = reverse("account_login")
    page = client.get(login, {"next": space.get_absolute_url()}).content.decode()
    assert "Sign in to listen to <strong>&lt;b&gt;Voices&lt;/b&gt;</strong>, hosted by @maya." in page
    assert "You were signed out" not in page
    # Sent by the room page whose socket was refused: the session it held ended.
    page = client.get(f"{login}?next={space.get_absolute_url()}&signed_out").content.decode()
    assert "You were signed out on this device" in page
    # Sent back with a field error: still said, from the form's own `next`.
    page = client.post(login, {"login": "maya", "password": "wrong", "next": space.get_absolute_url()}).content
    assert b"Sign in to listen to" in page and b"you specified are not correct" in page
    signup = client.get(reverse("account_signup"), {"next": space.get_absolute_url()}).content.decode()
    assert "Create an account to listen to" in signup
    upcoming = SpaceFactory(host=space.host, title="Later")
    page = client.get(login, {"next": upcoming.get_absolute_url()}).content.decode()
    assert "Sign in to see <strong>Later</strong>, hosted by @maya." in page


@pytest.mark.django_db
def test_the_sign_in_page_keeps_a_space_not_for_everyone_unnamed(client):
    space = LiveSpaceFactory(host=make_host(username="maya"), title="Paid", audience=Space.Audience.TICKETED)
    login = reverse("account_login")
    assert "Paid" not in client.get(login, {"next": space.get_absolute_url()}).text
    page = client.get(f"{login}?next={space.get_absolute_url()}&signed_out").text
    assert "You were signed out on this device" in page and "Sign in to go back to the Space." in page
    assert "Paid" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["", "/", "/spaces/", "/spaces/999999/", "/spaces/1/report/", "not a url"])
def test_the_sign_in_page_names_no_space_when_it_does_not_lead_to_one(client, next_url):
    page = client.get(reverse("account_login"), {"next": next_url}).content.decode()
    assert "Sign in to listen to" not in page and "Sign in to see" not in page
