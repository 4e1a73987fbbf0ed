"""Factories for Spaces and the people in them."""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import User
from rooms.models import Participant, Role, RoomSocket, Space
from tests.accounts.factories import UserFactory


def make_host(**kwargs) -> User:
    """An account with enough followers to host (the count is what the rule reads)."""
    user = UserFactory(**kwargs)
    User.objects.filter(pk=user.pk).update(followers_count=650)
    user.refresh_from_db()
    return user


class SpaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Space

    host = factory.LazyFunction(make_host)
    title = factory.Sequence(lambda n: f"Space number {n}")
    topics = "music,tech"
    scheduled_for = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class LiveSpaceFactory(SpaceFactory):
    class Meta:
        skip_postgeneration_save = True

    state = Space.State.LIVE
    scheduled_for = None
    started_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def host_seat(obj, create, extracted, **kwargs):
        if create:
            Participant.objects.create(space=obj, user=obj.host, role=Role.HOST, speaker_index=0)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    space = factory.SubFactory(LiveSpaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.LISTENER


def fill(space: Space, server, how_many: int) -> list[Participant]:
    """`how_many` listeners with an open socket each, written in bulk (the factories would take minutes)."""
    start = User.objects.count()
    users = User.objects.bulk_create(
        User(username=f"crowd{start + i}", email=f"crowd{start + i}@example.com") for i in range(how_many)
    )
    participants = Participant.objects.bulk_create(Participant(space=space, user=user) for user in users)
    RoomSocket.objects.bulk_create(RoomSocket(participant=p, process=server) for p in participants)
    return participants
