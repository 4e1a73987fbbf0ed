"""Live servers for the audio tests: Daphne serving bench/fanout_app.py (the media contract's stand-in)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def media_server():
    """A Daphne process on 127.0.0.1 serving the bench app; yields its base URL ("http://127.0.0.1:port")."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "spaces_site.settings.base",
            "SPACES_MEDIA_REDIS_PREFIX": f"test.{uuid.uuid4().hex}",
            "SPACES_BENCH_PAGES": str(PAGES),
            "PYTHONPATH": str(ROOT),
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    daphne = Path(sys.executable).parent / "daphne"
    proc = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "-v", "0", "bench.fanout_app:application"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"daphne exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
