"""Every merchant email's HTML, in every language, in Chromium at 600 px (a desktop mail client's column) and
390 px (a phone): nothing scrolls sideways, however long the description, order number, transaction id or
translation."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from gateway_core.adapters.i18n import available
from gateway_core.adapters.notify.email_render import render
from gateway_core.contracts.voltxt_payloads import STORE_EVENTS
from gateway_core.stores.branding import EMAIL_BOX, fit
from tests.e2e.checkout_states import ARTIFACTS, HAS_CHROMIUM, ONE_DATABASE
from tests.integration.test_merchant_email import paid_payload

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason="no Chromium at /usr/bin/chromium")
EVENTS = (*STORE_EVENTS, "payment_dropped", "payment_to_lapsed_quote", "payment_valued", "email_test",
          "delivery_failed")


def contexts(services: Any, store_id: int) -> dict[str, dict[str, Any]]:
    paid = paid_payload(services, store_id, "16.5", "USDC", network="devnet", tx_id="5" + "j7sigTX" * 12)
    paid["invoice"]["description"] = "Handmade ceramic mug " + "x" * 120  # one long unbreakable word
    paid["invoice"]["external_invoice_id"] = "order-" + "9" * 60
    dropped = {**paid, "alert": {"tx_id": "5" + "k" * 86, "amount": "16.5", "asset": "USDC"}}
    failed = {"store": paid["store"], "failed": {
        "delivery_id": 7, "event_id": "evt_" + "f" * 24, "event_type": "payment_completed",
        "invoice_number": paid["invoice"]["invoice_number"], "url": "https://shop.example/" + "hook" * 30,
        "attempts": 15, "last_status_code": 500, "last_error": "server error", "channel": "webhook",
        "first_attempt_at": "2026-12-06T10:00:00Z"}, "event_id": "evt_" + "f" * 24, "timestamp": "2026-12-06T16:00:00Z"}
    lapsed = {**paid, "alert": {"tx_id": "5" + "q" * 86, "amount": "16.5", "asset": "USDC", "rate": "0.9998",
                                "rated_at": "2026-12-06T15:59:00.000Z"}}
    special = {"payment_dropped": dropped, "delivery_failed": failed, "payment_to_lapsed_quote": lapsed,
               "payment_valued": lapsed}
    return {event: special.get(event, paid) for event in EVENTS}


@ONE_DATABASE  # the database only holds the payment the emails describe
def test_every_email_fits_a_desktop_and_a_phone_column(browser: Any, services: Any, store: Any) -> None:
    logo = "data:image/png;base64," + base64.b64encode(_png()).decode()
    bodies = {(lang, event): render(event, context, "#0F766E", logo, logo_size=fit(600, 100, EMAIL_BOX),
                                    lang=lang)[2]
              for event, context in contexts(services, store.id).items() for lang in available()}
    for width in (600, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            for (lang, event), html in bodies.items():
                page.set_content(html)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{event} ({lang}) scrolls sideways at {width} px ({scroll} px wide)"
                if width == 390 and lang in ("en", "de"):
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"email-{event}-{lang}-{width}.png"),
                                    full_page=True)
        finally:
            page.close()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 100), (15, 118, 110)).save(out, format="PNG")
    return out.getvalue()
