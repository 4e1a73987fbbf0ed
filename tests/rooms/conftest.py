"""Personas for rooms tests: a host with enough followers, a co-host, listeners."""

import pytest

from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host


@pytest.fixture
def host(db):
    return make_host(username="maya", display_name="Maya")


@pytest.fixture
def listener(db):
    return UserFactory(username="sam", display_name="Sam")


@pytest.fixture
def cohost(db):
    return UserFactory(username="ivy", display_name="Ivy")


@pytest.fixture
def live_space(host):
    return LiveSpaceFactory(host=host, title="Synths at night")


def seat(space, user, role=Role.LISTENER, **fields) -> Participant:
    """Put `user` in `space` with `role` as the services would (speaker slots included)."""
    from rooms.services import _free_speaker_index

    index = _free_speaker_index(space) if role in (Role.SPEAKER, Role.COHOST) else None
    return Participant.objects.create(space=space, user=user, role=role, speaker_index=index, **fields)


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Run Celery tasks in the test process even when REDIS_URL points at a real broker."""
    from spaces_site.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
