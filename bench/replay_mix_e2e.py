"""A one-hour recorded Space through the real replay path: storage, database rows and the services.

The per-speaker chunks are written as the recorder writes them (`recording_chunk_store`, one file and one row
per speaker per flush), the finished sections are mixed as the recorder sends them while the Space is live
(`recording_section_mix`), then the clock runs from the end: `recording_mix` mixes the last section, assembles
the replay and keeps it. Prints the time to a ready replay, and the storage per hour (chunks, sections, replay).
Uses a scratch SQLite database and a scratch replays folder; needs espeak-ng and sox (as bench/replay_mix.py).

    .venv/bin/python bench/replay_mix_e2e.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SCRATCH = tempfile.mkdtemp(prefix="bench-replay-")
os.environ["DJANGO_SETTINGS_MODULE"] = "spaces_site.settings.dev"
os.environ["DATABASE_URL"] = f"sqlite:///{SCRATCH}/bench.sqlite3"
os.environ["DJANGO_REPLAYS_ROOT"] = f"{SCRATCH}/replays"
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from replay_mix import one_hour  # noqa: E402

from rooms.models import Space  # noqa: E402
from rooms.replays import mixing, services, trackfile  # noqa: E402
from rooms.replays.models import Recording  # noqa: E402
from tests.accounts.factories import UserFactory  # noqa: E402
from tests.rooms.factories import SpaceFactory, make_host  # noqa: E402


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    host, guest = make_host(username="bench_host"), UserFactory(username="bench_guest")
    end = timezone.now()
    length_ms = int(args.minutes * 60_000)
    space = SpaceFactory(host=host, state=Space.State.ENDED, started_at=end - timedelta(milliseconds=length_ms))
    Space.objects.filter(pk=space.pk).update(ended_at=end, scheduled_for=None)
    Recording.objects.create(space=space, state=Recording.State.MIXING)

    started = time.monotonic()
    chunks, _ = one_hour(args.minutes)
    speakers = {1: host.pk, 2: guest.pk}
    for chunk in chunks:
        speaker, frames = trackfile.unpack(chunk)
        services.recording_chunk_store(
            space_id=space.pk, speaker_id=speakers[speaker], frames=list(frames), holder="bench"
        )
    print(f"stored {len(chunks)} chunks of {args.minutes:g} min in {time.monotonic() - started:.1f} s")

    sections = -(-length_ms // mixing.SECTION_MS)
    started, cpu = time.monotonic(), time.process_time()
    for index in range(sections - 1):  # what the live recorder sends while the Space goes on
        services.recording_section_mix(space_id=space.pk, index=index)
    print(
        f"live: {sections - 1} sections mixed in {time.process_time() - cpu:.1f} CPU s "
        f"({time.monotonic() - started:.1f} s wall), spread over the Space"
    )

    root = Path(os.environ["DJANGO_REPLAYS_ROOT"]) / "spaces" / str(space.pk)
    parts = folder_bytes(root / "sections")  # kept while live, deleted once the replay is assembled
    started, cpu = time.monotonic(), time.process_time()
    recording = services.recording_mix(space_id=space.pk)
    after_end, after_end_cpu = time.monotonic() - started, time.process_time() - cpu
    assert recording is not None and recording.is_ready, recording and recording.last_error
    hours = args.minutes / 60
    tracks, left = folder_bytes(root / "tracks"), folder_bytes(root / "sections")
    print(
        f"storage per hour: per-speaker chunks {tracks / 1e6 / hours:.1f} MB (kept: clips are cut from them), mixed "
        f"sections {parts / 1e6 / hours:.1f} MB while live ({left} bytes after the mix), the replay "
        f"{recording.size_bytes / 1e6 / hours:.1f} MB ({recording.duration_ms / 60_000:.1f} min, "
        f"{recording.content_type})"
    )
    print(
        f"replay ready {after_end:.1f} s after the end ({after_end_cpu:.1f} CPU s; the service recorded "
        f"mix_seconds={recording.mix_seconds}) for a {args.minutes:g}-minute Space"
    )


if __name__ == "__main__":
    main()
