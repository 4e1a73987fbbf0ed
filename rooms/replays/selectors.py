"""What replays read: a Space's recording state, who speaks at which relay slot, chunks to mix, listens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Block, User
from rooms import access
from rooms.models import Participant, PinnedPost, Space

from . import consent
from .models import Clip, Recording, RecordingChunk


@dataclass(frozen=True)
class RecorderView:
    """What the recorder looks at once a second."""

    space_state: str | None
    started_ms: float
    recording: bool  # there is a recording, not deleted, and the host has it on


def recorder_view(*, space_id: int) -> RecorderView:
    row = (
        Space.objects.filter(pk=space_id)
        .values_list("state", "started_at", "recording__state", "recording__active")
        .first()
    )
    if row is None:
        return RecorderView(None, 0.0, False)
    state, started_at, rec_state, active = row
    return RecorderView(
        state,
        started_at.timestamp() * 1000 if started_at else 0.0,
        rec_state == Recording.State.RECORDING and bool(active),
    )


@dataclass(frozen=True)
class SpeakerSeats:
    """Relay slot -> user id of everyone holding one, split by whether their voice is recorded."""

    recorded: dict[int, int]
    skipped: dict[int, int]  # they declined, or must accept first (consent.py)


def speaker_seats(*, space_id: int) -> SpeakerSeats:
    seats = list(
        Participant.objects.filter(space_id=space_id, speaker_index__isnull=False, removed_at__isnull=True).values_list(
            "speaker_index", "user_id", "space__host_id"
        )
    )
    if not seats:
        return SpeakerSeats({}, {})
    recorded = consent.recorded_users(space_id=space_id, host_id=seats[0][2], user_ids=[u for _, u, _ in seats])
    return SpeakerSeats(
        {index: user_id for index, user_id, _ in seats if user_id in recorded},
        {index: user_id for index, user_id, _ in seats if user_id not in recorded},
    )


def recording_of(*, space: Space) -> Recording | None:
    """The Space's recording unless it was deleted."""
    return Recording.objects.filter(space=space).exclude(state=Recording.State.DELETED).first()


def spaces_without_recorder() -> QuerySet[Space]:
    """Live Spaces being recorded whose recorder never started or stopped renewing its lease."""
    stale = Q(recording__lease_expires_at__lte=timezone.now()) | Q(recording__lease_expires_at__isnull=True)
    return Space.objects.filter(stale, state=Space.State.LIVE, recording__state=Recording.State.RECORDING).order_by(
        "pk"
    )


def recording_to_mix(*, space_id: int) -> Recording | None:
    """The Space's recording unless it is deleted or already mixed."""
    finished = (Recording.State.DELETED, Recording.State.READY)
    return Recording.objects.filter(pk=space_id).exclude(state__in=finished).first()


def recorder_running(*, recording: Recording) -> bool:
    """A recorder (not merely a dispatch) holds the lease right now."""
    return bool(
        recording.holder
        and recording.holder != Recording.PENDING
        and recording.lease_expires_at
        and recording.lease_expires_at > timezone.now()
    )


def chunks_between(*, space_id: int, start_ms: int, end_ms: int) -> QuerySet[RecordingChunk]:
    return RecordingChunk.objects.filter(
        recording_id=space_id, end_ms__gte=max(0, start_ms), start_ms__lt=end_ms
    ).order_by("speaker_id", "start_ms")


def replays_expired(*, days: int) -> QuerySet[Recording]:
    cutoff = timezone.now() - timedelta(days=days)
    return Recording.objects.exclude(state=Recording.State.DELETED).filter(space__ended_at__lt=cutoff)


def can_replay(*, space: Space, user: User) -> access.Decision:
    return access.can_replay(space=space, user=user)


def replay_ready(*, space: Space) -> bool:
    """The ended Space has a replay to play (whoever may hear it)."""
    return Recording.objects.filter(space=space, state=Recording.State.READY).exclude(audio="").exists()


def listens_for(*, recording: Recording) -> dict:
    """For the host: distinct listeners and listens (one per person per day)."""
    totals = recording.listens.aggregate(listens=Count("id"), people=Count("user", distinct=True))
    return {"listens": totals["listens"], "people": totals["people"]}


def clips_of(*, recording: Recording) -> QuerySet[Clip]:
    return recording.clips.select_related("made_by").order_by("-created_at")


def recent_replays_of(*, host: User, viewer: User, limit: int = 5) -> list[Space]:
    """A person's most recent ended Spaces with a ready replay that `viewer` may play, newest first (for their
    profile). Blocks and removals are decided in SQL; of the gated Spaces (tickets, Super Followers) only the
    `limit` newest ask their audience's rule, so the cost does not grow with the person's history. Logged-out
    visitors see the public ones (the replay asks them to log in)."""
    if viewer.is_authenticated and Block.objects.filter(blocker=host, blocked=viewer).exists():
        return []
    spaces = (
        Space.objects.filter(host=host, state=Space.State.ENDED, recording__state=Recording.State.READY)
        .exclude(recording__audio="")
        .select_related("host", "recording")
        .order_by("-ended_at", "-pk")
    )
    if viewer.pk == host.pk:
        return list(spaces[:limit])
    if not viewer.is_authenticated:
        return list(spaces.filter(audience=Space.Audience.PUBLIC)[:limit])
    removed = Participant.objects.filter(space=OuterRef("pk"), user=viewer, removed_at__isnull=False)
    spaces = spaces.exclude(Exists(removed))
    public = list(spaces.filter(audience=Space.Audience.PUBLIC)[:limit])
    gated = spaces.exclude(audience=Space.Audience.PUBLIC)[:limit]
    admitted = [space for space in gated if access.audience_admits(space=space, user=viewer)]
    return sorted([*public, *admitted], key=lambda space: (space.ended_at, space.pk), reverse=True)[:limit]


def clip_speakers(*, clip: Clip) -> QuerySet[User]:
    """Whose voices the clip holds: the speakers recorded during its range."""
    spoke = RecordingChunk.objects.filter(
        recording_id=clip.recording_id, start_ms__lt=clip.end_ms, end_ms__gt=clip.start_ms
    ).values("speaker_id")
    return User.objects.filter(pk__in=spoke).order_by("display_name", "username")


@dataclass(frozen=True)
class ReplayPin:
    at_ms: int  # when it was pinned, in ms since the Space went live
    pin: PinnedPost


def pins_at_moments(*, space: Space) -> list[ReplayPin]:
    """The Space's pinned posts with the moment each was pinned, in order, for the replay."""
    if space.started_at is None:
        return []
    pins = PinnedPost.objects.filter(space=space).select_related("post__author").order_by("created_at", "pk")
    return [ReplayPin(max(0, int((p.created_at - space.started_at).total_seconds() * 1000)), p) for p in pins]
