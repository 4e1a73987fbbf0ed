"""Hooks into the rooms lifecycle: captioning starts when a Space goes live and stops when it ends."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from rooms.replays.consent import register_opt_in_rule
from rooms.signals import space_cancelled, space_ended, space_started

from . import live, selectors, tasks

# Someone who declined captioning of their voice is recorded only once they accept recording.
register_opt_in_rule(selectors.declined_captioning)


@receiver(space_started, dispatch_uid="captions.space_started")
def start_captions(sender, space, **kwargs) -> None:
    transaction.on_commit(lambda: tasks.dispatch(space.pk))


@receiver(space_ended, dispatch_uid="captions.space_ended")
@receiver(space_cancelled, dispatch_uid="captions.space_cancelled")
def stop_captions(sender, space, **kwargs) -> None:
    # A captioner in another process sees the state change within a second by itself.
    transaction.on_commit(lambda: live.stop_in_process(space.pk))
