"""What the captions app reads: who speaks at which relay slot, transcripts, preferences, leases."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from rooms.models import Participant, Space

from .models import CaptionLease, CaptionPreference, CaptionSegment
from .pipeline import Speaker


def speakers_by_index(*, space_id: int) -> dict[int, Speaker]:
    """The people holding relay slots in a Space, with their consent to be captioned (two queries)."""
    seats = list(
        Participant.objects.filter(space_id=space_id, speaker_index__isnull=False, removed_at__isnull=True)
        .select_related("user")
        .only("speaker_index", "user__id", "user__username", "user__display_name")
    )
    declined = set(
        CaptionPreference.objects.filter(user_id__in=[s.user_id for s in seats], caption_my_voice=False).values_list(
            "user_id", flat=True
        )
    )
    return {
        seat.speaker_index: Speaker(user_id=seat.user_id, name=seat.user.name, consents=seat.user_id not in declined)
        for seat in seats
    }


def declined_captioning(user_ids) -> set[int]:
    """The ones among `user_ids` who declined captioning of their voice (recorded only once they accept)."""
    return set(
        CaptionPreference.objects.filter(user_id__in=list(user_ids), caption_my_voice=False).values_list(
            "user_id", flat=True
        )
    )


def space_state(*, space_id: int) -> tuple[str | None, float]:
    """A Space's state and start time (ms since the epoch); (None, 0) if it is gone."""
    row = Space.objects.filter(pk=space_id).values_list("state", "started_at").first()
    if row is None:
        return None, 0.0
    state, started_at = row
    return state, started_at.timestamp() * 1000 if started_at else 0.0


def spaces_without_captioner() -> QuerySet[Space]:
    """Live Spaces nobody captions: never dispatched, or their captioner stopped renewing its lease."""
    held = CaptionLease.objects.filter(expires_at__gt=timezone.now()).values("space_id")
    return Space.objects.filter(state=Space.State.LIVE).exclude(pk__in=held).order_by("pk")


def alert_words_of_host(*, space_id: int) -> list[str]:
    """The keyword alerts the Space's host keeps (lower-case words or phrases)."""
    saved = CaptionPreference.objects.filter(user__hosted_spaces=space_id).values_list("alert_words", flat=True).first()
    return [w.strip().lower() for w in (saved or "").split(",") if w.strip()]


def space_words(*, space_id: int) -> tuple[str, str]:
    """A Space's title and topics (comma-separated), to prime the recogniser with."""
    row = Space.objects.filter(pk=space_id).values_list("title", "topics").first()
    return row if row is not None else ("", "")


def spaces_to_caption() -> QuerySet[Space]:
    """Live Spaces a free captioner may take: nobody holds them, or they only wait in the queue."""
    held = CaptionLease.objects.filter(expires_at__gt=timezone.now()).exclude(holder=CaptionLease.PENDING)
    return Space.objects.filter(state=Space.State.LIVE).exclude(pk__in=held.values("space_id")).order_by("started_at")


def spaces_waiting_for_captioner(*, seconds: float) -> list[int]:
    """Live Spaces that have gone `seconds` or more since going live without anyone captioning them."""
    from datetime import timedelta

    since = timezone.now() - timedelta(seconds=seconds)
    return list(spaces_to_caption().filter(started_at__lte=since).values_list("pk", flat=True))


def transcript_for(*, space: Space) -> QuerySet[CaptionSegment]:
    return CaptionSegment.objects.filter(space=space).select_related("speaker").order_by("start_ms", "id")


def preference_for(*, user: User) -> CaptionPreference:
    """The person's caption settings (defaults, unsaved, if they never changed them)."""
    if user.is_authenticated:
        found = CaptionPreference.objects.filter(user=user).first()
        if found is not None:
            return found
        return CaptionPreference(user=user)
    return CaptionPreference()
