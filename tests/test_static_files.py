"""Static files build with the production storage; every file of ours (vendored too) keeps what it references."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from tests.processes import ROOT, manage, production_env

# What a JS or CSS file may point at by a relative path: source maps, CSS url() and @import, ES module imports and
# `new URL("./worklet.js", import.meta.url)`.
REFERENCE_PATTERNS = {
    ".js": [
        re.compile(r"[#@]\s*sourceMappingURL=(?P<ref>[^\s*'\"]+)"),
        re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["'](?P<ref>\.{1,2}/[^"']+)["']"""),
        re.compile(r"""new\s+URL\(\s*["'](?P<ref>\.{1,2}/[^"']+)["']\s*,\s*import\.meta\.url"""),
    ],
    ".css": [
        re.compile(r"[#@]\s*sourceMappingURL=(?P<ref>[^\s*'\"]+)"),
        re.compile(r"""url\(\s*["']?(?P<ref>[^"')]+?)["']?\s*\)"""),
        re.compile(r"""@import\s+["'](?P<ref>[^"']+)["']"""),
    ],
}
EXTERNAL = ("data:", "http:", "https:", "//", "#", "/", "about:", "blob:")


def project_static_files() -> list[Path]:
    folders = [ROOT / "static", *sorted(ROOT.glob("*/static"))]
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.rglob("*")) if path.is_file()]


def collected_elsewhere(path: Path, ref: str) -> bool:
    """Whether `ref` from `path` names a file of another static folder: collected, they share one tree (an
    app's page importing the site's `js/close-codes.js` as `../js/close-codes.js`)."""
    root = next((parent for parent in path.parents if parent.name == "static"), None)
    if root is None:
        return False
    name = posixpath.normpath(posixpath.join(path.parent.relative_to(root).as_posix(), ref.split("?", 1)[0]))
    folders = [ROOT / "static", *sorted(ROOT.glob("*/static"))]
    return not name.startswith("..") and any((folder / name).is_file() for folder in folders)


def dangling_references(files: list[Path]) -> list[str]:
    """`file -> reference` for every relative reference in `files` to a file that does not exist."""
    missing = []
    for path in files:
        patterns = REFERENCE_PATTERNS.get(path.suffix)
        if not patterns:
            continue
        text = path.read_text(errors="replace")
        for pattern in patterns:
            for match in pattern.finditer(text):
                ref = match.group("ref").strip()
                if ref.startswith(EXTERNAL):
                    continue
                target = (path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
                if not target.is_file() and not collected_elsewhere(path, ref):
                    label = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    missing.append(f"{label} -> {ref}")
    return missing


def test_every_static_file_of_ours_references_only_files_that_exist():
    files = project_static_files()
    assert any(path.name == "chart.umd.min.js" for path in files), "the vendored Chart.js is not where it was"
    assert dangling_references(files) == []


def test_the_reference_check_reports_a_missing_source_map_and_image(tmp_path):
    (tmp_path / "lib.min.js").write_text("var a=1;\n//# sourceMappingURL=lib.min.js.map\n")
    (tmp_path / "here.png").write_bytes(b"")
    (tmp_path / "site.css").write_text(
        "a{background:url('here.png')} b{background:url(gone.png)} i{background:url(data:image/png;base64,AA==)}"
    )
    (tmp_path / "app.js").write_text('import { x } from "./lib.min.js";\nimport "./absent.js";\n')

    reported = [line.split(" -> ")[1] for line in dangling_references(sorted(tmp_path.iterdir()))]

    assert sorted(reported) == ["./absent.js", "gone.png", "lib.min.js.map"]


def test_collectstatic_with_the_production_storage_writes_the_manifest(tmp_path):
    env = production_env(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        redis_url="redis://127.0.0.1:9/0",  # never contacted: collectstatic needs no Redis
        static_root=tmp_path / "static",
    )

    manage(env, "collectstatic", "--noinput", "-v", "0")  # raises with the output if post-processing aborts

    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    for path in project_static_files():
        name = path.relative_to(next(p for p in path.parents if p.name == "static")).as_posix()
        assert name in manifest, f"{name} has no hashed name in the manifest"
        assert manifest[name] != name and (tmp_path / "static" / manifest[name]).is_file()
