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


def caption_lease_reserve(*, space_id: int) -> bool:
    """Mark a Space as dispatched unless someone holds it (or it is already waiting for a worker)."""
    expires_at = timezone.now() + timedelta(seconds=PENDING_SECONDS)
    if CaptionLease.objects.filter(space_id=space_id, expires_at__lte=timezone.now()).update(
        holder=CaptionLease.PENDING, expires_at=expires_at
    ):
        return True
    return _create(space_id=space_id, holder=CaptionLease.PENDING, expires_at=expires_at, token=0)


def _create(*, space_id: int, holder: str, expires_at, token: int) -> bool:
    if CaptionLease.objects.filter(space_id=space_id).exists():
        return False
    try:
        with transaction.atomic():
            CaptionLease.objects.create(space_id=space_id, holder=holder, expires_at=expires_at, token=token)
    except IntegrityError:
        return False  # another process created it first: theirs
    return True


def caption_lease_acquire(*, space_id: int, holder: str, seconds: float) -> tuple[int, str] | None:
    """Become the Space's captioner: free, expired or only reserved leases can be taken.

    Returns the new fencing token and what the lease said before (its `last_error`), or None when
    another captioner holds the Space.
    """
    now = timezone.now()
    expires_at = now + timedelta(seconds=seconds)
    claimable = Q(expires_at__lte=now) | Q(holder=CaptionLease.PENDING) | Q(holder=holder)
    with transaction.atomic():
        row = (
            CaptionLease.objects.select_for_update()
            .filter(claimable, space_id=space_id)
            .values_list("token", "last_error")
            .first()
        )
        if row is not None:
            token, before = row[0] + 1, row[1]
            CaptionLease.objects.filter(space_id=space_id).update(
                holder=holder, expires_at=expires_at, token=token, last_error=""
            )
            return token, before
    if _create(space_id=space_id, holder=holder, expires_at=expires_at, token=1):
        return 1, ""
    return None


def caption_leases_renew(*, holder: str, space_ids: list[int], seconds: float) -> set[int]:
    """Extend every lease `holder` still holds among `space_ids` (one statement); returns those it holds."""
    if not space_ids:
        return set()
    expires_at = timezone.now() + timedelta(seconds=seconds)
    leases = CaptionLease.objects.filter(holder=holder, space_id__in=space_ids)
    if leases.update(expires_at=expires_at) == len(space_ids):
        return set(space_ids)
    return set(leases.values_list("space_id", flat=True))


def caption_lease_release(*, space_id: int, holder: str, hold_for: float = 0, error: str = "") -> None:
    """Give a lease up (now, or after `hold_for` seconds so the sweep does not retry a broken engine at once)."""
    CaptionLease.objects.filter(space_id=space_id, holder=holder).update(
        expires_at=timezone.now() + timedelta(seconds=hold_for), last_error=error[:300]
    )


def caption_lease_mark_waiting(*, space_id: int) -> bool:
    """Note that a Space's listeners were told captions wait for a captioner; False if they already were."""
    return bool(
        CaptionLease.objects.filter(space_id=space_id)
        .exclude(last_error=CaptionLease.WAITING)
        .update(last_error=CaptionLease.WAITING)
    )


def caption_segment_store(
    *, space_id: int, speaker_id: int, start_ms: int, end_ms: int, text: str, holder: str = "", token: int = 0
) -> bool:
    """Keep one final caption; a worker that re-runs an utterance after a crash stores it once.

    With a `token`, only the current holder of the Space's lease may store: the lease row stays
    locked while it checks, so a captioner taking over waits for this insert.
    """
    with transaction.atomic():
        if token and not (
            CaptionLease.objects.select_for_update()
            .filter(space_id=space_id, holder=holder, token=token, expires_at__gt=timezone.now())
            .exists()
        ):
            return False
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
