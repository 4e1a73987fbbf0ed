"""Hooks into the Space lifecycle: a recorded Space starts its recorder when it goes live and is mixed
once it ends; a cancelled Space keeps no recording."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from accounts.attachments import post_attachments
from rooms.signals import room_events_batched, space_cancelled, space_ended, space_started

from . import clip_posts, curve, recorder, services
from .models import Recording

# A post that links a clip plays it, with its captions and speakers.
post_attachments.register(clip_posts.render_clip_card)


@receiver(space_started, dispatch_uid="replays.space_started")
def start_recorder(sender, space, **kwargs) -> None:
    def dispatch() -> None:
        if Recording.objects.filter(space_id=space.pk, active=True, state=Recording.State.RECORDING).exists():
            services.recorder_dispatch(space_id=space.pk)

    transaction.on_commit(dispatch)


@receiver(room_events_batched, dispatch_uid="replays.room_events_batched")
def count_for_curves(sender, batches, **kwargs) -> None:
    curve.count_events(batches)


@receiver(space_ended, dispatch_uid="replays.space_ended")
def mix_recording(sender, space, **kwargs) -> None:
    # The curve's last minute, before the sockets close.
    transaction.on_commit(lambda: curve.sample(space_ids=[space.pk]))
    if services.recording_space_ended(space=space):
        # A recorder in another process sees the end within a second, flushes and lets the lease go.
        transaction.on_commit(lambda: recorder.stop_in_process(space.pk))
        transaction.on_commit(lambda: recorder.recording_mix_dispatch(space_id=space.pk))


@receiver(space_cancelled, dispatch_uid="replays.space_cancelled")
def drop_recording(sender, space, **kwargs) -> None:
    services.space_cancelled_drop_recording(space=space)
