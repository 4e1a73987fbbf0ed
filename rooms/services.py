"""What happens in Spaces: scheduling, the lifecycle, roles, moderation, pins and reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import services as account_services
from accounts.audience import can_read
from accounts.models import Block, Notification, Post, User
from accounts.selectors import is_blocked_between
from spaces_site import ratelimit
from spaces_site.services import model_update

from . import access, headcount, leases, selectors, signals
from .events import broadcast, host_presence_event, participant_payload, pin_payload
from .live_notices import live_notice_key
from .models import (
    MANAGER_ROLES,
    SPEAKING_ROLES,
    Invitation,
    Participant,
    PinnedPost,
    Reminder,
    Role,
    RoomSocket,
    Space,
    SpaceReport,
)
from .replays.services import recording_start
from .tasks import notify_space_live as notify_space_live_task
from .tasks import push_live_bubble as push_live_bubble_task

# A socket's leave is the leases' business (rooms.leases retries the ones that failed); the room calls it here.
participant_leave = leases.participant_leave

SPEAKER_SLOTS = range(1, 13)  # 0 is the host's
REMINDER_BATCH = 500  # reminders (and due Spaces) handled per transaction by the beat's sweeps


def clean_topics(raw: str | list[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    topics: list[str] = []
    for item in items:
        topic = item.strip().lower().lstrip("#")
        if topic and topic not in topics:
            topics.append(topic)
    if len(topics) > settings.SPACES_MAX_TOPICS:
        raise ValidationError(f"A Space can have at most {settings.SPACES_MAX_TOPICS} topics (you gave {len(topics)}).")
    if any(len(t) > 30 for t in topics):
        raise ValidationError("Each topic can be at most 30 characters.")
    return topics


def check_schedule_time(when: datetime, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if when <= now:
        raise ValidationError("The start time must be in the future.")
    if when > now + timedelta(days=settings.SPACES_MAX_SCHEDULE_DAYS):
        raise ValidationError(f"You can schedule at most {settings.SPACES_MAX_SCHEDULE_DAYS} days ahead.")


def _require_host_eligible(user: User) -> None:
    eligibility = access.host_eligibility(user=user)
    if not eligibility.eligible:
        raise PermissionDenied(
            f"Hosting needs {eligibility.required} followers; you have {eligibility.followers} "
            f"({eligibility.missing} more needed)."
        )


def _require_audience_allowed(host: User, audience: str) -> None:
    decision = access.may_host_audience(user=host, audience=audience)
    if not decision:
        raise ValidationError(decision.reason)


def _require_host(space: Space, by: User) -> None:
    if space.host_id != by.pk:
        raise PermissionDenied("Only the host can do that.")


@transaction.atomic
def space_create(
    *,
    host: User,
    title: str,
    topics: str | list[str] = "",
    scheduled_for: datetime | None = None,
    speaking_policy: str = Space.SpeakingPolicy.EVERYONE,
    audience: str = Space.Audience.PUBLIC,
    cohosts: list[User] | None = None,
    record: bool = False,
) -> Space:
    """Schedule a Space, or start one now when `scheduled_for` is None; `record` records it from the start."""
    _require_host_eligible(host)
    title = (title or "").strip()
    if not title:
        raise ValidationError("Give your Space a title.")
    topic_list = clean_topics(topics)
    if speaking_policy not in Space.SpeakingPolicy.values:
        raise ValidationError("Choose who can speak.")
    if audience not in Space.Audience.values:
        raise ValidationError("Choose who can listen.")
    _require_audience_allowed(host, audience)
    ratelimit.check("space_create", host.pk)
    # Serialise one host's scheduling so two tabs cannot both create the 11th Space.
    User.objects.select_for_update().filter(pk=host.pk).first()
    if scheduled_for is not None:
        check_schedule_time(scheduled_for)
        scheduled = Space.objects.filter(host=host, state=Space.State.SCHEDULED).count()
        if scheduled >= settings.SPACES_MAX_SCHEDULED_PER_HOST:
            raise ValidationError(
                f"You already have {scheduled} scheduled Spaces; the most is {settings.SPACES_MAX_SCHEDULED_PER_HOST}."
            )
    space = Space.objects.create(
        host=host,
        title=title,
        topics=",".join(topic_list),
        scheduled_for=scheduled_for,
        speaking_policy=speaking_policy,
        audience=audience,
    )
    for cohost in (cohosts or [])[: settings.SPACES_MAX_COHOSTS + 1]:
        cohost_name_in_advance(space=space, by=host, user=cohost)
    if record:
        recording_start(space=space, by=host)
    if scheduled_for is None:
        return space_start(space=space, by=host)
    # The host hears about their own Space ahead, exactly once, like any reminded listener.
    Reminder.objects.get_or_create(space=space, user=host, defaults={"at_start": reminds_at_start(space)})
    return space


@transaction.atomic
def space_update(
    *,
    space: Space,
    by: User,
    title: str | None = None,
    scheduled_for: datetime | None = None,
    topics=None,
    speaking_policy: str | None = None,
) -> Space:
    """Edit a scheduled Space: the fields given (None leaves one as it is)."""
    space = Space.objects.select_for_update().get(pk=space.pk)
    _require_host(space, by)
    if space.state != Space.State.SCHEDULED:
        raise ValidationError("Only a scheduled Space can be edited.")
    data: dict[str, object] = {}
    if title is not None:
        if not title.strip():
            raise ValidationError("Give your Space a title.")
        data["title"] = title.strip()
    if speaking_policy is not None:
        if speaking_policy not in Space.SpeakingPolicy.values:
            raise ValidationError("Choose who can speak.")
        data["speaking_policy"] = speaking_policy
    previous_time = space.scheduled_for
    rescheduled = scheduled_for is not None and scheduled_for != previous_time
    if scheduled_for is not None and rescheduled:
        check_schedule_time(scheduled_for)
        data.update(scheduled_for=scheduled_for, due_notice_at=None)
    if topics is not None:
        data["topics"] = ",".join(clean_topics(topics))
    fields = ["title", "speaking_policy", "scheduled_for", "due_notice_at", "topics"]
    space, _ = model_update(instance=space, fields=fields, data=data)
    if rescheduled:
        # A new time means a new notice, ahead or at the start depending on how far away it now is.
        Reminder.objects.filter(space=space).update(sent_at=None, at_start=reminds_at_start(space))
        # No time in the text: it is one text for people in many zones; the Space's page shows theirs.
        _tell_the_reminded(
            space,
            kind=Notification.Kind.SPACE_REMINDER,
            text=f"{space.host.name} moved “{space.title}” to a new time; your reminder moves with it.",
        )
        signals.space_rescheduled.send(sender=Space, space=space, previous_time=previous_time)
    return space


@transaction.atomic
def space_cancel(*, space: Space, by: User) -> Space:
    space = Space.objects.select_for_update().get(pk=space.pk)
    _require_host(space, by)
    return _cancel(space, notice=f"{space.host.name} cancelled the Space “{space.title}”.")


def _cancel(space: Space, *, notice: str) -> Space:
    """Cancel a scheduled Space locked by the caller; those with a reminder read `notice`, tickets are refunded."""
    if space.state != Space.State.SCHEDULED:
        raise ValidationError("Only a scheduled Space can be cancelled.")
    space.state = Space.State.CANCELLED
    space.ended_at = timezone.now()
    space.save(update_fields=["state", "ended_at"])
    _tell_the_reminded(space, kind=Notification.Kind.OTHER, text=notice)
    signals.space_cancelled.send(sender=Space, space=space)
    return space


@transaction.atomic
def space_start(*, space: Space, by: User) -> Space:
    space = Space.objects.select_for_update().get(pk=space.pk)
    _require_host(space, by)
    if space.state != Space.State.SCHEDULED:
        raise ValidationError(f"This Space can't start: it is {space.get_state_display().lower()}.")
    _require_host_eligible(by)
    _require_audience_allowed(by, space.audience)
    space.state = Space.State.LIVE
    space.started_at = timezone.now()
    space.host_left_at = None
    try:
        with transaction.atomic():
            space.save(update_fields=["state", "started_at", "host_left_at"])
    except IntegrityError:
        raise ValidationError("You already have a live Space; end it before starting another.") from None
    Participant.objects.update_or_create(
        space=space, user=by, defaults={"role": Role.HOST, "speaker_index": 0, "removed_at": None}
    )
    # Receivers first (live captions are dispatched there): on-commit work runs in the order it is
    # registered, and the followers' notifications must not delay the captioner.
    signals.space_started.send(sender=Space, space=space)
    transaction.on_commit(lambda: notify_space_live_task.delay(space.pk))
    transaction.on_commit(lambda: push_live_bubble_task.delay(space.pk, by.pk, "add"))
    return space


@transaction.atomic
def space_end(*, space: Space, by: User | None = None, reason: str = "ended by the host") -> Space:
    """End a live Space; `by` None means the system (the host never came back)."""
    space = Space.objects.select_for_update().get(pk=space.pk)
    if by is not None:
        _require_host(space, by)
    if space.state != Space.State.LIVE:
        raise ValidationError("This Space is not live.")
    leases.space_peak_record(space_ids=[space.pk])
    space.refresh_from_db(fields=["peak_listeners"])
    space.state = Space.State.ENDED
    space.ended_at = timezone.now()
    space.save(update_fields=["state", "ended_at"])
    speakers = list(
        Participant.objects.filter(space=space, role__in=SPEAKING_ROLES, removed_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    Participant.objects.filter(space=space).update(hand_raised_at=None)
    broadcast(space.pk, {"type": "space_ended", "reason": reason, "url": space.get_absolute_url()})
    # "X is live. Tap to listen." would now be false: those notices point to the ended Space's page.
    account_services.notifications_rewrite(
        group_key=live_notice_key(space), text=f"{space.host.name} was live: “{space.title}”. The Space has ended."
    )
    for user_id in speakers:
        transaction.on_commit(partial(push_live_bubble_task.delay, space.pk, user_id, "remove"))
    signals.space_ended.send(sender=Space, space=space)
    transaction.on_commit(lambda: headcount.forget(space.pk))
    return space


def _locked(space: Space) -> Space:
    return Space.objects.select_for_update().get(pk=space.pk)


def _require_live(space: Space) -> None:
    if space.state != Space.State.LIVE:
        raise ValidationError("This Space is not live.")


def _participant(space: Space, user: User, *, lock: bool = False) -> Participant:
    rows = Participant.objects.select_related("user")
    if lock:
        rows = rows.select_for_update()
    try:
        return rows.get(space=space, user=user)
    except Participant.DoesNotExist:
        raise ValidationError("That person is not in this Space.") from None


def _require_manager(space: Space, by: User) -> Participant:
    actor = Participant.objects.filter(space=space, user=by, removed_at__isnull=True).first()
    if actor is None or actor.role not in MANAGER_ROLES:
        raise PermissionDenied("Only the host and co-hosts can do that.")
    return actor


def _free_speaker_index(space: Space) -> int:
    taken = set(
        Participant.objects.filter(space=space, speaker_index__isnull=False).values_list("speaker_index", flat=True)
    )
    return next(i for i in SPEAKER_SLOTS if i not in taken)


def _announce_role(participant: Participant) -> None:
    broadcast(participant.space_id, {"type": "role_changed", "participant": participant_payload(participant)})


def _set_role(space: Space, participant: Participant, role: str) -> Participant:
    """Change a role inside a transaction holding the Space lock, enforcing the limits."""
    was_speaking = participant.role in SPEAKING_ROLES
    if role == Role.SPEAKER and participant.role != Role.SPEAKER:
        speakers = Participant.objects.filter(space=space, role=Role.SPEAKER).count()
        if speakers >= settings.SPACES_MAX_SPEAKERS:
            raise ValidationError(f"This Space already has {settings.SPACES_MAX_SPEAKERS} speakers.")
    if role == Role.COHOST and participant.role != Role.COHOST:
        cohosts = Participant.objects.filter(space=space, role=Role.COHOST).count()
        if cohosts >= settings.SPACES_MAX_COHOSTS:
            raise ValidationError(f"This Space already has {settings.SPACES_MAX_COHOSTS} co-hosts.")
    participant.role = role
    if role in SPEAKING_ROLES:
        participant.hand_raised_at = None
        if participant.speaker_index is None:
            participant.speaker_index = _free_speaker_index(space)
        if not was_speaking:
            participant.muted = True  # new speakers start muted and unmute themselves
        if participant.first_on_stage_at is None:
            participant.first_on_stage_at = timezone.now()
    else:
        participant.speaker_index = None
        participant.muted = False
    participant.save(update_fields=["role", "hand_raised_at", "speaker_index", "muted", "first_on_stage_at"])
    _announce_role(participant)
    now_speaking = role in SPEAKING_ROLES
    if now_speaking != was_speaking:
        action = "add" if now_speaking else "remove"
        transaction.on_commit(lambda: push_live_bubble_task.delay(space.pk, participant.user_id, action))
    return participant


@transaction.atomic
def participant_join(*, space: Space, user: User, process_id: int) -> Participant:
    """A socket opened on server process `process_id`: admit (or refuse), record the socket under that
    process's lease (`participant.socket_id`), keep the role of a returning person. A listener's join
    takes no lock on the Space and counts nothing (`rooms.leases` keeps counts and the peak)."""
    participant = Participant.objects.select_related("user").filter(space=space, user=user).first()
    decision = access.can_join(space=space, user=user, participant=participant)
    if not decision:
        raise access.AdmissionRefused(decision)
    if participant is None:
        try:
            with transaction.atomic():
                participant = Participant.objects.create(space=space, user=user)
        except IntegrityError:  # the same person's other socket got there first
            participant = Participant.objects.select_related("user").get(space=space, user=user)
        first_connection = True
    else:
        first_connection = not RoomSocket.objects.live().filter(participant=participant).exists()
    participant.socket_id = RoomSocket.objects.create(participant=participant, process_id=process_id).pk
    if first_connection:
        transaction.on_commit(lambda: headcount.arrived(space.pk))
    if space.host_id == user.pk and Space.objects.filter(pk=space.pk, host_left_at__isnull=False).update(
        host_left_at=None
    ):
        broadcast(space.pk, host_presence_event(None))
    invitations = list(Invitation.objects.filter(space=space, user=user))
    participant.invitation_roles = {invitation.role for invitation in invitations}  # for the welcome's `invited`
    invitation = next((invitation for invitation in invitations if invitation.role == Role.COHOST), None)
    if invitation is not None and participant.role in (Role.LISTENER, Role.SPEAKER):
        space = _locked(space)  # a co-host seat is a limit at stake
        try:
            with transaction.atomic():
                _set_role(space, participant, Role.COHOST)
            invitation.delete()
        except ValidationError:
            pass  # both co-host seats are taken; the person stays a listener and keeps the invitation
    participant.first_connection = first_connection
    return participant


@transaction.atomic
def participants_join(*, space: Space, users: list[User], process_id: int) -> list[Participant | access.Decision]:
    """`participant_join` for several people opening a socket to one Space at once (a storm's joins on one
    process), in the same handful of statements whatever their number. `users` are distinct; each result, in
    their order, is the person's participant (as `participant_join` gives it) or the refusal. The host, and
    anyone a co-host seat is waiting for, join through `participant_join`."""
    user_ids = [user.pk for user in users]
    rows = {row.user_id: row for row in Participant.objects.filter(space=space, user_id__in=user_ids)}
    invitation_roles: dict[int, set[str]] = {user_id: set() for user_id in user_ids}
    for user_id, role in Invitation.objects.filter(space=space, user_id__in=user_ids).values_list("user_id", "role"):
        invitation_roles[user_id].add(role)
    blocked_by_host = set(
        Block.objects.filter(blocker_id=space.host_id, blocked_id__in=user_ids).values_list("blocked_id", flat=True)
    )
    outcomes: dict[int, Participant | access.Decision] = {}
    admitted: list[User] = []
    for user in users:
        if user.pk == space.host_id or Role.COHOST in invitation_roles[user.pk]:
            try:
                outcomes[user.pk] = participant_join(space=space, user=user, process_id=process_id)
            except access.AdmissionRefused as refused:
                outcomes[user.pk] = refused.decision
            continue
        decision = access.can_join(
            space=space, user=user, participant=rows.get(user.pk), host_blocks=user.pk in blocked_by_host
        )
        if decision:
            admitted.append(user)
        else:
            outcomes[user.pk] = decision
    newcomers = {user.pk for user in admitted if user.pk not in rows}
    if newcomers:
        # Another socket of the same person may create the row meanwhile; theirs is as good as ours.
        Participant.objects.bulk_create(
            [Participant(space=space, user_id=user_id) for user_id in newcomers], ignore_conflicts=True
        )
        rows.update((row.user_id, row) for row in Participant.objects.filter(space=space, user_id__in=newcomers))
    returning = [rows[user.pk].pk for user in admitted if user.pk not in newcomers]
    connected = set(
        RoomSocket.objects.live().filter(participant_id__in=returning).values_list("participant_id", flat=True)
    )
    sockets = RoomSocket.objects.bulk_create(
        [RoomSocket(participant=rows[user.pk], process_id=process_id) for user in admitted]
    )
    arrivals = 0
    for user, socket in zip(admitted, sockets, strict=True):
        participant = rows[user.pk]
        participant.user = user
        participant.socket_id = socket.pk
        participant.first_connection = participant.pk not in connected
        participant.invitation_roles = invitation_roles[user.pk]
        outcomes[user.pk] = participant
        arrivals += participant.first_connection
    if arrivals:
        transaction.on_commit(lambda: headcount.arrived(space.pk, arrivals))
    return [outcomes[user.pk] for user in users]


@transaction.atomic
def hand_raise(*, space: Space, user: User) -> Participant:
    _require_live(space)
    participant = _participant(space, user, lock=True)
    if participant.removed:
        raise PermissionDenied("You were removed from this Space.")
    if participant.role == Role.LISTENER:
        decision = access.may_request_to_speak(space=space, user=user)
        if not decision:
            raise PermissionDenied(decision.reason)
    if participant.hand_raised_at is None:
        participant.hand_raised_at = timezone.now()
        participant.save(update_fields=["hand_raised_at"])
        broadcast(
            space.pk,
            {
                "type": "hand",
                "user_id": user.pk,
                "raised": True,
                "at": participant.hand_raised_at.isoformat(),
                "participant": participant_payload(participant),
            },
        )
    return participant


@transaction.atomic
def hand_lower(*, space: Space, user: User) -> Participant:
    participant = _participant(space, user, lock=True)
    if participant.hand_raised_at is not None:
        participant.hand_raised_at = None
        participant.save(update_fields=["hand_raised_at"])
        event = {"type": "hand", "user_id": user.pk, "raised": False, "participant": participant_payload(participant)}
        broadcast(space.pk, event)
    return participant


@transaction.atomic
def speaker_approve(*, space: Space, by: User, user: User) -> Participant:
    """Make a listener who raised their hand a speaker; race-free against the speaker limit."""
    space = _locked(space)
    _require_live(space)
    actor = _require_manager(space, by)
    participant = _participant(space, user, lock=True)
    if participant.removed:
        raise ValidationError("That person was removed from this Space.")
    if not access.may_target(actor_role=actor.role, action="approve", target_role=participant.role):
        raise ValidationError(f"{user.name} is already a {participant.get_role_display().lower()}.")
    if participant.hand_raised_at is None and not Invitation.objects.filter(space=space, user=user).exists():
        raise ValidationError(f"{user.name} hasn't asked to speak.")
    participant = _set_role(space, participant, Role.SPEAKER)
    Invitation.objects.filter(space=space, user=user).delete()
    return participant


@transaction.atomic
def speaker_decline(*, space: Space, by: User, user: User) -> Participant:
    _require_manager(space, by)
    participant = _participant(space, user, lock=True)
    if participant.hand_raised_at is None:
        raise ValidationError(f"{user.name} hasn't asked to speak.")
    participant.hand_raised_at = None
    participant.save(update_fields=["hand_raised_at"])
    event = {"type": "hand", "user_id": user.pk, "raised": False, "declined": True}
    broadcast(space.pk, {**event, "participant": participant_payload(participant)})
    return participant


@transaction.atomic
def speaker_invite(*, space: Space, by: User, user: User, by_dm: bool = False) -> Invitation:
    """Invite anyone to speak; they get a notification (and a DM if asked) and accept in the room."""
    _require_live(space)
    actor = _require_manager(space, by)
    if user.pk == by.pk:
        raise ValidationError("You can't invite yourself.")
    existing = Participant.objects.filter(space=space, user=user).first()
    if existing is not None and existing.removed:
        raise ValidationError(f"{user.name} was removed from this Space.")
    if existing and not access.may_target(actor_role=actor.role, action="invite", target_role=existing.role):
        raise ValidationError(f"{user.name} can already speak.")
    _require_not_blocked(by, user)
    if space.host_id != by.pk:
        _require_not_blocked(space.host, user)  # a co-host can't invite someone the host blocked
    ratelimit.check("invite", by.pk)
    ratelimit.check("invite_person", f"{by.pk}:{user.pk}")
    invitation, _ = Invitation.objects.update_or_create(
        space=space, user=user, defaults={"role": Role.SPEAKER, "invited_by": by}
    )
    text = f"{by.name} invited you to speak in “{space.title}”."
    account_services.notification_create(
        recipient=user, actor=by, kind=Notification.Kind.SPACE_INVITE, text=text, url=space.get_absolute_url()
    )
    if by_dm:
        account_services.message_send(sender=by, recipient=user, body=f"{text} Join: {space.get_absolute_url()}")
    broadcast(space.pk, {"type": "invited", "user_id": user.pk, "role": Role.SPEAKER})
    return invitation


def _require_not_blocked(by: User, user: User) -> None:
    """No invitation crosses a block, whichever side made it (the blocked side is not told who)."""
    if is_blocked_between(by, user):
        raise ValidationError(f"You can't invite @{user.username}.")


@transaction.atomic
def invitation_accept(*, space: Space, user: User) -> Participant:
    space = _locked(space)
    _require_live(space)
    invitation = Invitation.objects.filter(space=space, user=user).first()
    if invitation is None:
        raise ValidationError("You have no invitation to speak here.")
    participant = _participant(space, user, lock=True)
    if participant.role in SPEAKING_ROLES and invitation.role == Role.SPEAKER:
        invitation.delete()
        return participant
    participant = _set_role(space, participant, invitation.role)
    invitation.delete()
    return participant


@transaction.atomic
def participant_step_down(*, space: Space, user: User) -> Participant:
    space = _locked(space)
    participant = _participant(space, user, lock=True)
    if participant.role == Role.HOST:
        raise ValidationError("The host can't step down; end the Space instead.")
    if participant.role == Role.LISTENER:
        raise ValidationError("You are already a listener.")
    return _set_role(space, participant, Role.LISTENER)


@transaction.atomic
def participant_make_listener(*, space: Space, by: User, user: User) -> Participant:
    space = _locked(space)
    actor = _require_manager(space, by)
    participant = _participant(space, user, lock=True)
    allowed = access.may_target(actor_role=actor.role, action="make_listener", target_role=participant.role)
    if participant.role != Role.LISTENER and not allowed:
        raise PermissionDenied("Only the host can change a co-host's role.")
    if participant.role == Role.LISTENER:
        raise ValidationError(f"{user.name} is already a listener.")
    return _set_role(space, participant, Role.LISTENER)


def cohost_name_in_advance(*, space: Space, by: User, user: User) -> Invitation:
    """Name a co-host of a scheduled Space; they take the seat when they join."""
    _require_host(space, by)
    if user.pk == space.host_id:
        raise ValidationError("The host can't also be a co-host.")
    _require_not_blocked(by, user)
    named = Invitation.objects.filter(space=space, role=Role.COHOST).exclude(user=user).count()
    if named >= settings.SPACES_MAX_COHOSTS:
        raise ValidationError(f"A Space can have at most {settings.SPACES_MAX_COHOSTS} co-hosts.")
    invitation, _ = Invitation.objects.update_or_create(
        space=space, user=user, defaults={"role": Role.COHOST, "invited_by": by}
    )
    return invitation


@transaction.atomic
def cohost_add(*, space: Space, by: User, user: User) -> Participant | Invitation:
    space = _locked(space)
    _require_host(space, by)
    if space.state == Space.State.SCHEDULED:
        return cohost_name_in_advance(space=space, by=by, user=user)
    _require_live(space)
    participant = Participant.objects.filter(space=space, user=user).first()
    if participant is None:
        raise ValidationError(f"{user.name} is not in this Space.")
    if participant.removed:
        raise ValidationError(f"{user.name} was removed from this Space.")
    if not access.may_target(actor_role=Role.HOST, action="add_cohost", target_role=participant.role):
        raise ValidationError(f"{user.name} is already a {participant.get_role_display().lower()}.")
    return _set_role(space, participant, Role.COHOST)


@transaction.atomic
def cohost_remove(*, space: Space, by: User, user: User) -> Participant | None:
    space = _locked(space)
    _require_host(space, by)
    if space.state == Space.State.SCHEDULED:
        Invitation.objects.filter(space=space, user=user, role=Role.COHOST).delete()
        return None
    participant = _participant(space, user, lock=True)
    if not access.may_target(actor_role=Role.HOST, action="remove_cohost", target_role=participant.role):
        raise ValidationError(f"{user.name} is not a co-host.")
    return _set_role(space, participant, Role.LISTENER)


@transaction.atomic
def participant_mute(*, space: Space, by: User, user: User) -> Participant:
    _require_live(space)
    actor = _require_manager(space, by)
    participant = _participant(space, user, lock=True)
    if participant.role not in SPEAKING_ROLES:
        raise ValidationError(f"{user.name} is not a speaker.")
    if not access.may_target(actor_role=actor.role, action="mute", target_role=participant.role):
        raise PermissionDenied("Co-hosts can't mute the host.")
    if not participant.muted:
        participant.muted = True
        participant.save(update_fields=["muted"])
        _announce_role(participant)
    return participant


@transaction.atomic
def participant_mute_all(*, space: Space, by: User) -> int:
    _require_live(space)
    _require_manager(space, by)
    rows = list(
        Participant.objects.select_for_update()
        .select_related("user")
        .filter(space=space, role__in=[Role.COHOST, Role.SPEAKER], muted=False)
        .exclude(user=by)
    )
    for participant in rows:
        participant.muted = True
        participant.save(update_fields=["muted"])
        _announce_role(participant)
    return len(rows)


@transaction.atomic
def participant_set_muted(*, space: Space, user: User, muted: bool) -> Participant:
    """Only the speaker unmutes themselves (anyone speaking may mute themselves)."""
    participant = _participant(space, user, lock=True)
    if participant.role not in SPEAKING_ROLES:
        raise ValidationError("Only speakers have a microphone.")
    if participant.muted != muted:
        participant.muted = muted
        participant.save(update_fields=["muted"])
        _announce_role(participant)
    return participant


@transaction.atomic
def participant_remove(*, space: Space, by: User, user: User) -> Participant:
    """Remove someone for good: their sockets close and they cannot rejoin this Space."""
    space = _locked(space)
    actor = _require_manager(space, by)
    participant = _participant(space, user, lock=True)
    if not access.may_target(actor_role=actor.role, action="remove", target_role=participant.role):
        who = "The host can't be removed." if participant.role == Role.HOST else "Only the host can remove a co-host."
        raise PermissionDenied(who)
    if participant.removed:
        raise ValidationError(f"{user.name} was already removed.")
    return _remove(space, participant)


def participant_remove_blocked(*, host: User, user: User) -> None:
    """A host's block removes the person from the host's live Spaces at once (their sockets close with 4403)."""
    Invitation.objects.filter(space__host=host, user=user).delete()
    live = Space.objects.filter(
        host=host, state=Space.State.LIVE, participants__user=user, participants__removed_at__isnull=True
    )
    for space in live:
        space = _locked(space)
        participant = _participant(space, user, lock=True)
        if participant.role != Role.HOST and not participant.removed:
            _remove(space, participant)


def spaces_close_for_suspended(*, user: User) -> None:
    """A suspended account's live Space ends, its scheduled ones are cancelled (tickets refunded) and it leaves
    every other live Space, its sockets closing as a removed listener's do (4403)."""
    for space in Space.objects.filter(host=user, state=Space.State.LIVE):
        space_end(space=space, reason="the host's account was suspended")
    for space in Space.objects.filter(host=user, state=Space.State.SCHEDULED).select_for_update():
        _cancel(space, notice=f"The Space “{space.title}” was cancelled: its host's account was suspended.")
    inside = Space.objects.filter(
        state=Space.State.LIVE, participants__user=user, participants__removed_at__isnull=True
    )
    for space in inside:
        space = _locked(space)
        _remove(space, _participant(space, user, lock=True))


