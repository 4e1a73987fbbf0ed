"""Memory a server process spends on an oversized upload: 100 MiB sent to Daphne and uvicorn, declared and chunked.

Each server runs the embedded default on a free port; the figure is the growth of its peak resident memory
(VmHWM) while it answers 413 (before these limits, the issue measured +1,253 MiB for such an upload under
Daphne). Daphne reads a whole body before the application sees it; uvicorn streams it. The last line is the
one to track.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def send(port: int, chunked: bool) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", "/settings/profile/")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader(*(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(100 * MIB))))
    conn.endheaders()
    chunk = b"\xff" * MIB
    try:
        for _ in range(100):
            conn.send(b"%x\r\n%s\r\n" % (MIB, chunk) if chunked else chunk)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed before the whole body was sent
    return conn.getresponse().status


def measure(server: str, chunked: bool) -> tuple[int, float]:
    """A fresh server process per request, since the peak is a high-water mark."""
    port = free_port()
    app = "spaces_site.asgi:application"
    command = {
        "daphne": [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), app],
        "uvicorn": [str(BIN / "uvicorn"), app, "--port", str(port), "--lifespan", "off", "--no-access-log"],
    }[server]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="spaces_site.settings.dev", DJANGO_DEBUG="false")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/accounts/login/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        before = peak_kb(process.pid)
        status = send(port, chunked)
        return status, (peak_kb(process.pid) - before) / 1024
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    worst = 0.0
    for server in ("daphne", "uvicorn"):
        for chunked in (False, True):
            status, grown = measure(server, chunked)
            mode = "chunked" if chunked else "declared"
            print(f"{server:8} {mode:9} 100 MiB body -> {status}, peak memory +{grown:.1f} MiB")
            worst = max(worst, grown)
    print(f"upload_limit worst_peak_growth_mib={worst:.1f}")


if __name__ == "__main__":
    main()
