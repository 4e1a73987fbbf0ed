"""The storage recordings live in (settings.REPLAYS_STORAGE): private, never under MEDIA_URL."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver


@cache
def replay_storage() -> Storage:
    return storages.create_storage(settings.REPLAYS_STORAGE)


@receiver(setting_changed)
def _forget(setting: str, **kwargs) -> None:
    if setting == "REPLAYS_STORAGE":
        replay_storage.cache_clear()


def chunk_name(space_id: int, user_id: int, start_ms: int, holder: str) -> str:
    return f"spaces/{space_id}/tracks/{user_id}/{start_ms:010d}-{holder[-8:]}.spk"


def section_name(space_id: int, index: int) -> str:
    return f"spaces/{space_id}/sections/{index:05d}.sec"


def folder(space_id: int) -> str:
    return f"spaces/{space_id}"
