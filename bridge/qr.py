"""QR codes as small inline SVG: the `qrcode` library encodes, we draw one path of horizontal runs.

qrcode's own SVG factories draw one rectangle per module (tens of kilobytes) and give every code the
same element id; a page shows several codes, so we draw the matrix ourselves.
"""

from __future__ import annotations

import qrcode
from markupsafe import Markup, escape

BORDER = 4  # modules of quiet zone, as ISO/IEC 18004 asks: cameras find the code against any background


def qr_svg(data: str, title: str) -> Markup:
    """An <svg> (scales to its box) encoding `data`, with `title` as its accessible name."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    # Safe markup: every interpolated value is a number except the title, which is escaped.
    return Markup(  # noqa: S704
        f'<svg class="qr-code" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
        f'shape-rendering="crispEdges"><title>{escape(title)}</title>'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>'
    )
