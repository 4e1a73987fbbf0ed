"""One table of websocket close codes: the pages' JS module and rooms/PROTOCOL.md say what the Python table says,
and no other module of the site spells a close code itself."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from spaces_site.close_codes import CODES, FINAL, MEANINGS

ROOT = Path(__file__).resolve().parent.parent
JS_MODULE = ROOT / "static" / "js" / "close-codes.js"
PROTOCOL = ROOT / "rooms" / "PROTOCOL.md"
APPS = ("accounts", "rooms", "ticketing", "captions", "spaces_site", "static", "templates")
A_CLOSE_CODE = re.compile(r"(?<![\w.])44\d\d(?![\w.])")


def js_table() -> tuple[dict[str, int], set[str]]:
    text = JS_MODULE.read_text()
    body = re.search(r"export const CLOSE = Object\.freeze\(\{(?P<body>.*?)\}\);", text, re.S)
    final = re.search(r"export const FINAL = new Set\(\[(?P<names>.*?)\]\);", text, re.S)
    assert body and final, "close-codes.js no longer exports CLOSE and FINAL as this test reads them"
    codes = {name: int(code) for name, code in re.findall(r"(\w+):\s*(\d+)", body.group("body"))}
    return codes, set(re.findall(r"CLOSE\.(\w+)", final.group("names")))


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    following = re.search(r"^#{1,3} ", text[start + len(heading) :], re.M)
    return text[start : start + len(heading) + (following.start() if following else len(text))]


def table_codes(text: str) -> list[int]:
    return [int(code) for code in re.findall(r"^\| (\d{4}) \|", text, re.M)]


def test_every_close_code_is_a_plain_int_with_a_meaning():
    # Daphne (autobahn) refuses to close a socket with anything but an exact int.
    assert all(type(code) is int for code in CODES.values()) and len(set(CODES.values())) == len(CODES)
    assert set(MEANINGS) == set(CODES.values()) and all(MEANINGS.values())
    assert FINAL <= set(CODES.values())


def test_the_js_module_mirrors_the_python_table():
    codes, final = js_table()
    assert codes == CODES
    assert final == {name for name, code in CODES.items() if code in FINAL}


def test_the_protocol_lists_the_same_codes_and_the_same_final_ones():
    text = PROTOCOL.read_text()
    listed = table_codes(section(text, "## Close codes"))
    assert sorted(listed) == sorted(CODES.values()) and len(listed) == len(set(listed))
    assert set(table_codes(section(text, "### Close codes"))) <= set(CODES.values())
    sentence = re.search(r"on every close\s+code except (?P<codes>[\d, and]+)\.", text)
    assert sentence, "PROTOCOL.md no longer says which close codes the page does not reconnect after"
    assert {int(code) for code in re.findall(r"\d{4}", sentence.group("codes"))} == set(FINAL)


def spelled_codes(path: Path) -> list[int]:
    """Close codes written as numbers in the code of `path` (comments and docstrings may name them)."""
    text = path.read_text()
    if path.suffix == ".py":
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return [
            int(token.string)
            for token in tokens
            if token.type == tokenize.NUMBER and A_CLOSE_CODE.fullmatch(token.string)
        ]
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    return [int(found) for found in A_CLOSE_CODE.findall(code)]


def test_no_other_module_spells_a_close_code():
    sources = [
        path
        for app in APPS
        for suffix in ("*.py", "*.js", "*.html")
        for path in (ROOT / app).rglob(suffix)
        if "migrations" not in path.parts and "vendor" not in path.parts
    ]
    assert len(sources) > 100
    spelled = {
        str(path.relative_to(ROOT)): codes
        for path in sources
        if path not in (ROOT / "spaces_site" / "close_codes.py", JS_MODULE) and (codes := spelled_codes(path))
    }
    assert spelled == {}
