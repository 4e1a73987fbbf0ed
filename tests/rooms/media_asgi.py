"""A stand-in for the room socket that follows only the media contract, plus a tiny static server.

The browser tests of the audio modules (tests/rooms/test_audio_browser.py, pages/audio.html) drive
rooms/media.py and rooms/static/rooms/audio/ through it without accounts or roles: `/ws/bench/<space_id>/`
joins a Space as a listener; `?speaker=<index>` makes the connection a speaker too. HTTP serves the audio
modules under /static/rooms/ and, when SPACES_BENCH_PAGES names a folder, the pages in it under /pages/.
The real SpaceConsumer is what tests/rooms/test_media_live.py and bench/fanout.py measure.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.base")

import django  # noqa: E402

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from rooms import media  # noqa: E402
from spaces_site.close_codes import CloseCode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "rooms" / "static" / "rooms"


class BenchMediaConsumer(AsyncWebsocketConsumer):
    """Every connection listens; one with `?speaker=N` also publishes its frames as speaker N."""

    speaker_index: int | None = None
    attached = False
    dropped_frames = 0

    async def connect(self) -> None:
        self.space_id = int(self.scope["url_route"]["kwargs"]["space_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if "speaker" in query:
            self.speaker_index = int(query["speaker"][0])
            self.rate_limit = media.MediaRateLimit()
        await self.accept()
        await media.attach(self.space_id, self)
        self.attached = True

    async def disconnect(self, code: int) -> None:
        if self.attached:
            await media.detach(self.space_id, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is None:
            return
        if self.speaker_index is None:
            self.dropped_frames += 1
            return
        if not self.rate_limit.allow(len(bytes_data)):
            await self.close(code=CloseCode.FLOOD)
            return
        try:
            media.validate_frame(bytes_data)
        except media.FrameError as exc:
            await self.close(code=exc.close_code)
            return
        media.publish(self.space_id, self.speaker_index, bytes_data)

    async def send_media(self, payload: bytes) -> None:
        await self.send(bytes_data=payload)


async def static_files(scope, receive, send) -> None:
    """GET for the audio modules and test pages; nothing else."""
    request_path = scope["path"]
    roots = {"/static/rooms/": STATIC_DIR}
    pages = os.environ.get("SPACES_BENCH_PAGES")
    if pages:
        roots["/pages/"] = Path(pages)
    body, status, content_type = b"not found", 404, "text/plain"
    for prefix, folder in roots.items():
        if request_path.startswith(prefix):
            target = (folder / request_path[len(prefix) :]).resolve()
            if target.is_file() and folder.resolve() in target.parents:
                body, status = target.read_bytes(), 200
                content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                if target.suffix == ".js":
                    content_type = "text/javascript"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": static_files,
        "websocket": URLRouter([path("ws/bench/<int:space_id>/", BenchMediaConsumer.as_asgi())]),
    }
)