def _remove(space: Space, participant: Participant) -> Participant:
    user = participant.user
    was_speaking = participant.role in SPEAKING_ROLES
    participant.removed_at = timezone.now()
    participant.role = Role.LISTENER
    participant.speaker_index = None
    participant.hand_raised_at = None
    participant.muted = False
    participant.save(update_fields=["removed_at", "role", "speaker_index", "hand_raised_at", "muted"])
    Invitation.objects.filter(space=space, user=user).delete()
    broadcast(space.pk, {"type": "removed", "user_id": user.pk})
    if was_speaking:
        transaction.on_commit(lambda: push_live_bubble_task.delay(space.pk, user.pk, "remove"))
    return participant


@transaction.atomic
def pin_create(*, space: Space, by: User, post: Post) -> PinnedPost:
    _require_live(space)
    participant = Participant.objects.filter(space=space, user=by, removed_at__isnull=True).first()
    if participant is None or participant.role not in SPEAKING_ROLES:
        raise PermissionDenied("Only hosts and speakers can pin posts.")
    _require_pinnable(space, by, post)
    if PinnedPost.objects.filter(space=space).count() >= 5:
        raise ValidationError("A Space can show at most 5 pinned posts; unpin one first.")
    pin, created = PinnedPost.objects.get_or_create(space=space, post=post, defaults={"pinned_by": by})
    if not created:
        raise ValidationError("That post is already pinned.")
    broadcast(space.pk, {"type": "pinned", "pin": pin_payload(pin)})
    return pin


