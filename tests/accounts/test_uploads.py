"""Uploads: a bounded request body, avatars checked before they are decoded and re-encoded, media served safely."""

import asyncio
import html
import io
import struct
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from spaces_site.body_limit import limit_request_body

pytestmark = pytest.mark.django_db

EDIT = "/settings/profile/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels in a few hundred bytes: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 << 20), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def image_bytes(fmt: str = "JPEG", size=(800, 600), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, fmt, **save)
    return out.getvalue()


def upload(client, content: bytes, name: str = "me.jpg", content_type: str = "image/jpeg"):
    return client.post(EDIT, {"display_name": "Alice", "avatar": SimpleUploadedFile(name, content, content_type)})


def test_an_oversized_request_body_is_refused_before_it_is_read(alice_client, alice, settings):
    settings.MAX_REQUEST_BYTES = 1024 * 1024
    response = upload(alice_client, b"\xff" * (3 * 1024 * 1024))
    assert response.status_code == 413
    assert "too large" in text(response) and "1 MB" in text(response)
    alice.refresh_from_db()
    assert not alice.avatar


def test_the_server_refuses_a_streamed_body_past_the_limit_without_passing_it_on(settings):
    settings.MAX_REQUEST_BYTES = 10_000
    reached = []

    async def app(scope, receive, send):
        reached.append(await receive())

    async def run(headers, chunks):
        sent, pending = [], list(chunks)

        async def receive():
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/settings/profile/", "headers": headers}
        await limit_request_body(app)(scope, receive, send)
        return sent, pending

    # Declared too large: refused before a single byte is read.
    sent, pending = asyncio.run(run([(b"content-length", b"50000000")], [b"x" * 4000] * 3))
    assert sent[0]["status"] == 413 and len(pending) == 3 and not reached
    # No length declared (chunked): refused as soon as the bytes received pass the limit.
    sent, pending = asyncio.run(run([], [b"x" * 4000] * 10))
    assert sent[0]["status"] == 413 and b"too large" in sent[1]["body"] and len(pending) == 7 and not reached
    # Within the limit: the application reads the whole body as sent.
    sent, pending = asyncio.run(run([], [b"a" * 10, b"b" * 10]))
    assert reached == [{"type": "http.request", "body": b"a" * 10 + b"b" * 10, "more_body": False}]


def test_an_avatar_over_the_size_limit_is_a_field_error(alice_client, alice, settings):
    settings.AVATAR_MAX_BYTES = 100_000
    response = upload(alice_client, image_bytes("PNG", size=(400, 400), compress_level=0))
    assert response.status_code == 200
    assert response.context["form"].errors["avatar"][0].startswith("That file is ")
    assert "an avatar can be at most 0.1 MB" in text(response)


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (10_000, 10_000), (6_000, 5_000)])
def test_an_image_bomb_is_refused_before_it_is_decoded(alice_client, alice, width, height):
    bomb = png_header_only(width, height)
    assert len(bomb) < 5_000
    response = upload(alice_client, bomb, "bomb.png", "image/png")
    errors = response.context["form"].errors["avatar"]
    assert "An avatar can be at most 25 megapixels." in errors[0]
    alice.refresh_from_db()
    assert not alice.avatar


def test_a_gif_html_polyglot_is_stored_as_a_plain_image(alice_client, alice):
    polyglot = image_bytes("GIF", size=(64, 64)) + b"<html><script>alert(document.cookie)</script></html>"
    assert upload(alice_client, polyglot, "avatar.gif", "image/gif").status_code == 302
    alice.refresh_from_db()
    stored = alice.avatar.read()
    assert b"<script" not in stored and b"<html" not in stored
    assert Image.open(io.BytesIO(stored)).size == (64, 64)


def test_metadata_is_stripped_and_the_avatar_is_scaled_down(alice_client, alice):
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    upload(alice_client, image_bytes("JPEG", size=(2000, 1500), exif=exif.tobytes()))
    alice.refresh_from_db()
    stored = Image.open(io.BytesIO(alice.avatar.read()))
    assert stored.format == "JPEG" and max(stored.size) == 400
    assert not stored.getexif(), "no EXIF (camera, location) survives"


@pytest.mark.parametrize(
    "content, declared, message",
    [
        (b"<html><body>hello</body></html>", "image/gif", "That file is not an image we can read"),
        (image_bytes("PNG"), "text/html", "Choose a JPEG, PNG, GIF or WebP image."),
        (image_bytes("PNG"), "image/jpeg", "the file's content and type must agree"),
        (image_bytes("BMP"), "image/bmp", "Choose a JPEG, PNG, GIF or WebP image"),
    ],
)
def test_content_and_declared_type_must_be_an_allowed_image(alice_client, alice, content, declared, message):
    response = upload(alice_client, content, "file", declared)
    assert message in " ".join(response.context["form"].errors["avatar"])


def test_media_is_served_as_images_that_browsers_never_sniff(client, alice_client, alice):
    upload(alice_client, image_bytes("JPEG"))
    alice.refresh_from_db()
    response = client.get(alice.avatar.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_other_media_files_are_downloads_never_pages(client):
    name = default_storage.save("avatars/page.html", ContentFile(b"<script>alert(1)</script>"))
    response = client.get(f"/media/{name}")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get("/media/../spaces_site/settings/base.py").status_code == 404
    assert client.get("/media/avatars/missing.jpg").status_code == 404


def test_an_avatar_kept_when_other_fields_change_and_gone_when_cleared(alice_client, alice):
    upload(alice_client, image_bytes("PNG", size=(64, 64)), "me.png", "image/png")
    alice.refresh_from_db()
    stored = alice.avatar.name
    assert stored
    alice_client.post(EDIT, {"display_name": "Alice", "bio": "new bio"})
    alice.refresh_from_db()
    assert (alice.avatar.name, alice.bio) == (stored, "new bio")
    alice_client.post(EDIT, {"display_name": "Alice", "bio": "new bio", "avatar-clear": "on"})
    alice.refresh_from_db()
    assert not alice.avatar
