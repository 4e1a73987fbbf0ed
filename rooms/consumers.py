"""The live room socket: JSON control events plus binary audio frames (rooms/PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError

from accounts.models import Post, User
from spaces_site import ratelimit
from spaces_site.close_codes import CloseCode
from spaces_site.dispatch import DirectDispatch
from spaces_site.http import error_text

from . import (
    access,
    admission,
    encode_once,
    fanout,
    headcount,
    join_batches,
    leases,
    media,
    questions,
    selectors,
    services,
    socket_cap,
)
from .models import SPEAKING_ROLES, Participant, Role, Space
from .presence import TokenBucket, batcher

log = logging.getLogger(__name__)

REACTIONS = ("💯", "✋", "👏", "😂", "❤️", "🙏", "✅", "🔥", "🎉")


class SpaceConsumer(DirectDispatch, AsyncWebsocketConsumer):
    # Room events come through rooms.fanout (one channel per process), never to a channel of this socket, so
    # a channel-layer outage cannot take the socket down with it.
    channel_layer_alias = None
    space_id: int | None = None
    socket_id: int | None = None
    join_task: asyncio.Future | None = None
    admit_task: asyncio.Future | None = None  # waiting in line (rooms/admission.py), then joining
    joined = False
    inside = False  # joined and welcomed: the socket's `_enter` has run to its end
    closing = False
    gone = False  # the client closed the socket
    direct_writer: encode_once.DirectWriter | None = None  # read by rooms.media

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A consumer that fails for any reason, or that its server cancels, still leaves.
            await asyncio.shield(self._leave())

    async def connect(self) -> None:
        await self.accept()
        self.direct_writer = encode_once.direct_writer(self.base_send)
        user = self.scope.get("user")
        self.space_id = int(self.scope["url_route"]["kwargs"]["space_id"])
        if user is None or not user.is_authenticated:
            await self._refuse("Log in to join Spaces.", CloseCode.UNAUTHENTICATED)
            return
        self.user = user
        gate = admission.gate()
        if await gate.admit_at_once(self, self.space_id, user.pk):
            await self._enter_or_refuse()
            return
        # The process is full or taking joins as fast as it may: wait in line, off this consumer's message loop,
        # so that a close while waiting is seen at once and takes the socket out of the line.
        turn, position, seconds = gate.wait(self, self.space_id, user.pk)
        self.admit_task = asyncio.ensure_future(self._wait_in_line(turn))
        await self.line_update(position, seconds)

    async def _wait_in_line(self, turn: asyncio.Future) -> None:
        await turn
        await self._enter_or_refuse()

    async def _enter_or_refuse(self) -> None:
        try:
            await self._enter()
        except Exception:
            # The join failed (the database was away, say), or the socket closed as it was let in from the line
            # (its server then refuses to send on it); its leave path takes it out of the room either way.
            log.warning("a room socket could not join", exc_info=True)
            with contextlib.suppress(RuntimeError, OSError):  # only a socket that is already closed refuses this
                await self._refuse("Joining failed; reconnecting.", CloseCode.INTERNAL_ERROR)

    async def line_update(self, position: int, seconds: int | None) -> None:
        """Called by rooms.admission while this socket waits for a place."""
        if not self.closing and not self.joined:
            await self._send_event({"type": "waiting", "position": position, "seconds": seconds})

    async def _enter(self) -> None:
        space_id = cast(int, self.space_id)
        try:
            # The join runs on as a task of its own if this socket goes meanwhile, so that `_leave` can wait
            # for the row it writes instead of leaving before it exists (a ghost listener).
            self.join_task = asyncio.ensure_future(self._join(await leases.process_id()))
            joined = await asyncio.shield(self.join_task)
            leases.opened(cast(int, self.socket_id), self.participant_id)
        except access.AdmissionRefused as refused:
            await self._refuse(refused.decision.reason, refused.decision.code)
            return
        except Space.DoesNotExist:
            await self._refuse("There is no such Space.", CloseCode.NOT_FOUND)
            return
        self.joined = True
        self.text_bucket = TokenBucket(settings.SPACES_TEXT_MESSAGES_PER_10S, 10)
        self.frame_bucket = TokenBucket(settings.SPACES_FRAMES_PER_10S, 10)
        self.media_rate = media.MediaRateLimit()
        self.dropped_frames = 0
        await fanout.attach(space_id, self)
        await media.attach(space_id, self, acks=True)
        headcount.watch()
        snapshot = joined.welcome
        headcount.seen(space_id, snapshot["listener_count"] + len(snapshot["speakers"]))
        await self.send(text_data=joined.text)
        if self.first_connection:
            batcher().joined(space_id, snapshot["me"])
        else:  # a first connection is this person's only socket: nothing to supersede
            await database_sync_to_async(socket_cap.sockets_supersede)(
                space_id=space_id, participant_id=self.participant_id
            )
        self.inside = True

    @property
    def sheddable(self) -> bool:
        """Read by rooms.admission: a listener in the room may be sent back into line; the stage never is."""
        return self.inside and not self.closing and self.role == Role.LISTENER

    async def back_in_line(self) -> None:
        """Called by rooms.admission when this process's relay runs late: leave the room, still connected, and
        wait first in line; let in again, the socket joins as it did the first time and gets a new `welcome`."""
        if not self.sheddable:
            return  # it joined the stage meanwhile, or is closing: it keeps its place
        gate = admission.gate()
        gate.leave(self, shed=True)
        await self._leave()
        if self.gone or self.closing:
            return
        turn, position, seconds = gate.wait(self, cast(int, self.space_id), self.user.pk, first=True)
        self.admit_task = asyncio.ensure_future(self._wait_in_line(turn))
        await self._send_event({"type": "waiting", "position": position, "seconds": seconds, "sent_back": True})

    async def _join(self, process_id: int) -> join_batches.Joined:
        joined = await join_batches.for_this_loop().join(cast(int, self.space_id), self.user, process_id)
        self.socket_id, self.participant_id = joined.participant.socket_id, joined.participant.pk
        self._remember(joined.welcome["me"])
        self.first_connection = joined.participant.first_connection
        return joined

    async def resync(self, delay: float = 0) -> None:
        """Called by rooms.fanout after Redis lost the room's events for a while: apply what changed meanwhile
        (a removal, the end, this socket's role) and send a fresh `welcome`."""
        await asyncio.sleep(delay)
        if not self.joined or self.closing:
            return
        try:
            snapshot = await database_sync_to_async(self._snapshot)()
        except Exception:
            log.warning("could not catch a room socket up", exc_info=True)
            return
        if snapshot["space"]["state"] != Space.State.LIVE:
            await self._refuse("This Space has ended.", CloseCode.ENDED)
        elif snapshot["removed"]:
            await self._refuse("You were removed from this Space.", CloseCode.FORBIDDEN)
        elif self.joined and not self.closing:
            self._remember(snapshot["me"])
            await self._send_event({key: value for key, value in snapshot.items() if key != "removed"})

    def _snapshot(self) -> dict:
        participant = Participant.objects.select_related("user", "space").get(pk=self.participant_id)
        return {**selectors.room_snapshot(space=participant.space, me=participant), "removed": participant.removed}

    def _remember(self, payload: dict) -> None:
        self.role = payload["role"]
        self.muted = payload["muted"]
        self.speaker_index = payload["speaker_index"]

    async def _refuse(self, reason: str, code: int) -> None:
        self.closing = True
        admission.gate().leave(self)  # a closing socket holds no place
        await self._send_event({"type": "error", "code": "refused", "message": reason, "close_code": code})
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.gone = True
        await self._leave()

    async def _leave(self) -> None:
        """Leave the line or give the place back, detach from the fan-out and the relay and close this socket's
        row; safe to run twice."""
        self.joined = self.inside = False
        admission.gate().leave(self)
        if self.admit_task is not None and not self.admit_task.done():
            # Let in from the line a moment ago, perhaps in the middle of its join: stop it there.
            self.admit_task.cancel()
            await asyncio.wait([self.admit_task])
            self.joined = False
        if self.join_task is not None and not self.join_task.done():
            await asyncio.wait([self.join_task])
            if not self.join_task.cancelled():
                self.join_task.exception()  # a refusal nobody awaits any more: read, so it is not logged as lost
        socket_id, self.socket_id = self.socket_id, None
        if self.space_id is None:
            return
        await media.detach(self.space_id, self)
        await fanout.detach(self.space_id, self)
        if socket_id is None:
            return
        leases.closed(socket_id)
        try:
            last = await database_sync_to_async(services.participant_leave)(socket_id=socket_id)
        except Exception:
            log.warning("could not record a room socket closing; retrying with the lease", exc_info=True)
            leases.leave_later(socket_id, self.space_id, self.user.pk)
            return
        if last:
            batcher().left(self.space_id, self.user.pk, on_stage=self.role in SPEAKING_ROLES)

    # --- inbound -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined or self.closing:
            return
        try:
            await self._receive(text_data, bytes_data)
        except Exception:
            # Whatever a message does, the socket lives on and says so.
            log.exception("a room message failed")
            await self._error("internal", "That message could not be handled; try again.")

    async def _receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if bytes_data is not None:
            await self._receive_frame(bytes_data)
            return
        text_data = text_data or ""  # a websocket message is text or bytes; "" is answered as bad JSON
        if not self.text_bucket.take():
            await self._refuse("Too many messages; slow down.", CloseCode.FLOOD)
            return
        if len(text_data.encode()) > settings.SPACES_MAX_TEXT_MESSAGE_BYTES:
            await self._error("too_large", f"Messages can be at most {settings.SPACES_MAX_TEXT_MESSAGE_BYTES} bytes.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("bad_json", "That message is not valid JSON.")
            return
        except RecursionError:
            await self._error("bad_json", "That message is nested too deeply.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._error("bad_message", "Each message is a JSON object with a string `type`.")
            return
        kind = content["type"]
        handler = getattr(self, f"on_{kind}", None)
        if handler is None or kind not in access.KNOWN_ACTIONS:
            await self._error("unknown_type", f"Unknown message type {kind[:40]!r}.", ref=kind[:40])
            return
        if not access.role_allows(self.role, kind):
            await self._error("forbidden", f"A {self.role} can't {kind.replace('_', ' ')}.", ref=kind)
            return
        await handler(content)

    async def _receive_frame(self, frame: bytes) -> None:
        if not self.frame_bucket.take():
            await self._refuse("Too many audio frames.", CloseCode.FLOOD)
            return
        if not self.media_rate.allow(len(frame)):
            await self._refuse("Too much audio: at most 64,000 bytes and 100 frames a second.", CloseCode.FLOOD)
            return
        if not access.role_allows(self.role, "speak") or self.muted or self.speaker_index is None:
            self.dropped_frames += 1
            return
        try:
            media.validate_frame(frame)
        except media.FrameError as exc:
            await self._refuse(str(exc), exc.close_code)
            return
        media.publish(cast(int, self.space_id), self.speaker_index, frame)

    async def _error(self, code: str, message: str, ref: str = "") -> None:
        event = {"type": "error", "code": code, "message": message}
        if ref:
            event["ref"] = ref
        await self._send_event(event)

    async def _call(self, kind: str, service, **kwargs) -> bool:
        try:
            await database_sync_to_async(self._run_service)(service, kwargs)
        except PermissionDenied as exc:
            await self._error("forbidden", str(exc) or "You can't do that.", ref=kind)
            return False
        except ratelimit.RateLimited as exc:
            await self._error("rate_limited", error_text(exc), ref=kind)
            return False
        except ValidationError as exc:
            await self._error("invalid", error_text(exc), ref=kind)
            return False
        except Post.DoesNotExist:
            await self._error("not_found", "No such post.", ref=kind)
            return False
        except (User.DoesNotExist, Participant.DoesNotExist):
            await self._error("not_found", "No such person in this Space.", ref=kind)
            return False
        except DatabaseError:
            # The transaction rolled back as a whole (e.g. a lock timeout), so nothing changed.
            log.warning("room action %s failed in the database", kind, exc_info=True)
            await self._error("conflict", "That didn't go through; try again.", ref=kind)
            return False
        return True

    def _run_service(self, service, kwargs: dict) -> None:
        space = Space.objects.get(pk=cast(int, self.space_id))
        if "user_id" in kwargs:
            kwargs["user"] = User.objects.get(pk=kwargs.pop("user_id"))
        if "post_id" in kwargs and service is services.pin_create:
            kwargs["post"] = Post.objects.select_related("author").get(pk=kwargs.pop("post_id"))
        service(space=space, **kwargs)

    async def _target(self, content: dict, kind: str, field: str = "user_id") -> int | None:
        value = content.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            await self._error("invalid", f"`{field}` must be a positive integer.", ref=kind)
            return None
        return value

    async def on_ping(self, content: dict) -> None:
        await self._send_event({"type": "pong"})

    async def on_media_ack(self, content: dict) -> None:
        received = content.get("received")
        if isinstance(received, bool) or not isinstance(received, int) or received < 0:
            await self._error("invalid", "`received` must be a whole number of audio messages.", ref="media_ack")
            return
        media.acknowledge(cast(int, self.space_id), self, received)

    async def on_listeners(self, content: dict) -> None:
        after = content.get("after", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self._error("invalid", "`after` must be 0 or the `next` of the page before.", ref="listeners")
            return
        page = await database_sync_to_async(self._listeners_page)(after)
        await self._send_event({"type": "listeners_page", **page})

    def _listeners_page(self, after: int) -> dict:
        space = Space.objects.get(pk=cast(int, self.space_id))
        count = selectors.listener_count(space=space, speakers=selectors.stage_present(space=space))
        return {**selectors.listeners_page(space=space, after=after), "listener_count": count}

    async def on_react(self, content: dict) -> None:
        emoji = content.get("emoji")
        if emoji not in REACTIONS:
            await self._error("invalid", f"Reactions are one of {' '.join(REACTIONS)}.", ref="react")
            return
        # Per person, not per socket: five open tabs don't make five times the reactions.
        if not await ratelimit.aallowed("react", self.user.pk, rate=(settings.SPACES_REACTIONS_PER_10S, 10)):
            await self._error("rate_limited", ratelimit.MESSAGES["react"], ref="react")
            return
        batcher().react(cast(int, self.space_id), emoji)

    async def on_raise_hand(self, content: dict) -> None:
        await self._call("raise_hand", services.hand_raise, user=self.user)

    async def on_lower_hand(self, content: dict) -> None:
        await self._call("lower_hand", services.hand_lower, user=self.user)

    async def on_accept_invite(self, content: dict) -> None:
        await self._call("accept_invite", services.invitation_accept, user=self.user)

    async def on_step_down(self, content: dict) -> None:
        await self._call("step_down", services.participant_step_down, user=self.user)

    async def on_unmute(self, content: dict) -> None:
        await self._call("unmute", services.participant_set_muted, user=self.user, muted=False)

    async def on_mute_self(self, content: dict) -> None:
        await self._call("mute_self", services.participant_set_muted, user=self.user, muted=True)

    async def _on_target(self, kind: str, service, content: dict, **extra) -> None:
        user_id = await self._target(content, kind)
        if user_id is not None:
            await self._call(kind, service, by=self.user, user_id=user_id, **extra)

    async def on_approve(self, content: dict) -> None:
        await self._on_target("approve", services.speaker_approve, content)

    async def on_decline(self, content: dict) -> None:
        await self._on_target("decline", services.speaker_decline, content)

    async def on_invite(self, content: dict) -> None:
        await self._on_target("invite", services.speaker_invite, content, by_dm=content.get("by_dm") is True)

    async def on_mute(self, content: dict) -> None:
        await self._on_target("mute", services.participant_mute, content)

    async def on_remove(self, content: dict) -> None:
        await self._on_target("remove", services.participant_remove, content)

    async def on_make_listener(self, content: dict) -> None:
        await self._on_target("make_listener", services.participant_make_listener, content)

    async def on_add_cohost(self, content: dict) -> None:
        await self._on_target("add_cohost", services.cohost_add, content)

    async def on_remove_cohost(self, content: dict) -> None:
        await self._on_target("remove_cohost", services.cohost_remove, content)

    async def on_mute_all(self, content: dict) -> None:
        await self._call("mute_all", services.participant_mute_all, by=self.user)

    async def on_pin(self, content: dict) -> None:
        post_id = await self._target(content, "pin", "post_id")
        if post_id is not None:
            await self._call("pin", services.pin_create, by=self.user, post_id=post_id)

    async def on_unpin(self, content: dict) -> None:
        post_id = await self._target(content, "unpin", "post_id")
        if post_id is not None:
            await self._call("unpin", services.pin_delete, by=self.user, post_id=post_id)

    async def on_end(self, content: dict) -> None:
        await self._call("end", services.space_end, by=self.user)

    # --- questions from the audience (rooms/questions.py) --------------------------------

    async def on_ask(self, content: dict) -> None:
        await self._call("ask", questions.question_ask, user=self.user, text=content.get("text"))

    async def on_list_questions(self, content: dict) -> None:
        listed = await database_sync_to_async(self._questions)()
        await self._send_event({"type": "questions", "questions": listed})

    def _questions(self) -> list[dict]:
        return questions.questions_for(space=Space.objects.get(pk=cast(int, self.space_id)), user=self.user)

    async def _on_question(self, kind: str, service, content: dict) -> None:
        question_id = await self._target(content, kind, "question_id")
        if question_id is not None:
            await self._call(kind, service, by=self.user, question_id=question_id)

    async def on_upvote_question(self, content: dict) -> None:
        await self._on_question("upvote_question", questions.question_upvote, content)

    async def on_pin_question(self, content: dict) -> None:
        await self._on_question("pin_question", questions.question_pin, content)

    async def on_unpin_question(self, content: dict) -> None:
        await self._on_question("unpin_question", questions.question_unpin, content)

    async def on_answer_question(self, content: dict) -> None:
        await self._on_question("answer_question", questions.question_answer, content)

    # --- outbound ------------------------------------------------------------------------

    async def _send_event(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event, ensure_ascii=False))

    @property
    def on_stage(self) -> bool:
        """Read by rooms.media: the stage is never evicted for lagging, only listeners are."""
        return self.role in SPEAKING_ROLES

    async def send_media(self, payload: bytes) -> None:
        if self.joined and not self.closing:
            # Straight to the server's send, as `self.send(bytes_data=...)` ends up doing: this runs for every
            # listener on every audio message, so two fewer coroutine frames is a measurable share of the CPU.
            await self.base_send({"type": "websocket.send", "bytes": payload})

    async def space_event(self, event: dict, text: str) -> None:
        """Called by rooms.fanout with the event and its JSON, serialised once for all sockets."""
        if self.closing or not self.joined:
            return
        kind = event["type"]
        if kind == socket_cap.SUPERSEDED_EVENT:
            if self.socket_id in event["socket_ids"]:
                message = "This Space is open in too many of your tabs or devices; this one was closed."
                await self._refuse(message, CloseCode.SUPERSEDED)
            return
        if (
            "only_roles" in event
            and self.role not in event["only_roles"]
            and self.user.pk not in event.get("also_user_ids", ())
        ):
            return  # meant for some roles only (a host's keyword alert, an open question) and perhaps one person
        role_was = self.role
        if kind == "role_changed" and event["participant"]["user_id"] == self.user.pk:
            self._remember(event["participant"])
        await self.send(text_data=text)
        if self.role != role_was:
            await self._send_event({"type": "permissions", **access.permissions_for(self.role)})
        if kind == "removed" and event["user_id"] == self.user.pk:
            await self._refuse("You were removed from this Space.", CloseCode.FORBIDDEN)
        elif kind == "space_ended":
            await self._refuse("This Space has ended.", CloseCode.ENDED)
