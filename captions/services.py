"""What the captions app changes: caption leases, stored segments, transcripts, preferences."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from rooms.models import Space

from .models import CaptionLease, CaptionPreference, CaptionSegment

PENDING_SECONDS = 60  # how long a dispatched Space waits for a worker before the sweep sends it again


def _claim(*, space_id: int, holder: str, seconds: float, claimable: Q) -> bool:
    """Atomically take or extend the lease when `claimable` matches the row (or there is no row yet)."""
    expires_at = timezone.now() + timedelta(seconds=seconds)
    if CaptionLease.objects.filter(claimable, space_id=space_id).update(holder=holder, expires_at=expires_at):
        return True
    if CaptionLease.objects.filter(space_id=space_id).exists():
        return False
    try:
        with transaction.atomic():
            CaptionLease.objects.create(space_id=space_id, holder=holder, expires_at=expires_at)
    except IntegrityError:
        return False  # another process created it first: theirs
    return True


def caption_lease_reserve(*, space_id: int) -> bool:
    """Mark a Space as dispatched unless someone holds it (or it is already waiting for a worker)."""
    return _claim(
        space_id=space_id,
        holder=CaptionLease.PENDING,
        seconds=PENDING_SECONDS,
        claimable=Q(expires_at__lte=timezone.now()),
    )


def caption_lease_acquire(*, space_id: int, holder: str, seconds: float) -> bool:
    """Become the Space's captioner: free, expired or only reserved leases can be taken."""
    return _claim(
        space_id=space_id,
        holder=holder,
        seconds=seconds,
        claimable=Q(expires_at__lte=timezone.now()) | Q(holder=CaptionLease.PENDING) | Q(holder=holder),
    )


def caption_lease_renew(*, space_id: int, holder: str, seconds: float) -> bool:
    """Extend a lease we hold; False when another worker took it over (we then stop)."""
    expires_at = timezone.now() + timedelta(seconds=seconds)
    return bool(CaptionLease.objects.filter(space_id=space_id, holder=holder).update(expires_at=expires_at))


def caption_lease_release(*, space_id: int, holder: str, hold_for: float = 0, error: str = "") -> None:
    """Give a lease up (now, or after `hold_for` seconds so the sweep does not retry a broken engine at once)."""
    CaptionLease.objects.filter(space_id=space_id, holder=holder).update(
        expires_at=timezone.now() + timedelta(seconds=hold_for), last_error=error[:300]
    )


def caption_segment_store(*, space_id: int, speaker_id: int, start_ms: int, end_ms: int, text: str) -> bool:
    """Keep one final caption; a worker that re-runs an utterance after a crash stores it once."""
    _, created = CaptionSegment.objects.get_or_create(
        space_id=space_id,
        speaker_id=speaker_id,
        start_ms=max(0, start_ms),
        defaults={"end_ms": max(start_ms, end_ms, 0), "text": text},
    )
    return created


@transaction.atomic
def transcript_delete(*, space: Space, by: User) -> int:
    """The host deletes the kept transcript of their Space; returns how many segments went."""
    if space.host_id != by.pk:
        raise PermissionDenied("Only the host can delete this transcript.")
    deleted, _ = CaptionSegment.objects.filter(space=space).delete()
    return deleted


def caption_preference_update(*, user: User, **fields) -> CaptionPreference:
    preference, _ = CaptionPreference.objects.get_or_create(user=user)
    for name, value in fields.items():
        setattr(preference, name, value)
    preference.save()
    return preference
