"""The pay page's QR codes: our compact SVG draws exactly the modules the qrcode library encodes."""

from __future__ import annotations

import re

import qrcode

from bridge.qr import BORDER, qr_svg

URL = ("solana:9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM?amount=0.6666"
       "&reference=7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV&label=Blue%20Mug%20Co.&message=Invoice%20X")


def _drawn(svg: str) -> tuple[int, set[tuple[int, int]]]:
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)
    cells = set()
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path):
        cells |= {(int(x) + dx, int(y)) for dx in range(int(width))}
    assert len(re.findall(r"M", path)) == len(re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path))
    return size, cells


def test_svg_draws_the_encoded_matrix() -> None:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER)
    code.add_data(URL)
    code.make(fit=True)
    expected = {(x, y) for y, row in enumerate(code.get_matrix()) for x, on in enumerate(row) if on}
    size, drawn = _drawn(str(qr_svg(URL, "QR code")))
    assert size == len(code.get_matrix()) and drawn == expected
    assert (0, 0) not in drawn and (BORDER, BORDER) in drawn  # quiet zone, then a finder pattern


def test_title_is_escaped_and_codes_share_no_ids() -> None:
    svg = str(qr_svg(URL, 'Pay <b>"1" SOL</b>'))
    assert "<title>Pay &lt;b&gt;&#34;1&#34; SOL&lt;/b&gt;</title>" in svg
    assert " id=" not in svg
    assert len(svg) < 12_000  # one path of runs, not a rectangle per module


def test_every_code_scans_back_to_what_it_encodes() -> None:
    from tests.qr_decode import decode_svg

    for data in (URL, "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"):
        assert decode_svg(str(qr_svg(data, "QR code"))) == [data]


def test_the_largest_usdc_request_fits_version_10_at_error_correction_m() -> None:
    from tests.qr_decode import svg_modules

    # What a USDC code carries: recipient, amount (up to the largest with every decimal), mint, reference.
    usdc = ("solana:9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM?amount=999999999.999999"
            "&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
            "&reference=7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV")
    modules = svg_modules(str(qr_svg(usdc, "QR code"))) - 2 * BORDER
    assert modules <= 57  # version 10 is 57x57 modules
    assert BORDER == 4
