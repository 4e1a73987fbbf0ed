import base64
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Follow, Message, Notification, Post, Report, User
from tests.accounts.factories import PostFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_sign_up_keeps_profile_fields_and_sends_verification(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "dana@example.com",
            "username": "dana",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "display_name": "Dana",
            "date_of_birth": "1999-04-02",
        },
    )
    assert response.status_code == 302
    dana = User.objects.get(username="dana")
    assert dana.display_name == "Dana" and dana.is_adult
    assert EmailAddress.objects.get(user=dana).verified is False
    assert "dana@example.com" in mail.outbox[0].to


def test_sign_up_errors_keep_what_was_typed(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "bad", "username": "dana", "password1": "x", "password2": "y", "display_name": "Dana"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="dana"' in html and 'value="Dana"' in html
    assert response.context["form"].errors["email"]
    assert not User.objects.filter(username="dana").exists()


def test_future_date_of_birth_is_a_field_error(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "e@example.com",
            "username": "eve",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "date_of_birth": "2999-01-01",
        },
    )
    assert "must be in the past" in response.content.decode()
    assert not User.objects.filter(username="eve").exists()


def test_anonymous_visitors_are_sent_to_log_in_to_act(client):
    response = client.get(reverse("accounts:inbox"))
    assert response.status_code == 302 and reverse("account_login") in response.url


def test_posting_over_htmx_prepends_the_post(alice_client, alice):
    response = alice_client.post(reverse("accounts:post_create"), {"body": "hello htmx"}, **HTMX)
    assert response.status_code == 200
    assert 'hx-swap-oob="afterbegin:#timeline"' in response.content.decode()
    assert Post.objects.get().author == alice


@pytest.mark.parametrize("body, message", [("   ", "can&#x27;t be empty"), ("x" * 281, "at most 280")])
def test_bad_posts_show_the_error_and_keep_the_text(alice_client, body, message):
    response = alice_client.post(reverse("accounts:post_create"), {"body": body})
    assert response.status_code == 422
    assert message in response.content.decode()
    if body.strip():
        assert body in response.content.decode()
    assert not Post.objects.exists()


def test_follow_button_over_htmx_toggles(alice_client, alice, bob):
    response = alice_client.post(reverse("accounts:follow", args=["bob"]), **HTMX)
    assert response.status_code == 200 and "Following" in response.content.decode()
    assert 'aria-label="Unfollow @bob">Unfollow</button>' in response.content.decode()
    assert Follow.objects.filter(follower=alice, followee=bob).exists()
    response = alice_client.post(reverse("accounts:unfollow", args=["bob"]), **HTMX)
    assert ">Follow<" in response.content.decode()
    assert not Follow.objects.exists()


def test_following_yourself_over_htmx_shows_the_reason(alice_client):
    response = alice_client.post(reverse("accounts:follow", args=["alice"]), **HTMX)
    assert response.status_code == 422
    assert "can&#x27;t follow yourself" in response.content.decode()


def test_get_never_changes_anything(alice_client, bob):
    post = PostFactory(author=bob)
    for name, args in [("accounts:follow", ["bob"]), ("accounts:block", ["bob"]), ("accounts:post_delete", [post.pk])]:
        assert alice_client.get(reverse(name, args=args)).status_code == 405
    assert not Follow.objects.exists() and Post.objects.exists()


def test_unknown_users_and_posts_are_404(alice_client, bob):
    assert alice_client.get("/@nobody/").status_code == 404
    assert alice_client.get("/@bob/posts/999/").status_code == 404
    assert alice_client.post(reverse("accounts:follow", args=["nobody"])).status_code == 404


def test_deleting_someone_elses_post_is_404(alice_client, bob):
    post = PostFactory(author=bob)
    assert alice_client.post(reverse("accounts:post_delete", args=[post.pk])).status_code == 404
    assert Post.objects.filter(pk=post.pk).exists()


