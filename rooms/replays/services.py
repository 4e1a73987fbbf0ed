"""What replays change: the host's recording choices, the recorder's lease, chunks, the mix, listens, clips."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Post, User
from rooms import access
from rooms.events import broadcast
from rooms.models import Participant, Space

from . import background, mixing, selectors, trackfile
from .models import Clip, Recording, RecordingChunk, RecordingConsent, ReplayListen
from .storage import chunk_name, folder, replay_storage, section_name
from .tasks import cut_clip as cut_clip_task
from .tasks import record_space as record_space_task

logger = logging.getLogger(__name__)

PENDING_SECONDS = 60  # a dispatched recorder waits this long for a worker before the sweep sends it again
LIVE_CLIP_MS = 30_000
MAX_CLIP_MS = 60_000


def _require_host(space: Space, by: User) -> None:
    if space.host_id != by.pk:
        raise PermissionDenied("Only the host can do that.")


def _tell_room(space: Space, recording: Recording) -> None:
    broadcast(space.pk, {"type": "recording", "active": recording.active, "clipping": recording.clipping})


# -- the host's choices -------------------------------------------------------------------------------


@transaction.atomic
def recording_start(*, space: Space, by: User) -> Recording:
    """The host records the Space (chosen when starting or scheduling it, or later while live)."""
    _require_host(space, by)
    if space.is_over:
        raise ValidationError("This Space has ended; it can no longer be recorded.")
    recording, created = Recording.objects.select_for_update().get_or_create(space=space)
    if recording.state == Recording.State.DELETED:
        raise ValidationError("The recording of this Space was deleted.")
    if not created and recording.active:
        return recording
    recording.active = True
    recording.save(update_fields=["active"])
    if space.is_live:
        _tell_room(space, recording)
        transaction.on_commit(lambda: recorder_dispatch(space_id=space.pk))
    return recording


@transaction.atomic
def recording_stop(*, space: Space, by: User) -> Recording:
    """The host stops recording; what was recorded so far stays, and recording can start again."""
    _require_host(space, by)
    recording = Recording.objects.select_for_update().filter(space=space).first()
    if recording is None or not recording.active:
        raise ValidationError("This Space is not being recorded.")
    recording.active = False
    recording.save(update_fields=["active"])
    _tell_room(space, recording)
    return recording


@transaction.atomic
def recording_clipping_set(*, space: Space, by: User, clipping: bool) -> Recording:
    _require_host(space, by)
    recording = Recording.objects.select_for_update().filter(space=space).first()
    if recording is None:
        raise ValidationError("This Space is not recorded.")
    recording.clipping = clipping
    recording.save(update_fields=["clipping"])
    if space.is_live:
        _tell_room(space, recording)
    return recording


def recording_delete(*, space: Space, by: User) -> None:
    """The host deletes the recording and its clips: files first, then the rows say it is gone."""
    _require_host(space, by)
    recording = Recording.objects.filter(space=space).first()
    if recording is None or recording.state == Recording.State.DELETED:
        raise ValidationError("There is no recording to delete.")
    if space.is_live:
        raise ValidationError("End the Space first, or stop recording.")
    _recording_erase(recording)


def _recording_erase(recording: Recording) -> None:
    with transaction.atomic():
        Recording.objects.filter(pk=recording.pk).update(state=Recording.State.DELETED, active=False, audio="")
        recording.clips.all().delete()
        recording.chunks.all().delete()
        recording.listens.all().delete()
    _delete_folder(folder(recording.space_id))


def _delete_folder(path: str) -> None:
    storage = replay_storage()
    try:
        folders, files = storage.listdir(path)
    except FileNotFoundError:
        return
    for name in files:
        storage.delete(f"{path}/{name}")
    for sub in folders:
        _delete_folder(f"{path}/{sub}")


def replays_expire(*, days: int) -> int:
    """The operator's retention period: erase replays of Spaces that ended more than `days` ago (0: never)."""
    if not days:
        return 0
    expired = 0
    for recording in selectors.replays_expired(days=days).iterator():
        _recording_erase(recording)
        expired += 1
    return expired


def space_cancelled_drop_recording(*, space: Space) -> None:
    Recording.objects.filter(space=space).delete()


