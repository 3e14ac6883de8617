"""A store's logo and colour: checked, stored, served by the gateway with its own content type, shown on the
payment page and in emails; set with `voltbridge store set --logo PATH` or POST /api/plugin/store/logo."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.models import Email, Store
from gateway_core.adapters.notify.email_render import render
from gateway_core.domain.errors import ValidationFailed
from gateway_core.stores.branding import MAX_BYTES, check_logo
from tests.conftest import deliver_due, post_json, tick
from tests.integration.test_checkout_page import create, page

LOGO_API = "/api/plugin/store/logo"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(1)</script></svg>'


def image(kind: str, size: tuple[int, int] = (120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (15, 118, 110)).save(out, format=kind)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                     ("WEBP", "image/webp")])
def test_png_jpeg_and_webp_are_accepted_with_their_dimensions(kind, content_type) -> None:
    logo = check_logo(image(kind))
    assert (logo.content_type, logo.width, logo.height) == (content_type, 120, 40) and len(logo.digest) == 64


@pytest.mark.parametrize(("data", "says"), [
    (SVG, "SVG is not accepted"),
    (b'<?xml version="1.0"?>' + SVG, "SVG is not accepted"),
    (image("GIF"), "GIF is not accepted"),
    (b"not an image at all", "is not a PNG, JPEG or WebP image"),
    (image("PNG")[:60], "is not a PNG, JPEG or WebP image"),  # truncated
    (image("PNG", (8, 8)), "each side must be 16 to 2048 px"),
    (image("PNG", (4000, 20)), "each side must be 16 to 2048 px"),
    (b"\x89PNG" + b"\0" * MAX_BYTES, "at most 262144"),
    (b"", "is empty"),
])
def test_anything_else_is_refused_with_a_reason(data, says) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_logo(data)
    assert says in refused.value.errors["logo"]


def test_the_api_sets_the_logo_the_gateway_serves_it_and_the_page_and_emails_show_it(client, store,
                                                                                       services) -> None:
    png = image("PNG")
    response = post_json(client, LOGO_API, {"api_key": store.api_key, "logo": base64.b64encode(png).decode()})
    assert response.status_code == 200, response.get_json()
    logo = response.get_json()["data"]["logo"]
    assert (logo["content_type"], logo["width"], logo["height"]) == ("image/png", 120, 40)
    path = "/logo/" + logo["url"].rsplit("/logo/", 1)[1]
    served = client.get(path)
    assert served.status_code == 200 and served.data == png and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff" and "immutable" in served.headers["Cache-Control"]

    with services.uow() as uow:
        uow.session.get(Store, store.id).brand_color = "#FDE047"  # light: the page darkens its accent
    number = create(client, store.api_key)
    doc = page(client, number)
    assert doc.first(data_testid="store-logo")["src"] == path
    assert doc.first(data_testid="store-logo")["alt"] == "Test Shop"
    css = client.get(f"/pay/{number}/brand.css")
    assert css.mimetype == "text/css" and "--brand: #FDE047" in css.get_data(as_text=True)
    assert "--accent: #1d4ed8" in css.get_data(as_text=True)

    _, _, email_html = render("email_test", _email_context(), "#0F766E", logo["url"])
    assert f'<img src="{logo["url"]}" alt="Test Shop"' in email_html

    removed = post_json(client, LOGO_API, {"api_key": store.api_key, "logo": None})
    assert removed.status_code == 200 and removed.get_json()["data"]["logo"] is None
    assert client.get(path).status_code == 404
    assert "store-logo" not in page(client, number).text


def test_the_logo_tag_carries_the_size_it_is_drawn_at_on_the_page_and_in_emails(client, store, services) -> None:
    """width and height on every <img>: the page and the mail client keep its box before the image arrives."""
    response = post_json(client, LOGO_API, {"api_key": store.api_key,
                                            "logo": base64.b64encode(image("PNG", (600, 100))).decode()})
    assert response.status_code == 200
    digest = response.get_json()["data"]["logo"]["url"].rsplit("/", 1)[1]
    number = create(client, store.api_key)
    tag = page(client, number).first(data_testid="store-logo")
    assert (tag["width"], tag["height"]) == ("160", "27")  # 600x100 fitted to the header's 160x40
    with services.uow() as uow:
        row = uow.session.get(Store, store.id)
        row.email_notifications, row.notification_email = True, "owner@shop.test"
    assert client.post(f"/pay/{number}/simulate", json={"mode": "full"}).status_code == 201
    tick(services)
    deliver_due(services)
    with services.uow() as uow:
        bodies = [e.html_body for e in uow.session.execute(select(Email)).scalars()]
    assert bodies
    for html in bodies:  # 600x100 fitted to the emails' 200x48
        assert f'<img src="https://gateway.test/logo/{digest}" width="200" height="33" alt="Test Shop"' in html
    _, _, bare = render("email_test", _email_context(), None, "https://gateway.test/logo/x")
    assert '<img src="https://gateway.test/logo/x" alt="Test Shop"' in bare  # no size known: no attributes


def test_the_api_refuses_svg_and_bad_base64_in_its_error_format(client, store) -> None:
    svg = post_json(client, LOGO_API, {"api_key": store.api_key, "logo": base64.b64encode(SVG).decode()})
    assert svg.status_code == 422 and "SVG" in svg.get_data(as_text=True)
    junk = post_json(client, LOGO_API, {"api_key": store.api_key, "logo": "%%%"})
    assert junk.status_code == 422 and "base64" in junk.get_data(as_text=True)
    assert post_json(client, LOGO_API, {"api_key": "wrong", "logo": ""}).status_code == 401


def test_store_set_logo_from_the_command_line(app, client, store, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    logo = tmp_path / "logo.webp"
    logo.write_bytes(image("WEBP", (64, 64)))
    result = runner.invoke(main, ["store", "set", str(store.id), "--logo", str(logo)])
    assert result.exit_code == 0, result.output
    assert "Logo set: image/webp, 64x64 px" in result.output
    url = result.output.split("/logo/", 1)[1].split()[0]
    assert client.get(f"/logo/{url}").mimetype == "image/webp"
    bad = tmp_path / "logo.svg"
    bad.write_bytes(SVG)
    refused = runner.invoke(main, ["store", "set", str(store.id), "--logo", str(bad)])
    assert refused.exit_code != 0 and "SVG is not accepted" in refused.output
    gone = runner.invoke(main, ["store", "set", str(store.id), "--logo", ""])
    assert gone.exit_code == 0 and "Logo removed" in gone.output


def _email_context() -> dict:
    """A store webhook body's shape, as the outbox keeps it for the email."""
    return {"store": {"name": "Test Shop", "network": "sandbox", "support_email": None, "website_url": None},
            "invoice": {"invoice_number": "INV1", "network": "sandbox", "amount_crypto": "0", "amount_due_crypto": "1",
                        "crypto_currency": "SOL",
                        "amount_fiat": "150", "fiat_currency": "USD", "amount_received_crypto": "0",
                        "remaining_amount_crypto": "1", "payment_progress_percentage": "0", "status": "pending",
                        "external_invoice_id": None, "description": None, "customer_name": None,
                        "customer_email": None, "payment_breakdown": {"customer_payment_amount": "0",
                                                                      "customer_payment_currency": "SOL",
                                                                      "rent_sol": "0", "total_sol": "0"},
                        "platform_fee_amount": "0", "platform_fee_percentage": "0", "payment_tx_id": None,
                        "auto_process_tx_id": None, "deposit_address": "addr",
                        "explorer_urls": {"payment_tx": None, "auto_process_tx": None, "deposit_address": None}},
            "event_id": "evt_1", "timestamp": "2026-12-06T00:00:00Z"}