def test_a_blocker_profile_and_posts_are_hidden_from_the_blocked(alice_client, alice, bob):
    post = PostFactory(author=bob, body="secret")
    services.block_create(blocker=bob, blocked=alice)
    for url in [bob.get_absolute_url(), post.get_absolute_url(), reverse("accounts:followers", args=["bob"])]:
        response = alice_client.get(url)
        assert response.status_code == 403 and "secret" not in response.content.decode()


def test_a_blocked_profile_says_its_posts_are_hidden_not_that_there_are_none(alice_client, alice, bob):
    PostFactory(author=bob, body="hidden from alice")
    services.block_create(blocker=alice, blocked=bob)
    html = alice_client.get(bob.get_absolute_url()).content.decode()
    assert "hidden from alice" not in html and "No posts yet." not in html
    assert "You blocked @bob, so their posts are hidden." in html


def test_something_from_this_minute_is_said_to_be_from_just_now_not_0_minutes_ago(client, alice, bob):
    post = PostFactory(author=bob, body="fresh post")
    services.notification_create(recipient=alice, actor=bob, kind=Notification.Kind.OTHER, text="fresh note")
    client.force_login(alice)
    for url in [reverse("accounts:notifications"), post.get_absolute_url()]:
        html = client.get(url).content.decode().replace("\xa0", " ")
        assert "0 minutes ago" not in html
        assert re.search(r">(now|\d+ seconds? ago)</time>", html), url


def test_a_bio_links_its_mentions_and_hashtags_and_escapes_the_rest(client, alice):
    User.objects.filter(pk=alice.pk).update(bio="Hosting with @bob on #jazz nights <b>loud</b>")
    html = client.get(alice.get_absolute_url()).content.decode()
    assert '<a class="mention" href="/@bob/">@bob</a>' in html
    assert '<a class="hashtag" href="/tags/jazz/">#jazz</a>' in html
    assert "&lt;b&gt;loud&lt;/b&gt;" in html


def test_other_peoples_conversations_are_404(client, alice, bob, charlie):
    message = services.message_send(sender=alice, recipient=bob, body="private")
    client.force_login(charlie)
    assert client.get(message.conversation.get_absolute_url()).status_code == 404


def test_sending_a_dm_to_someone_who_blocked_you_keeps_the_text(alice_client, alice, bob):
    services.block_create(blocker=bob, blocked=alice)
    response = alice_client.post(reverse("accounts:message_new"), {"to": "bob", "body": "please read"})
    html = response.content.decode()
    assert "isn&#x27;t accepting messages" in html and "please read" in html
    assert not Message.objects.exists()


def test_dm_to_unknown_user_is_a_field_error(alice_client):
    response = alice_client.post(reverse("accounts:message_new"), {"to": "@ghost", "body": "hi"})
    assert "No account is called @ghost" in response.content.decode()


def test_reading_a_conversation_marks_it_read(client, alice, bob):
    message = services.message_send(sender=alice, recipient=bob, body="hello")
    client.force_login(bob)
    assert "1 unread" in client.get("/messages/").content.decode()
    client.get(message.conversation.get_absolute_url())
    message.refresh_from_db()
    assert message.read_at is not None


def test_bell_shows_unread_count_and_marking_read_clears_it(client, alice, bob):
    services.follow_create(follower=alice, followee=bob)
    client.force_login(bob)
    assert 'data-testid="bell-count"' in client.get("/").content.decode()
    client.post(reverse("accounts:notifications_read"))
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert 'data-testid="bell-count"' not in client.get("/").content.decode()


def test_opening_the_notifications_reads_them_and_shows_them_as_new_this_once(client, alice, bob):
    services.follow_create(follower=alice, followee=bob)
    client.force_login(bob)
    first = client.get(reverse("accounts:notifications")).content.decode()
    assert "(unread)" in first and 'data-testid="bell-count"' not in first
    assert not Notification.objects.filter(recipient=bob, read_at__isnull=True).exists()
    assert "(unread)" not in client.get(reverse("accounts:notifications")).content.decode()


def test_marking_bad_notification_ids_is_400(alice_client):
    assert alice_client.post(reverse("accounts:notifications_read"), {"id": "x"}).status_code == 400
    # "²" is a digit to str.isdigit() but not a number to int(): it was a 500.
    assert alice_client.post(reverse("accounts:notifications_read"), {"id": "²"}).status_code == 400


