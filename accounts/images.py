"""Avatars: refuse what is too big, too many pixels or not an image; keep only a re-encoded copy.

Re-encoding with Pillow keeps the pixels and nothing else: no metadata (EXIF location), and nothing
appended to or hidden in the file (a GIF that is also an HTML page comes out as a plain image).
"""

from __future__ import annotations

import io
import uuid
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format -> the content types a browser may declare for it.
FORMATS = {
    "JPEG": {"image/jpeg", "image/pjpeg"},
    "PNG": {"image/png"},
    "GIF": {"image/gif"},
    "WEBP": {"image/webp"},
}
ACCEPT = "image/jpeg,image/png,image/gif,image/webp"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def avatar_from_upload(upload: UploadedFile) -> ContentFile:
    """The avatar to store for `upload`, or a ValidationError saying what is wrong with it."""
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise ValidationError(
            f"That file is {_megabytes(upload.size)}; an avatar can be at most {_megabytes(settings.AVATAR_MAX_BYTES)}."
        )
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if not declared.startswith("image/"):
        raise ValidationError("Choose a JPEG, PNG, GIF or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(upload)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationError("That file is not an image we can read; choose a JPEG, PNG, GIF or WebP.") from None
    if image.format not in FORMATS or declared not in FORMATS[image.format]:
        raise ValidationError("Choose a JPEG, PNG, GIF or WebP image (the file's content and type must agree).")
    width, height = image.size
    if width * height > settings.AVATAR_MAX_PIXELS:
        raise ValidationError(f"That image is {width:,} × {height:,} pixels. {_too_many_pixels()}")
    side = settings.AVATAR_SIZE
    try:
        image.draft("RGB", (side * 2, side * 2))  # JPEG: decode at a reduced size straight away
        image = ImageOps.exif_transpose(image)
        image.thumbnail((side, side))
        keeps_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if keeps_alpha else "RGB")
        out = io.BytesIO()
        if keeps_alpha:
            image.save(out, "PNG", optimize=True)
        else:
            image.save(out, "JPEG", quality=85, optimize=True)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ValidationError("That image is damaged; choose another.") from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{'png' if keeps_alpha else 'jpg'}")


def _too_many_pixels() -> str:
    return f"An avatar can be at most {settings.AVATAR_MAX_PIXELS / 1_000_000:g} megapixels."