def _require_pinnable(space: Space, by: User, post: Post) -> None:
    """A pin shows the post's text to everyone in the Space, so its audience must be able to read it."""
    if not can_read(post=post, viewer=by):
        raise ValidationError("That post is not available.")
    if post.for_super_followers and not (
        space.audience == Space.Audience.SUPER_FOLLOWERS and space.host_id == post.author_id
    ):
        raise ValidationError(
            f"That post is for @{post.author.username}'s Super Followers; "
            f"it can only be pinned in @{post.author.username}'s Spaces for Super Followers."
        )


@transaction.atomic
def pin_delete(*, space: Space, by: User, post_id: int) -> None:
    participant = Participant.objects.filter(space=space, user=by, removed_at__isnull=True).first()
    if participant is None or participant.role not in SPEAKING_ROLES:
        raise PermissionDenied("Only hosts and speakers can unpin posts.")
    deleted, _ = PinnedPost.objects.filter(space=space, post_id=post_id).delete()
    if not deleted:
        raise ValidationError("That post is not pinned.")
    broadcast(space.pk, {"type": "unpinned", "post_id": post_id})


def reminds_at_start(space: Space, *, now: datetime | None = None) -> bool:
    """Whether a reminder set now comes at the start: the Space is nearer than the usual lead time."""
    now = now or timezone.now()
    lead = timedelta(minutes=settings.SPACES_REMINDER_MINUTES_BEFORE)
    return space.scheduled_for is not None and space.scheduled_for - now < lead


