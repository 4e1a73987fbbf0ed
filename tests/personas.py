"""The people the tests are about, each defined once here; tests/conftest.py makes them every test's fixtures
(`pytest_plugins`).

Each comment says who the persona is and what tests use them for. A persona is what its name says: `cohost`
is seated as co-host of Maya's live Space, not merely an account called Ivy. Usernames are part of what tests
assert (`You can't invite @sam.`, `@dana's Super Followers`): keep them.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from rooms.models import Participant, Role, Space
from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.ticketing.factories import make_creator


def seat(space: Space, user: User, role: str = Role.LISTENER, **fields) -> Participant:
    """Put `user` in `space` with `role` as the services would (speaker slots included)."""
    from rooms.services import _free_speaker_index

    on_stage = role in (Role.SPEAKER, Role.COHOST)
    index = _free_speaker_index(space) if on_stage else None
    fields.setdefault("first_on_stage_at", timezone.now() if on_stage else None)
    return Participant.objects.create(space=space, user=user, role=role, speaker_index=index, **fields)


# --- people of the social side: plain accounts with no follows, posts or Spaces until a test makes them ---


@pytest.fixture
def alice(db) -> User:
    # Alice is the one who acts: she posts, follows, messages, buys a ticket or tips, and is signed in
    # as `alice_client`.
    return UserFactory(username="alice", display_name="Alice")


@pytest.fixture
def alice_client(client, alice):
    # Alice signed in on the test client.
    client.force_login(alice)
    return client


@pytest.fixture
def bob(db) -> User:
    # Bob is on the other side of what Alice does: followed, messaged, mentioned, or a second buyer.
    return UserFactory(username="bob", display_name="Bob")


@pytest.fixture
def charlie(db) -> User:
    # Charlie is a third account: a stranger to the others, or the one a block or a refusal is about.
    return UserFactory(username="charlie", display_name="Charlie")


# --- people of a Space ---------------------------------------------------------------------------------


@pytest.fixture
def host(db) -> User:
    # Maya hosts: she has enough followers (650) to schedule and start Spaces, and has none yet.
    return make_host(username="maya", display_name="Maya")


@pytest.fixture
def live_space(host) -> Space:
    # Maya's Space "Synths at night", live now with Maya seated as host (speaker slot 0).
    return LiveSpaceFactory(host=host, title="Synths at night")


@pytest.fixture
def cohost(live_space) -> User:
    # Ivy co-hosts Maya's live Space: seated as co-host with a speaker slot, so she may moderate (approve,
    # mute, pin) but not end the Space or remove Maya.
    user = UserFactory(username="ivy", display_name="Ivy")
    seat(live_space, user, Role.COHOST)
    return user


@pytest.fixture
def listener(db) -> User:
    # Sam is the audience: an account with no ties to Maya, in no Space until a test seats him or his socket
    # joins one.
    return UserFactory(username="sam", display_name="Sam")


# --- people of the money side ----------------------------------------------------------------------------


@pytest.fixture
def creator(db) -> User:
    # Dana is a creator who can be paid: 1,000 followers, an adult, a ready payout account at the test
    # provider, enrolled in Super Follows; she sells plans, tickets and takes tips.
    return make_creator()
