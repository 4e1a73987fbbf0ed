import pytest
from django.core.management import call_command

from accounts.models import Follow, Post, User

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
