"""Going live to a big audience: the host's request only enqueues, notices go out in batches from the
workers, each batch once, none across a block, and pushes cost one message per server process."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.urls import reverse

from accounts import online
from accounts.models import Block, Follow, Notification, User
from rooms import access, live_notices, services
from rooms.models import Reminder, Space
from rooms.tasks import notify_space_live, notify_space_live_batch, push_live_bubble
from tests.accounts.factories import UserFactory
from tests.rooms.factories import SpaceFactory, make_host
from tests.sockets import me_socket


def followed_by(host, count: int) -> list[int]:
    fans = UserFactory.create_batch(count)
    Follow.objects.bulk_create([Follow(follower=fan, followee=host) for fan in fans])
    return [fan.pk for fan in fans]


def live_notices_to(space) -> list[int]:
    notices = Notification.objects.filter(kind=Notification.Kind.SPACE_LIVE, group_key=f"space_live:{space.pk}")
    return sorted(notices.values_list("recipient_id", flat=True))


@pytest.fixture
def batches(monkeypatch):
    """Each batch task the go-live plan enqueues, as (space id, recipient ids), run in-process as enqueued."""
    seen: list[tuple[int, list[int]]] = []

    class Recording:
        @staticmethod
        def delay(space_id, recipient_ids):
            seen.append((space_id, list(recipient_ids)))
            return notify_space_live_batch.apply((space_id, recipient_ids))

    monkeypatch.setattr(live_notices, "notify_space_live_batch_task", Recording)
    return seen


@pytest.mark.django_db
def test_followers_and_reminded_people_are_told_in_batches_of_the_set_size(
    host, listener, settings, batches, django_capture_on_commit_callbacks
):
    settings.SPACES_LIVE_NOTICE_BATCH = 4
    fans = followed_by(host, 10)
    space = SpaceFactory(host=host)
    Reminder.objects.create(space=space, user=listener)  # not a follower
    Reminder.objects.create(space=space, user_id=fans[0])  # both: told once
    with django_capture_on_commit_callbacks(execute=True):
        services.space_start(space=space, by=host)
    assert [len(ids) for _, ids in batches] == [4, 4, 3]
    told = [user_id for _, ids in batches for user_id in ids]
    assert told == sorted(told) and len(set(told)) == 11 and host.pk not in told
    assert live_notices_to(space) == sorted([*fans, listener.pk])


@pytest.mark.django_db
def test_a_retried_go_live_tells_only_those_a_failed_batch_missed(host, settings, batches):
    settings.SPACES_LIVE_NOTICE_BATCH = 3
    fans = followed_by(host, 7)
    space = SpaceFactory(host=host, state=Space.State.LIVE, scheduled_for=None)
    assert notify_space_live_batch(space.pk, fans[:3]) == 3  # the first batch ran, then the plan failed
    assert notify_space_live(space.pk) == 4
    assert [ids for _, ids in batches] == [fans[3:6], fans[6:]]
    assert notify_space_live(space.pk) == 0  # a retry after all were told enqueues nothing
    assert notify_space_live_batch(space.pk, fans[:3]) == 0  # nor does a redelivered batch write anything
    assert live_notices_to(space) == sorted(fans)


@pytest.mark.django_db
def test_nobody_blocked_either_way_hears_the_host_is_live(host, listener, django_capture_on_commit_callbacks):
    fans = followed_by(host, 3)
    Block.objects.create(blocker=host, blocked_id=fans[0])
    Block.objects.create(blocker_id=fans[1], blocked=host)
    space = SpaceFactory(host=host)
    Reminder.objects.create(space=space, user=listener)
    Block.objects.create(blocker=host, blocked=listener)
    with django_capture_on_commit_callbacks(execute=True):
        services.space_start(space=space, by=host)
    assert live_notices_to(space) == [fans[2]]


@pytest.mark.django_db
def test_a_batch_for_a_space_that_ended_meanwhile_writes_nothing(host):
    fans = followed_by(host, 2)
    space = SpaceFactory(host=host, state=Space.State.ENDED, scheduled_for=None)
    assert notify_space_live_batch(space.pk, fans) == 0
    assert live_notices_to(space) == []


@pytest.mark.django_db
def test_the_hosts_request_returns_live_and_joinable_before_any_notice_is_written(
    client, host, listener, monkeypatch, django_capture_on_commit_callbacks
):
    """As with a broker: the request only enqueues; the notices are written when a worker runs the task."""
    fans = followed_by(host, 5)
    space = SpaceFactory(host=host)
    queued = []
    for task in (notify_space_live, push_live_bubble):
        monkeypatch.setattr(
            task, "apply_async", lambda args, kwargs=None, _task=task, **options: queued.append((_task, args))
        )
    client.force_login(host)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rooms:start", args=[space.pk]))
    assert response.status_code == 302
    space.refresh_from_db()
    assert space.state == Space.State.LIVE
    assert access.can_join(space=space, user=listener, participant=None)
    assert live_notices_to(space) == []
    assert [(task.name, args) for task, args in queued] == [
        ("rooms.tasks.notify_space_live", (space.pk,)),
        ("rooms.tasks.push_live_bubble", (space.pk, host.pk, "add")),
    ]
    for task, args in queued:  # the worker's turn
        task.apply(args)
    assert live_notices_to(space) == sorted(fans)


async def wait_until_online(user_ids: list[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while sum(map(len, (await sync_to_async(online.hubs_holding)(user_ids)).values())) < len(user_ids):
        assert time.monotonic() < deadline, "the hub never published who is online"
        await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_pushes_go_once_to_each_process_holding_online_followers_not_once_per_follower(monkeypatch):
    host = await sync_to_async(make_host)()
    fans = await sync_to_async(followed_by)(host, 6)
    here, elsewhere, offline = fans[:3], fans[3], fans[4:]
    space = await sync_to_async(SpaceFactory)(host=host)
    layer = get_channel_layer()
    sends: list[tuple[str, dict]] = []
    group_sends: list[str] = []
    real_send, real_group_send = layer.send, layer.group_send

    async def send(channel, message):
        sends.append((channel, message))
        await real_send(channel, message)

    async def group_send(group, message):
        group_sends.append(group)
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "send", send)
    monkeypatch.setattr(layer, "group_send", group_send)
    sockets = [await me_socket(user) for user in await sync_to_async(list)(User.objects.filter(pk__in=here))]
    await wait_until_online(here)
    # Another server process holding one follower: its hub is in the registry like ours.
    other_process = "specific.elsewhere!test"
    await sync_to_async(online.registry().publish)(other_process, [elsewhere])
    try:
        await sync_to_async(services.space_start)(space=space, by=host)
        for socket in sockets:
            got = [await socket.receive_json_from(timeout=5) for _ in range(2)]
            assert sorted(event["type"] for event in got) == ["live_bubble", "notification"]
        hub_messages = [
            (channel, message["event"]["type"], message["user_ids"])
            for channel, message in sends
            if message.get("type") == online.MESSAGE_TYPE
        ]
        ours = online._hub().channel  # this process's hub; stale hubs of other runs may share the registry
        mine = sorted((kind, ids) for channel, kind, ids in hub_messages if channel == ours)
        theirs = sorted((kind, ids) for channel, kind, ids in hub_messages if channel == other_process)
        assert mine == [("live_bubble", here), ("notification", here)]
        assert theirs == [("live_bubble", [elsewhere]), ("notification", [elsewhere])]
        assert not [group for group in group_sends if group.startswith("user.")]  # nothing per follower
        assert not set(offline) & {uid for _, _, ids in hub_messages for uid in ids}
    finally:
        await sync_to_async(online.registry().publish)(other_process, [])
        for socket in sockets:
            await socket.disconnect()