def reminder_set(*, space: Space, user: User) -> Reminder:
    if space.state != Space.State.SCHEDULED:
        raise ValidationError("Reminders are for Spaces that haven't started.")
    if not (decision := access.may_set_reminder(space=space, user=user)):
        raise ValidationError(decision.reason)
    reminder, _ = Reminder.objects.get_or_create(space=space, user=user, defaults={"at_start": reminds_at_start(space)})
    return reminder


def minutes_until(when: datetime, *, now: datetime) -> int:
    """Whole minutes left, rounded up, so "in 1 minute" is never said of a Space that already started."""
    seconds = (when - now).total_seconds()
    return max(0, -int(-seconds // 60))


def reminder_text(*, reminder: Reminder, now: datetime) -> str:
    """What a reminder says, with the time really left."""
    space = reminder.space
    minutes = minutes_until(space.scheduled_for, now=now) if space.scheduled_for else 0
    when = f"starts in {minutes} minute{'s' if minutes != 1 else ''}" if minutes > 0 else "is starting now"
    if reminder.user_id == space.host_id:
        return f"Your Space “{space.title}” {when}."
    return f"“{space.title}” by {space.host.name} {when}."


def reminders_delete_between(*, user: User, other: User) -> int:
    """After a block: reminders either way would never come (no notification crosses a block), so none is left
    promising one."""
    deleted, _ = Reminder.objects.filter(
        Q(space__host=user, user=other) | Q(space__host=other, user=user), space__state=Space.State.SCHEDULED
    ).delete()
    return deleted


def reminder_delete(*, space: Space, user: User) -> bool:
    if space.host_id == user.pk:
        return False
    deleted, _ = Reminder.objects.filter(space=space, user=user).delete()
    return bool(deleted)


def space_report_create(
    *, space: Space, reporter: User, reason: str, details: str = "", reported_user: User | None = None
) -> SpaceReport:
    if reason not in SpaceReport.Reason.values:
        raise ValidationError("Choose a reason for the report.")
    if reported_user is not None and reported_user.pk == reporter.pk:
        raise ValidationError("You can't report yourself.")
    ratelimit.check("report", reporter.pk)
    return SpaceReport.objects.create(
        space=space, reporter=reporter, reported_user=reported_user, reason=reason, details=details.strip()[:500]
    )


def space_reports_mark(*, report_ids: list[int], status: str) -> int:
    """Staff mark Space reports actioned or dismissed, as they do reports on people and posts."""
    if status not in SpaceReport.Status.values:
        raise ValidationError("No such report status.")
    return SpaceReport.objects.filter(pk__in=report_ids).update(status=status)


def space_share_to_timeline(*, space: Space, user: User, url: str) -> Post:
    body = f"Listen in: {space.title} {url}"[:280]
    # A second press posted the same words again under the first.
    if Post.objects.filter(author=user, body=body).exists():
        raise ValidationError("This Space is already on your timeline.")
    return account_services.post_create(author=user, body=body)


def space_share_by_dm(*, space: Space, sender: User, recipient: User, url: str) -> None:
    account_services.message_share_link(sender=sender, recipient=recipient, body=f"Join me in “{space.title}”: {url}")


@transaction.atomic
def space_due_notify(*, space: Space) -> bool:
    """The scheduled time has come: prompt the host to start (once). False if already done or not due."""
    space = Space.objects.select_for_update().select_related("host").get(pk=space.pk)
    if not space.is_due or space.due_notice_at is not None:
        return False
    space.due_notice_at = timezone.now()
    space.save(update_fields=["due_notice_at"])
    account_services.notification_create(
        recipient=space.host,
        kind=Notification.Kind.SPACE_REMINDER,
        text=f"It's time for “{space.title}”: your listeners are waiting. Start now.",
        url=space.get_absolute_url(),
    )
    return True


def _tell_the_reminded(space: Space, *, kind: str, text: str) -> None:
    """Notify everyone but the host who set a reminder for the Space, linking to it."""
    reminded = Reminder.objects.filter(space=space).exclude(user_id=space.host_id).values_list("user_id", flat=True)
    account_services.notification_create_many(
        recipient_ids=list(reminded), actor=space.host, kind=kind, text=text, url=space.get_absolute_url()
    )


@transaction.atomic
def space_mark_missed(*, space: Space) -> bool:
    """A scheduled Space the host never started within the grace period: mark it missed and tell the
    people who set a reminder, and the host. False if it started, was cancelled or is not late enough."""
    space = Space.objects.select_for_update().select_related("host").get(pk=space.pk)
    if not selectors.spaces_missed(now=timezone.now()).filter(pk=space.pk).exists():
        return False
    space.state = Space.State.MISSED
    space.ended_at = timezone.now()
    space.save(update_fields=["state", "ended_at"])
    _tell_the_reminded(
        space,
        kind=Notification.Kind.OTHER,
        text=f"“{space.title}” by {space.host.name} didn't start; the host missed it.",
    )
    account_services.notification_create(
        recipient=space.host,
        kind=Notification.Kind.OTHER,
        text=f"“{space.title}” was not started and is marked missed. Schedule it again when you're ready.",
        url=space.get_absolute_url(),
    )
    return True


def reminders_send_due() -> int:
    """Notify each reminded person once, ahead (saying the time really left) or, for a reminder set less
    than the lead time before, at the start; safe with several beats or workers (SKIP LOCKED)."""
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                selectors.reminders_due(now=timezone.now())
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("space", "space__host")
                .order_by("pk")[:REMINDER_BATCH]
            )
            if not batch:
                return sent
            now = timezone.now()
            for reminder in batch:
                account_services.notification_create(
                    recipient=reminder.user,
                    actor=reminder.space.host,
                    kind=Notification.Kind.SPACE_REMINDER,
                    text=reminder_text(reminder=reminder, now=now),
                    url=reminder.space.get_absolute_url(),
                )
            Reminder.objects.filter(pk__in=[r.pk for r in batch]).update(sent_at=timezone.now())
            sent += len(batch)


def spaces_due_prompt() -> int:
    """At a Space's time, prompt its host to start; after the grace period, mark it missed. Returns how many
    Spaces changed."""
    changed = 0
    now = timezone.now()
    for space in selectors.spaces_due(now=now).order_by("pk")[:REMINDER_BATCH]:
        changed += space_due_notify(space=space)
    for space in selectors.spaces_missed(now=now).order_by("pk")[:REMINDER_BATCH]:
        changed += space_mark_missed(space=space)
    return changed


def spaces_abandoned_end() -> int:
    """Forget the sockets of dead server processes, then end the live Spaces whose host left longer than the
    grace period ago (each under its own lock, skipped if another sweep holds it)."""
    leases.presence_sweep()
    ended = 0
    for space_id in selectors.spaces_abandoned(now=timezone.now()).values_list("pk", flat=True):
        with transaction.atomic():
            space = (
                selectors.spaces_abandoned(now=timezone.now())
                .select_for_update(skip_locked=True)
                .filter(pk=space_id)
                .first()
            )
            if space is None:
                continue
            space_end(space=space, reason="the host did not come back")
            ended += 1
    return ended
