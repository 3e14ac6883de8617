"""A store's logo: checked (PNG, JPEG or WebP; at most 256 KB; sensible dimensions), stored, and found again by
the digest its public URL carries."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import StoreLogo
from gateway_core.domain.errors import ValidationFailed

MAX_BYTES = 256 * 1024
MIN_SIDE, MAX_SIDE = 16, 2048
# Pillow's format names to the content type the gateway serves; anything else (SVG above all: it can carry
# script) is refused.
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Logo:
    digest: str
    content_type: str
    width: int
    height: int
    data: bytes


def check_logo(data: bytes) -> Logo:
    """The logo if it is a PNG, JPEG or WebP image of at most 256 KB and 16 to 2048 px a side; else ValidationFailed."""
    if not data:
        raise ValidationFailed("Invalid logo", errors={"logo": "is empty"})
    if len(data) > MAX_BYTES:
        raise ValidationFailed("Invalid logo", errors={"logo": f"is {len(data)} bytes; at most {MAX_BYTES}"})
    if data.lstrip()[:5].lower() in (b"<?xml", b"<svg ", b"<svg>", b"<!doc"):
        raise ValidationFailed("Invalid logo", errors={"logo": "SVG is not accepted: use PNG, JPEG or WebP"})
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            image.verify()  # reads the whole file: a truncated or corrupt image is refused here, not in a browser
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationFailed("Invalid logo", errors={"logo": "is not a PNG, JPEG or WebP image"}) from None
    if kind not in TYPES:
        raise ValidationFailed("Invalid logo", errors={"logo": f"{kind} is not accepted: use PNG, JPEG or WebP"})
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValidationFailed("Invalid logo", errors={
            "logo": f"is {width}x{height} px; each side must be {MIN_SIDE} to {MAX_SIDE} px"})
    return Logo(hashlib.sha256(data).hexdigest(), TYPES[kind], width, height, data)


def set_logo(uow: UnitOfWork, store_id: int, data: bytes | None, now: datetime) -> Logo | None:
    """Replace the store's logo (None or empty bytes: remove it)."""
    row = uow.session.get(StoreLogo, store_id)
    if not data:
        if row is not None:
            uow.session.delete(row)
        return None
    logo = check_logo(data)
    if row is None:
        row = StoreLogo(store_id=store_id)
        uow.session.add(row)
    row.digest, row.content_type, row.width, row.height, row.data = (
        logo.digest, logo.content_type, logo.width, logo.height, logo.data)
    row.updated_at = now
    return logo


# The boxes a logo is drawn in, in CSS pixels: the payment page's header and the emails' (which add a margin).
PAGE_BOX = (160, 40)
EMAIL_BOX = (200, 48)


@dataclass(frozen=True)
class LogoImage:
    """A stored logo as a page or an email draws it: its digest (URL /logo/<digest>) and its drawn size, which
    the <img> carries as width and height so nothing moves when the image arrives."""

    digest: str
    width: int
    height: int


def fit(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """The size of a width x height image scaled down (never up) to fit the box, keeping its proportions."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def logo_image(uow: UnitOfWork, store_id: int, box: tuple[int, int]) -> LogoImage | None:
    """The store's logo as drawn in `box` (PAGE_BOX or EMAIL_BOX), without loading the image."""
    row = uow.session.execute(select(StoreLogo.digest, StoreLogo.width, StoreLogo.height)
                              .where(StoreLogo.store_id == store_id)).first()
    if row is None:
        return None
    return LogoImage(row[0], *fit(row[1], row[2], box))


def logo_by_digest(uow: UnitOfWork, digest: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of the logo with this digest; stores uploading the same image share it."""
    row = uow.session.execute(select(StoreLogo.content_type, StoreLogo.data).where(StoreLogo.digest == digest)
                              .limit(1)).first()
    return (row[0], row[1]) if row else None
