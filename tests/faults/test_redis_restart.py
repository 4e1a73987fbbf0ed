"""Redis restarted mid-Space (it keeps nothing on disk, so every group membership vanishes): the room recovers
by itself on every server process, and what was committed meanwhile is not lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from accounts.events import push_to_user, push_to_users
from rooms.models import Participant, Role
from tests.accounts.factories import UserFactory
from tests.faults.clients import MeClient, RoomClient, Speaker, run_scenario, running, until
from tests.faults.conftest import needs_deployed_services
from tests.personas import seat
from tests.rooms.factories import LiveSpaceFactory, make_host
from tests.sockets import session_cookie

pytestmark = [needs_deployed_services, pytest.mark.django_db(transaction=True)]


def test_redis_restart_mid_space_control_events_flow_again_on_every_process(servers, fault_redis):
    host = make_host()
    space = LiveSpaceFactory(host=host)
    speaker = UserFactory()
    seat(space, speaker, Role.SPEAKER, muted=False)
    speaker_index = Participant.objects.get(user=speaker).speaker_index
    listeners = UserFactory.create_batch(4)
    hand, victim, late = UserFactory.create_batch(3)
    cookies = {user.pk: session_cookie(user) for user in [host, speaker, *listeners, hand, victim, late]}
    addresses = [f"127.0.0.1:{server.port}" for server in servers]

    def client(user, first: int, kind=RoomClient) -> RoomClient:
        return kind(user.username, addresses, space.pk, cookies[user.pk], first=first)

    async def scenario() -> dict:
        host_c = client(host, 0)
        speaker_c = client(speaker, 1, Speaker)
        listener_cs = [client(user, i % 2) for i, user in enumerate(listeners)]
        hand_c, victim_c = client(hand, 0), client(victim, 1)
        hearing = [host_c, *listener_cs, hand_c, victim_c]
        everyone = [speaker_c, *hearing]
        me_c = MeClient(addresses, cookies[host.pk])  # the host's bell and bubbles on another page
        started = [me_c, *everyone]
        async with running(started):
            await until(
                lambda: all(c.live for c in everyone) and me_c.socket is not None, 30, "everyone to be welcomed"
            )
            await until(lambda: all(any(f[1] == speaker_index for f in c.frames) for c in hearing), 15, "audio to flow")

            # Redis goes away; meanwhile a listener raises a hand (committed; the event has nowhere to go).
            await asyncio.to_thread(fault_redis.stop)
            down_at = time.monotonic()
            await listener_cs[3].send({"type": "raise_hand"})
            await until(lambda: Participant.objects.get(user=listeners[3]).hand_raised_at is not None, 5, "the hand")
            await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - down_at)))
            await asyncio.to_thread(fault_redis.start)  # returns once Redis answers PING
            up = time.monotonic()

            await until(lambda: all(c.live for c in everyone), 10, "every socket to be back")
            # Control events: a listener's hand goes up and down until every socket on both processes hears it.
            heard = {}
            raised = True
            while len(heard) < len(everyone):
                raised = not raised
                await hand_c.send({"type": "raise_hand" if raised else "lower_hand"})
                probe_deadline = time.monotonic() + 0.3
                while time.monotonic() < probe_deadline:
                    for c in everyone:
                        if c.name not in heard and any(e["user_id"] == hand.pk for e in c.events_of("hand", up)):
                            heard[c.name] = time.monotonic()
                    await asyncio.sleep(0.02)
                assert time.monotonic() - up < 15, (
                    f"control events never came back to {set(c.name for c in everyone) - set(heard)}"
                )
            control_s = max(heard.values()) - up

            # The /ws/me/ socket (its own channel and group) hears pushes again too.
            probe = 0
            while not [e for at, e in me_c.events if at >= up and e["type"] == "probe"]:
                probe += 1
                await asyncio.to_thread(push_to_user, host.pk, {"type": "probe", "n": probe})
                await asyncio.sleep(0.3)
                assert time.monotonic() - up < 15, "pushes to /ws/me/ never came back"
            me_s = min(at for at, e in me_c.events if at >= up and e["type"] == "probe") - up
            # A push to many people (go-live notices, bubbles) finds the socket's process again: its hub
            # publishes who is online there as soon as Redis is back.
            probe = 0
            while not [e for at, e in me_c.events if at >= up and e["type"] == "many_probe"]:
                probe += 1
                await asyncio.to_thread(push_to_users, [host.pk], {"type": "many_probe", "n": probe})
                await asyncio.sleep(0.3)
                assert time.monotonic() - up < 15, "pushes to many people never came back"
            me_many_s = min(at for at, e in me_c.events if at >= up and e["type"] == "many_probe") - up
            await until(
                lambda: all(any(f[0] >= up and f[1] == speaker_index for f in c.frames) for c in hearing),
                10,
                "audio to flow again to every listener",
            )
            audio_s = max(min(f[0] for f in c.frames if f[0] >= up) for c in hearing) - up

            # What was committed during the outage reached the host (a fresh welcome after the catch-up).
            await until(
                lambda: any(
                    p["user_id"] == listeners[3].pk and p["hand"]
                    for w in host_c.events_of("welcome", up)
                    for p in w["listeners"]
                ),
                10,
                "the hand raised during the outage to reach the host",
            )

            # Presence arrives live on the other process, and the count is the truth.
            late_c = client(late, 1)
            everyone.append(late_c)
            started.append(late_c)
            late_c.start()
            await until(lambda: late_c.live, 10, "the late listener's welcome")
            await until(
                lambda: any(late.pk in [p["user_id"] for p in e["joined"]] for e in host_c.events_of("presence", up)),
                10,  # a join's presence goes out with the next batch; the 5 s goal is checked above
                "presence of the late listener on the host's process",
            )
            counted = late_c.welcomes[-1][2]["listener_count"]
            true_listeners = len([*listener_cs, hand_c, victim_c, late_c])

            # Bad input on the live server: an error, and the socket keeps working.
            await listener_cs[2].send_raw("[" * 2000 + "]" * 2000)
            await until(lambda: listener_cs[2].events_of("error", up), 5, "an error for the nested message")

            # A mute stops the speaker's frames at every listener, though the speaker's client keeps sending.
            await host_c.send({"type": "mute", "user_id": speaker.pk})
            await until(
                lambda: any(
                    e["participant"]["user_id"] == speaker.pk and e["participant"]["muted"]
                    for e in speaker_c.events_of("role_changed", up)
                ),
                5,
                "the speaker to hear of the mute",
            )
            muted_at_sequence = speaker_c.sequence
            await until(lambda: speaker_c.sequence >= muted_at_sequence + 50, 10, "the speaker to send on")
            # A socket's messages are handled in order: the pong says the server has dealt with every frame
            # sent before the ping (relayed or dropped). A leaked one would then be a relay hop away.
            asked = time.monotonic()
            await speaker_c.send({"type": "ping"})
            await until(lambda: speaker_c.events_of("pong", asked), 10, "the speaker's server to catch up")
            await asyncio.sleep(1)  # one relay hop's window, counted from when the frames were surely handled
            leaked = [f for c in hearing for f in c.frames if f[1] == speaker_index and f[2] > muted_at_sequence]
            assert not leaked, f"{len(leaked)} frames of the muted speaker reached listeners"

            # A removal closes the removed socket; an end closes every socket.
            await host_c.send({"type": "remove", "user_id": victim.pk})
            await until(lambda: victim_c.final == 4403, 5, "the removed listener's socket to close with 4403")
            await host_c.send({"type": "end"})
            await until(
                lambda: all(c.final == 4410 for c in everyone if c is not victim_c),
                5,
                "every socket to close with 4410",
            )
            return {
                "control_s": control_s,
                "audio_s": audio_s,
                "me_s": me_s,
                "me_many_s": me_many_s,
                "counted": counted,
                "true": true_listeners,
            }

    figures = run_scenario(scenario(), servers)
    print(
        f"\nFAULT redis_restart: control events flow again {figures['control_s']:.2f} s after Redis answered "
        f"(audio {figures['audio_s']:.2f} s, /ws/me/ pushes {figures['me_s']:.2f} s, to many people "
        f"{figures['me_many_s']:.2f} s); "
        f"listener count {figures['counted']} vs true {figures['true']}"
    )
    assert figures["control_s"] <= 5
    assert figures["me_s"] <= 5
    assert figures["me_many_s"] <= 5
    assert figures["counted"] == figures["true"]