def test_a_post_number_that_is_no_number_reports_no_post(alice_client, bob):
    """`?post=²` (a superscript two, a digit to str.isdigit()) reached the database lookup: a 500."""
    assert alice_client.get(reverse("accounts:report", args=["bob"]), {"post": "²"}).status_code == 404


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        _cursor("2026-01-01T00:00:00+00:00|99999999999999999999"),  # past the id column: was a 500
        _cursor("2026-01-01T00:00:00|3"),  # no time zone
    ],
)
@pytest.mark.parametrize("page", ["/", "/@bob/", "/tags/hello/"])
def test_a_broken_page_link_leads_to_the_first_page_with_a_word_why(alice_client, alice, bob, page, cursor):
    Follow.objects.create(follower=alice, followee=bob)
    PostFactory(author=bob, body="hello #hello")
    response = alice_client.get(page, {"cursor": cursor}, follow=True)
    assert response.redirect_chain == [(page, 302)]
    assert response.status_code == 200
    assert "That page link is broken" in response.content.decode()
    assert "hello" in response.content.decode()
    # "Show older posts" fetched over htmx: the whole page is loaded again, not a page pasted under the first.
    more = alice_client.get(page, {"cursor": cursor}, **HTMX)
    assert more.status_code == 200 and more["HX-Redirect"] == page


def test_report_form_lands_in_the_admin_queue(alice_client, bob, admin_client):
    post = PostFactory(author=bob)
    response = alice_client.post(reverse("accounts:report", args=["bob"]), {"reason": "spam", "post": post.pk})
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.post == post
    assert "spam" in admin_client.get("/admin/accounts/report/?status__exact=open").content.decode().lower()


def test_report_without_reason_is_a_field_error(alice_client, bob):
    response = alice_client.post(reverse("accounts:report", args=["bob"]), {"details": "hmm"})
    assert response.context["form"].errors["reason"]
    assert not Report.objects.exists()


def test_profile_edit_validates_and_saves(alice_client, alice):
    response = alice_client.post(reverse("accounts:profile_edit"), {"display_name": "Al", "bio": "x" * 161})
    assert response.context["form"].errors["bio"]
    alice_client.post(reverse("accounts:profile_edit"), {"display_name": "Al", "bio": "hi"})
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Al", "hi")


def test_profile_date_of_birth_must_be_in_the_past(alice_client, alice):
    response = alice_client.post(
        reverse("accounts:profile_edit"), {"display_name": "Al", "date_of_birth": "2999-01-01"}
    )
    assert "must be in the past" in response.content.decode()
    alice.refresh_from_db()
    assert alice.date_of_birth is None


def test_a_date_of_birth_before_1900_is_a_slip_with_a_field_error(alice_client, alice):
    response = alice_client.post(
        reverse("accounts:profile_edit"), {"display_name": "Al", "bio": "Kept", "date_of_birth": "1800-01-01"}
    )
    assert response.context["form"].errors["date_of_birth"] == ["Check the year: a date of birth is in 1900 or later."]
    assert "Kept</textarea>" in response.content.decode()  # what was typed is kept
    alice.refresh_from_db()
    assert alice.date_of_birth is None


def test_a_bio_keeps_its_line_breaks_on_the_profile(client, alice):
    alice.bio = "Synths <3\nBerlin"
    alice.save(update_fields=["bio"])
    page = client.get(reverse("accounts:profile", args=[alice.username])).content.decode()
    assert "<p>Synths &lt;3<br>Berlin</p>" in page


def test_a_quote_of_a_post_deleted_meanwhile_is_gone_and_keeps_the_words(alice_client, bob):
    post = services.post_create(author=bob, body="Soon gone")
    url = reverse("accounts:post_quote", args=[post.pk])
    post.delete()
    response = alice_client.post(url, {"body": "My take on it"})
    assert response.status_code == 410 and "My take on it" in response.text and "quote wasn" in response.text
    assert alice_client.get(url).status_code == 404
