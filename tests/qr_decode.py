"""Reads QR codes back as a phone would: zxing-cpp on an image (a browser screenshot, or our SVG drawn to pixels)."""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image


def decode_png(png: bytes) -> list[tuple[str, str]]:
    """The text and error correction level of every QR code in a PNG image."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return [(found.text, found.ec_level)
            for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def svg_modules(svg: str) -> int:
    """Width of one of our QR SVGs in modules, quiet zone included."""
    found = re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert found is not None
    return int(found.group(1))


def decode_svg(svg: str, scale: int = 4) -> list[str]:
    """Draw one of our QR SVGs (a path of horizontal runs on white) to pixels and read it."""
    size = svg_modules(svg)
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg)
    assert path is not None
    image = Image.new("L", (size * scale, size * scale), 255)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path.group(1)):
        left, top = int(x) * scale, int(y) * scale
        image.paste(0, (left, top, left + int(width) * scale, top + scale))
    return [found.text for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
