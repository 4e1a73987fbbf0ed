"""`next` only ever leads back to this site (spaces_site.http.safe_next), wherever a form carries it."""

import pytest
from django.urls import reverse

from accounts.models import Post
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

ELSEWHERE = ["https://evil.example/phish", "//evil.example/phish", "https:evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_post_delete_follow_and_unfollow_never_redirect_off_site(alice_client, alice, target):
    bob = UserFactory(username="bob")
    post = Post.objects.create(author=alice, body="hello")
    deleted = alice_client.post(reverse("accounts:post_delete", kwargs={"pk": post.pk}), {"next": target})
    assert deleted.status_code == 302 and deleted["Location"] == reverse("home")
    followed = alice_client.post(reverse("accounts:follow", kwargs={"username": "bob"}), {"next": target})
    assert followed["Location"] == bob.get_absolute_url()
    unfollowed = alice_client.post(reverse("accounts:unfollow", kwargs={"username": "bob"}), {"next": target})
    assert unfollowed["Location"] == bob.get_absolute_url()


def test_a_next_on_this_site_is_followed(alice_client, alice):
    UserFactory(username="bob")
    followed = alice_client.post(reverse("accounts:follow", kwargs={"username": "bob"}), {"next": "/spaces/?q=jazz"})
    assert followed["Location"] == "/spaces/?q=jazz"
    form = {"text_size": "medium", "position": "bottom", "caption_my_voice": "on"}
    back = alice_client.post(reverse("captions:preferences"), {**form, "next": "/spaces/"})
    assert back["Location"] == "/spaces/"
    away = alice_client.post(reverse("captions:preferences"), {**form, "next": "https://evil.example/"})
    assert away["Location"] == reverse("captions:preferences")


def test_the_studio_login_keeps_only_a_local_next(client):
    response = client.get("/studio/login/?next=https://evil.example/")
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
