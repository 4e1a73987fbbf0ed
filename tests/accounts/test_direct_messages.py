"""Direct messages: an open conversation fetches what arrived, and who may message whom."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import Message, User

pytestmark = pytest.mark.django_db


def test_an_open_conversation_fetches_only_the_newer_messages_and_reads_them(client, alice, bob):
    first = services.message_send(sender=bob, recipient=alice, body="first")
    services.message_send(sender=bob, recipient=alice, body="second <b>bold</b>")
    client.force_login(alice)
    url = reverse("accounts:conversation_new", args=[first.conversation_id])
    response = client.get(url, {"after": first.pk})
    assert response.status_code == 200
    assert "second &lt;b&gt;bold&lt;/b&gt;" in response.text and "first" not in response.text
    assert not Message.objects.filter(recipient=alice, read_at__isnull=True).exists()


def test_fetching_new_messages_needs_a_message_id_and_your_own_conversation(client, alice, bob, charlie):
    message = services.message_send(sender=bob, recipient=alice, body="hi")
    url = reverse("accounts:conversation_new", args=[message.conversation_id])
    client.force_login(alice)
    assert client.get(url, {"after": "x"}).status_code == 400
    assert client.get(url, {"after": "²"}).status_code == 400  # a digit to str.isdigit(), no number to int()
    client.force_login(charlie)
    assert client.get(url, {"after": "0"}).status_code == 404


def test_someone_who_takes_no_messages_gets_none(alice, bob):
    bob.message_policy = User.MessagePolicy.NOBODY
    bob.save()
    with pytest.raises(ValidationError, match="@bob doesn't accept direct messages"):
        services.message_send(sender=alice, recipient=bob, body="hello?")
    assert not Message.objects.exists()


def test_only_people_followed_may_message_when_so_set(alice, bob):
    bob.message_policy = User.MessagePolicy.FOLLOWED
    bob.save()
    with pytest.raises(ValidationError, match="only accepts messages from people they follow"):
        services.message_send(sender=alice, recipient=bob, body="hello?")
    services.follow_create(follower=bob, followee=alice)
    assert services.message_send(sender=alice, recipient=bob, body="hello!").body == "hello!"


def test_the_refusal_is_a_clear_error_and_keeps_the_text(alice_client, bob):
    bob.message_policy = User.MessagePolicy.NOBODY
    bob.save()
    response = alice_client.post(reverse("accounts:message_new"), {"to": "bob", "body": "my long thoughts"})
    assert response.status_code == 200
    assert "@bob doesn&#x27;t accept direct messages." in response.text
    assert "my long thoughts" in response.text


def test_the_setting_is_on_the_profile_page(alice_client, alice):
    page = alice_client.get(reverse("accounts:profile_edit")).text
    assert "Who can message you" in page and "Only people I follow" in page
    response = alice_client.post(
        reverse("accounts:profile_edit"), {"display_name": "Alice", "message_policy": "followed", "time_zone": ""}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.message_policy == User.MessagePolicy.FOLLOWED


def test_a_conversation_across_a_block_says_why_instead_of_offering_a_message_box(client, alice, bob):
    message = services.message_send(sender=alice, recipient=bob, body="before the block")
    services.block_create(blocker=alice, blocked=bob)
    url = message.conversation.get_absolute_url()
    for who, reason in [(alice, "You blocked @bob; unblock them to send a message."), (bob, "@alice isn")]:
        client.force_login(who)
        html = client.get(url).text
        assert "before the block" in html and reason in html
        assert 'name="body"' not in html


def test_a_conversation_with_someone_who_takes_no_messages_says_so(client, alice, bob):
    message = services.message_send(sender=alice, recipient=bob, body="hello")
    User.objects.filter(pk=bob.pk).update(message_policy=User.MessagePolicy.NOBODY)
    client.force_login(alice)
    html = client.get(message.conversation.get_absolute_url()).text
    assert "@bob doesn" in html and 'name="body"' not in html
    client.force_login(bob)
    assert 'name="body"' in client.get(message.conversation.get_absolute_url()).text
