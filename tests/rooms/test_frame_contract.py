"""The frame format is defined once per language: protocol.js states what rooms/media.py does."""

from __future__ import annotations

import re
from pathlib import Path

from rooms import media

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_JS = ROOT / "rooms" / "static" / "rooms" / "audio" / "protocol.js"


def js_constants() -> dict[str, int]:
    found = re.findall(r"^export const (\w+) = (0x[0-9a-fA-F]+|\d+);", PROTOCOL_JS.read_text(), re.M)
    return {name: int(value, 0) for name, value in found}


def test_protocol_js_states_the_frame_format_of_the_python_module():
    constants = js_constants()
    assert {
        name: constants[name]
        for name in ("FORMAT_OPUS", "FORMAT_PCM16", "HEADER_BYTES", "MAX_FRAME_BYTES", "BATCH_MARKER")
    } == {
        "FORMAT_OPUS": media.FORMAT_OPUS,
        "FORMAT_PCM16": media.FORMAT_PCM16,
        "HEADER_BYTES": media.HEADER_BYTES,
        "MAX_FRAME_BYTES": media.MAX_FRAME_BYTES,
        "BATCH_MARKER": media.BATCH_MARKER,
    }


def test_no_other_javascript_module_defines_the_frame_header():
    others = [
        path
        for folder in (ROOT / "static", *ROOT.glob("*/static"))
        for path in folder.rglob("*.js")
        if path != PROTOCOL_JS and re.search(r"\b(HEADER_BYTES|BATCH_MARKER)\s*=", path.read_text())
    ]
    assert others == []
