"""Every merchant email's HTML in Chromium at 600 px (a desktop mail client's column) and 390 px (a phone):
nothing scrolls sideways, however long the description, order number or transaction id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway_core.adapters.notify.email_render import render
from gateway_core.contracts.voltxt_payloads import STORE_EVENTS
from tests.e2e.test_checkout_browser import ARTIFACTS, CHROMIUM
from tests.e2e.test_checkout_layout import backend
from tests.integration.test_merchant_email import paid_payload

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
EVENTS = (*STORE_EVENTS, "payment_dropped", "email_test", "delivery_failed")


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
    return {event: dropped if event == "payment_dropped" else failed if event == "delivery_failed" else paid
            for event in EVENTS}


def test_every_email_fits_a_desktop_and_a_phone_column(browser: Any, services: Any, store: Any) -> None:
    bodies = {event: render(event, context, "#0F766E")[2]
              for event, context in contexts(services, store.id).items()}
    for width in (600, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            for event, html in bodies.items():
                page.set_content(html)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{event} scrolls sideways at {width} px ({scroll} px wide)"
                if width == 390:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"email-{event}-{width}{backend()}.png"), full_page=True)
        finally:
            page.close()