def recording_consent_set(*, space: Space, by: User, accepted: bool) -> RecordingConsent:
    """A speaker says whether their voice goes into the replay; the recorder follows within a second."""
    if space.host_id == by.pk:
        raise ValidationError("You chose to record this Space; stop recording to leave your voice out.")
    recording = Recording.objects.filter(space=space).exclude(state=Recording.State.DELETED).first()
    if recording is None or not space.is_live:
        raise ValidationError("This Space is not being recorded.")
    if not Participant.objects.filter(space=space, user=by, removed_at__isnull=True).exists():
        raise PermissionDenied("Join the Space first.")
    consent, _ = RecordingConsent.objects.update_or_create(
        recording=recording, user=by, defaults={"accepted": accepted, "decided_at": timezone.now()}
    )
    return consent


# -- the recorder's lease --------------------------------------------------------------------------------


def _claim(*, space_id: int, holder: str, seconds: float, claimable: Q) -> bool:
    expires_at = timezone.now() + timedelta(seconds=seconds)
    return bool(
        Recording.objects.filter(claimable, space_id=space_id, state=Recording.State.RECORDING).update(
            holder=holder, lease_expires_at=expires_at
        )
    )


def recorder_lease_reserve(*, space_id: int) -> bool:
    """Mark the Space's recorder as dispatched unless someone holds it (or it is waiting for a worker)."""
    now = timezone.now()
    return _claim(
        space_id=space_id,
        holder=Recording.PENDING,
        seconds=PENDING_SECONDS,
        claimable=Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now),
    )


def recorder_dispatch(*, space_id: int) -> bool:
    """Start recording a Space unless a recorder holds it or one is already on its way."""
    if not recorder_lease_reserve(space_id=space_id):
        return False
    record_space_task.apply_async((space_id,))
    return True


def recorders_sweep() -> list[int]:
    """Dispatch a recorder for every recorded live Space nobody records (its lease expired)."""
    dispatched = [
        pk for pk in selectors.spaces_without_recorder().values_list("pk", flat=True) if recorder_dispatch(space_id=pk)
    ]
    if dispatched:
        logger.info("replays sweep dispatched recorders for spaces %s", dispatched)
    return dispatched


def recorder_lease_acquire(*, space_id: int, holder: str, seconds: float) -> bool:
    now = timezone.now()
    return _claim(
        space_id=space_id,
        holder=holder,
        seconds=seconds,
        claimable=Q(lease_expires_at__isnull=True)
        | Q(lease_expires_at__lte=now)
        | Q(holder=Recording.PENDING)
        | Q(holder=holder),
    )


def recorder_lease_renew(*, space_id: int, holder: str, seconds: float) -> bool:
    expires_at = timezone.now() + timedelta(seconds=seconds)
    return bool(Recording.objects.filter(space_id=space_id, holder=holder).update(lease_expires_at=expires_at))


def recorder_lease_release(*, space_id: int, holder: str) -> None:
    Recording.objects.filter(space_id=space_id, holder=holder).update(holder="", lease_expires_at=timezone.now())


# -- what the recorder writes -----------------------------------------------------------------------------


def recording_chunk_store(*, space_id: int, speaker_id: int, frames: list[trackfile.TrackFrame], holder: str) -> None:
    """Keep a few seconds of one speaker's frames: the file first, then the row that makes it part of the mix."""
    if not frames:
        return
    storage = replay_storage()
    name = storage.save(
        chunk_name(space_id, speaker_id, frames[0].at_ms, holder), ContentFile(trackfile.pack(speaker_id, frames))
    )
    try:
        RecordingChunk.objects.create(
            recording_id=space_id,
            speaker_id=speaker_id,
            start_ms=frames[0].at_ms,
            end_ms=max(frames[-1].at_ms + mixing.FRAME_MS, frames[0].at_ms),
            frames=len(frames),
            name=name,
        )
    except Exception:
        storage.delete(name)
        raise


# -- the mix ------------------------------------------------------------------------------------------------


def _tracks_between(space_id: int, start_ms: int, end_ms: int) -> list[list[trackfile.TrackFrame]]:
    storage = replay_storage()
    tracks: dict[int, list[trackfile.TrackFrame]] = defaultdict(list)
    for chunk in selectors.chunks_between(space_id=space_id, start_ms=start_ms, end_ms=end_ms):
        with storage.open(chunk.name, "rb") as handle:
            _, frames = trackfile.unpack(handle.read())
            tracks[chunk.speaker_id].extend(f for f in frames if start_ms <= f.at_ms < end_ms)
    return list(tracks.values())


