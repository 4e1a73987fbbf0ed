"""Rate limits on what one account can do in a burst, shared by every server process."""

import html
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.models import Follow, Message, Post, Report
from spaces_site import ratelimit
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def tight(settings):
    """Limits small enough to reach in a test."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "post": (3, 60), "message": (3, 60), "report": (2, 3600)}
    settings.RATE_LIMITS["follow"] = (2, 3600)
    return settings


def test_a_burst_of_posts_is_refused_with_a_429_and_a_field_error(alice_client, alice, tight):
    pages = [alice_client.post(reverse("accounts:post_create"), {"body": f"post {i}"}) for i in range(5)]
    assert [p.status_code for p in pages] == [302, 302, 302, 429, 429]
    assert "You're posting too fast. Try again in" in text(pages[-1])
    assert pages[-1].context["form"]["body"].value() == "post 4", "what was typed is kept"
    assert Post.objects.filter(author=alice).count() == 3


def test_posting_over_htmx_gets_the_form_back_with_the_error(alice_client, alice, tight):
    for i in range(3):
        alice_client.post(reverse("accounts:post_create"), {"body": f"post {i}"}, HTTP_HX_REQUEST="true")
    refused = alice_client.post(reverse("accounts:post_create"), {"body": "one more"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 429
    assert "You're posting too fast." in text(refused)


def test_a_burst_of_direct_messages_is_refused(alice_client, alice, bob, tight):
    for i in range(3):
        alice_client.post(reverse("accounts:message_new"), {"to": "bob", "body": f"hi {i}"})
    refused = alice_client.post(reverse("accounts:message_new"), {"to": "bob", "body": "hi again"})
    assert refused.status_code == 429
    assert "You're sending messages too fast." in text(refused)
    assert Message.objects.filter(sender=alice).count() == 3


def test_reports_are_limited(alice_client, bob, tight):
    url = reverse("accounts:report", kwargs={"username": "bob"})
    for _ in range(2):
        assert alice_client.post(url, {"reason": "spam"}).status_code == 302
    refused = alice_client.post(url, {"reason": "spam"})
    assert refused.status_code == 429
    assert "You've sent a lot of reports." in text(refused)
    assert Report.objects.count() == 2


def test_follows_are_limited(alice_client, alice, tight):
    people = UserFactory.create_batch(3)
    statuses = [
        alice_client.post(reverse("accounts:follow", kwargs={"username": p.username}), HTTP_HX_REQUEST="true")
        for p in people
    ]
    assert [s.status_code for s in statuses] == [200, 200, 429]
    assert "You're following people too fast." in text(statuses[-1])
    assert Follow.objects.filter(follower=alice).count() == 2


def test_the_limit_is_per_account(client, tight):
    first, second = UserFactory(), UserFactory()
    for who in (first, second):
        client.force_login(who)
        statuses = [client.post(reverse("accounts:post_create"), {"body": "x"}).status_code for _ in range(3)]
        assert statuses == [302, 302, 302]


def test_a_window_boundary_does_not_let_a_burst_through(settings, time_machine):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "post": (5, 60)}
    time_machine.move_to("2026-06-01 12:00:59", tick=False)
    assert all(ratelimit.allowed("post", "someone") for _ in range(5))
    time_machine.move_to("2026-06-01 12:01:01", tick=False)  # a new fixed window has just begun
    assert not ratelimit.allowed("post", "someone"), "the last minute already held five"
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.check("post", "someone")
    assert 1 <= refused.value.retry_after <= 60
    time_machine.move_to("2026-06-01 12:02:00", tick=False)
    assert ratelimit.allowed("post", "someone")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the cache every server process shares")
def test_a_limit_used_up_in_another_process_holds_in_this_one(settings, alice_client, alice):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "post": (3, 600)}
    code = (
        "import django; django.setup(); from spaces_site import ratelimit; "
        f"print([ratelimit.allowed('post', {alice.pk}, rate=(3, 600)) for _ in range(3)])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.test",
        "DJANGO_RATE_LIMIT_KEY_PREFIX": django_settings.RATE_LIMIT_KEY_PREFIX,
    }
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == "[True, True, True]", other.stderr
    refused = alice_client.post(reverse("accounts:post_create"), {"body": "from another server"})
    assert refused.status_code == 429
