"""The production shape's background path: a real Celery worker consuming the Redis broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from accounts import services as account_services
from accounts.models import Notification
from rooms import services as room_services
from spaces_site.celery import app
from tests.accounts.factories import UserFactory
from tests.rooms.factories import SpaceFactory, make_host

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: the embedded default runs tasks in-process"),
]


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_going_live_notifies_followers_through_a_worker_on_the_broker():
    assert not app.conf.task_always_eager
    host = make_host(username="maya")
    followers = UserFactory.create_batch(3)
    for follower in followers:
        account_services.follow_create(follower=follower, followee=host)
    space = SpaceFactory(host=host, title="Synths")

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        room_services.space_start(space=space, by=host)
        delivered = wait_for(
            lambda: Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE).count() == len(followers)
        )

    assert delivered, "the worker did not deliver the go-live notifications"
    notified = set(Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE).values_list("recipient", flat=True))
    assert notified == {f.pk for f in followers}


def test_going_live_returns_at_once_and_a_worker_then_tells_every_follower_in_batches(settings):
    """The host's call only enqueues: the Space is live with nobody told yet; a worker started afterwards
    writes the notices, a batch per task."""
    settings.SPACES_LIVE_NOTICE_BATCH = 2
    host = make_host(username="maya")
    followers = UserFactory.create_batch(5)
    for follower in followers:
        account_services.follow_create(follower=follower, followee=host)
    space = SpaceFactory(host=host, title="Synths")

    room_services.space_start(space=space, by=host)
    space.refresh_from_db()
    assert space.state == space.State.LIVE
    live = Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE)
    assert not live.exists()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        delivered = wait_for(lambda: live.count() == len(followers))

    assert delivered, "the worker did not deliver the go-live notifications"
    assert set(live.values_list("recipient", flat=True)) == {f.pk for f in followers}
