"""The development server's console: each log line printed once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import logging, django
django.setup()
logging.getLogger("django.channels.server").info("HTTP GET /ping-once 200")
logging.getLogger("django.utils.autoreload").info("Watching for file changes once")
logging.getLogger("ticketing").warning("a project line once")
"""


def test_each_console_line_prints_once_under_the_development_settings():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "spaces_site.settings.dev", "DJANGO_LOG_LEVEL": "INFO"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for line in ("HTTP GET /ping-once 200", "Watching for file changes once", "a project line once"):
        assert result.stderr.count(line) == 1, result.stderr