def recording_section_mix(*, space_id: int, index: int, end_ms: int | None = None) -> int:
    """Mix one section of the timeline from the chunks and keep its packets; returns how many."""
    start_ms = index * mixing.SECTION_MS
    end_ms = start_ms + mixing.SECTION_MS if end_ms is None else end_ms
    end_ms -= end_ms % mixing.FRAME_MS
    tracks = _tracks_between(space_id, start_ms - mixing.DECODER_WARMUP_MS, end_ms)
    packets = mixing.mix_section(tracks, start_ms=start_ms, end_ms=end_ms) if end_ms > start_ms else []
    storage = replay_storage()
    name = section_name(space_id, index)
    if storage.exists(name):
        storage.delete(name)
    storage.save(name, ContentFile(trackfile.pack_packets(packets)))
    return len(packets)


def recording_mix(*, space_id: int) -> Recording | None:
    """After the end: mix what the live sections left, assemble the replay, keep it. Idempotent; a failure
    leaves the chunks (and sections) as they were, so the next attempt starts from them."""
    started = time.monotonic()
    recording = Recording.objects.select_related("space").filter(space_id=space_id).first()
    if recording is None or recording.state == Recording.State.DELETED or recording.is_ready:
        return recording
    space = recording.space
    if space.started_at is None or space.ended_at is None:
        raise ValidationError("Only an ended Space's recording can be mixed.")
    Recording.objects.filter(pk=space_id).update(state=Recording.State.MIXING, mix_attempts=F("mix_attempts") + 1)
    duration_ms = int((space.ended_at - space.started_at).total_seconds() * 1000)
    duration_ms -= duration_ms % mixing.FRAME_MS
    sections = max(1, -(-duration_ms // mixing.SECTION_MS))
    storage = replay_storage()
    packets: list[list[bytes]] = []
    for index in range(sections):
        name = section_name(space_id, index)
        last = index == sections - 1
        if last or not storage.exists(name):
            recording_section_mix(space_id=space_id, index=index, end_ms=duration_ms if last else None)
        with storage.open(name, "rb") as handle:
            packets.append(trackfile.unpack_packets(handle.read()))
    descriptor, path = tempfile.mkstemp(suffix=f".{mixing.EXTENSION}")
    os.close(descriptor)
    try:
        length_ms = mixing.assemble(packets, path)
        with open(path, "rb") as handle:
            name = storage.save(f"{folder(space_id)}/replay-{uuid.uuid4().hex[:8]}.{mixing.EXTENSION}", File(handle))
        size = os.path.getsize(path)
    finally:
        os.unlink(path)
    with transaction.atomic():
        current = Recording.objects.select_for_update().filter(pk=space_id).first()
        if current is None or current.state == Recording.State.DELETED:  # deleted while we mixed: keep nothing
            storage.delete(name)
            return current
        old = current.audio
        current.audio = name
        current.content_type = f'{mixing.CONTENT_TYPE}; codecs="opus"'
        current.size_bytes = size
        current.duration_ms = length_ms
        current.state = Recording.State.READY
        current.ready_at = timezone.now()
        current.mix_seconds = round(time.monotonic() - started, 2)
        current.last_error = ""
        current.save()
    if old and old != name:
        storage.delete(old)
    # The sections only served this assembly (clips are cut from the speakers' chunks, which stay).
    _delete_folder(f"{folder(space_id)}/sections")
    logger.info("replays: space %s mixed in %.2f s (%d ms)", space_id, current.mix_seconds, length_ms)
    return current


def recording_mix_failed(*, space_id: int, error: str, final: bool) -> None:
    """Say why a mix failed; after the last attempt the recording shows as failed (its chunks are kept)."""
    fields = {"last_error": error[:300]}
    if final:
        fields["state"] = Recording.State.FAILED
    Recording.objects.filter(pk=space_id).exclude(state=Recording.State.DELETED).update(**fields)


def recording_space_ended(*, space: Space) -> bool:
    """The Space ended: its recording (if any) waits for the mix. Returns whether there is one to mix."""
    return bool(
        Recording.objects.filter(space=space, state=Recording.State.RECORDING).update(state=Recording.State.MIXING)
    )


# -- listens and clips -------------------------------------------------------------------------------------


def replay_listen_record(*, recording: Recording, user: User) -> bool:
    """Count a listen once per person per day; the host's own plays are not counted."""
    if user.pk == recording.space.host_id:
        return False
    try:
        with transaction.atomic():
            ReplayListen.objects.create(recording=recording, user=user, day=timezone.localdate())
    except IntegrityError:
        return False
    return True


def _clip_allowed(recording: Recording | None, space: Space, by: User) -> Recording:
    if recording is None or recording.state == Recording.State.DELETED:
        raise ValidationError("This Space has no recording to clip.")
    if not recording.clipping:
        raise ValidationError("The host turned clipping off for this Space.")
    decision = access.can_replay(space=space, user=by)
    if not decision:
        raise PermissionDenied(decision.reason)
    return recording


def clip_create_live(*, space: Space, by: User) -> Clip:
    """Anyone listening to a recorded live Space clips the last 30 seconds."""
    if not space.is_live:
        raise ValidationError("Clips of the last 30 seconds are made while the Space is live.")
    recording = _clip_allowed(Recording.objects.filter(space=space).first(), space, by)
    now_ms = int((timezone.now() - space.started_at).total_seconds() * 1000)
    clip = Clip.objects.create(
        recording=recording, made_by=by, start_ms=max(0, now_ms - LIVE_CLIP_MS), end_ms=max(now_ms, 1)
    )
    transaction.on_commit(lambda: clip_cut_dispatch(clip_id=clip.pk, live=True))
    return clip


def clip_create(*, space: Space, by: User, start_ms: int, end_ms: int) -> Clip:
    """Anyone who may hear a replay clips a range of it, up to 60 seconds."""
    recording = _clip_allowed(Recording.objects.filter(space=space).first(), space, by)
    if not recording.is_ready:
        raise ValidationError("The replay is not ready yet; try again in a moment.")
    if start_ms < 0 or end_ms <= start_ms:
        raise ValidationError("A clip ends after it starts.")
    if end_ms - start_ms > MAX_CLIP_MS:
        raise ValidationError(f"A clip is at most {MAX_CLIP_MS // 1000} seconds.")
    if start_ms >= recording.duration_ms:
        raise ValidationError("That moment is past the end of the replay.")
    clip = Clip.objects.create(
        recording=recording, made_by=by, start_ms=start_ms, end_ms=min(end_ms, recording.duration_ms)
    )
    transaction.on_commit(lambda: clip_cut_dispatch(clip_id=clip.pk))
    return clip


def clip_cut_dispatch(*, clip_id: int, live: bool = False) -> None:
    # A live clip waits for the recorder's next flush, so its last seconds are in the chunks.
    delay = settings.REPLAYS_FLUSH_SECONDS + 1 if live else 0
    background.enqueue(cut_clip_task, clip_id, name=f"replay-clip-{clip_id}", countdown=delay)


def clip_post_create(*, clip: Clip, by: User, url: str, text: str = "") -> Post:
    """Share a clip as a post: the post links the clip's page, and shows its player to whoever may hear it."""
    space = clip.recording.space
    _clip_allowed(clip.recording, space, by)
    lead = text.strip() or f"A clip of “{space.title}”"
    return account_services.post_create(author=by, body=f"{lead[: settings.POST_MAX_LENGTH - len(url) - 1]} {url}")


def clip_share_by_dm(*, clip: Clip, sender: User, recipient: User, url: str) -> None:
    """Send a clip's link by direct message, to someone the sender may share the replay with."""
    decision = access.can_replay(space=clip.recording.space, user=sender)
    if not decision:
        raise PermissionDenied(decision.reason)
    body = f"Listen to this clip of “{clip.recording.space.title}”: {url}"
    account_services.message_share_link(sender=sender, recipient=recipient, body=body)


def clip_cut(*, clip_id: int) -> Clip | None:
    """Mix the clip's range from the speakers' frames into its own file (the same mix as the replay's)."""
    clip = Clip.objects.select_related("recording").filter(pk=clip_id).first()
    if clip is None or clip.audio or clip.recording.state == Recording.State.DELETED:
        return clip
    space_id = clip.recording_id
    start_ms = clip.start_ms - clip.start_ms % mixing.FRAME_MS
    end_ms = clip.end_ms - clip.end_ms % mixing.FRAME_MS
    tracks = _tracks_between(space_id, start_ms - mixing.DECODER_WARMUP_MS, end_ms)
    packets = mixing.mix_section(tracks, start_ms=start_ms, end_ms=end_ms)
    descriptor, path = tempfile.mkstemp(suffix=f".{mixing.EXTENSION}")
    os.close(descriptor)
    try:
        mixing.assemble([packets], path)
        with open(path, "rb") as handle:
            name = replay_storage().save(f"{folder(space_id)}/clips/{clip.pk}.{mixing.EXTENSION}", File(handle))
    finally:
        os.unlink(path)
    if not Clip.objects.filter(pk=clip.pk).update(audio=name):
        replay_storage().delete(name)  # deleted meanwhile
    clip.audio = name
    return clip
