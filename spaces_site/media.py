"""Uploaded media (avatars) served by the application, in every environment, with safe headers.

Files come from the default storage (the file system under MEDIA_ROOT in production), so what is
served is always what the upload path stored: re-encoded images. Anything else is sent as a
download, never rendered, and nothing is sniffed or run by the browser.
"""

from __future__ import annotations

import posixpath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@require_safe
def serve_media(request: HttpRequest, name: str) -> FileResponse:
    clean = posixpath.normpath(name).lstrip("/")
    if clean != name or clean.startswith("..") or not default_storage.exists(clean):
        raise Http404("No such file.")
    extension = posixpath.splitext(clean)[1].lower()
    image_type = CONTENT_TYPES.get(extension)
    response = FileResponse(
        default_storage.open(clean),
        content_type=image_type or "application/octet-stream",
        as_attachment=image_type is None,
        filename=posixpath.basename(clean),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response
