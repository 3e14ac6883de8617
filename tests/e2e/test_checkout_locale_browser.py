"""The payment page in Chromium in another language: amounts that arrive while the page is open are written as
the served ones are (the page's script uses Babel's separators), the copy button copies the plain amount a
wallet takes, and the store's logo holds its box before the image arrives (width and height on the tag)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from gateway_core.stores.branding import EMAIL_BOX, PAGE_BOX, fit
from tests.e2e.checkout_states import HAS_CHROMIUM, PHONE, Gateway

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason="no Chromium at /usr/bin/chromium")
# Records what the copy buttons write instead of touching the real clipboard.
CLIPBOARD = """Object.defineProperty(navigator, "clipboard", {configurable: true, value: {
  writeText: (text) => { window.__copied = text; return Promise.resolve(); }}});"""


@pytest.fixture
def gateway(page_gateway: Gateway) -> Gateway:
    """The module's gateway: the logo test gives its store a logo, which the amounts test does not look at."""
    return page_gateway


def test_live_amounts_are_local_and_copies_stay_plain(browser: Any, gateway: Gateway) -> None:
    number = gateway.create(amount="370368", fiat_currency="JPY")  # 2,469.12 USDC
    gateway.choose(number, "USDC")
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    context.add_init_script(CLIPBOARD)
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/pay/{number}")
        page.wait_for_selector('main#checkout[data-panel="pay-USDC"]')
        assert page.get_attribute("html", "lang") == "fr"
        assert page.inner_text("#pay-USDC-amount") == "2\u202f469,12"
        gateway.simulate(number, mode="partial")  # while the page is open: the script writes what arrives
        page.wait_for_selector('main#checkout[data-phase="partial"]', timeout=20_000)
        # Waits that poll from Python: the page's policy forbids the eval a string predicate would need.
        expect(page.locator("#pay-USDC-amount")).to_have_attribute("data-value", "1234.56", timeout=20_000)
        assert page.inner_text("#pay-USDC-amount") == "1\u202f234,56"
        assert page.inner_text("[data-bind=detail]") == (
            "1\u202f234,56 USDC reçus. Envoyez les 1\u202f234,56 USDC restants.")
        assert page.text_content("[data-bind=progress]") == "50\u00a0%"
        assert page.inner_text("[data-panel-id=pay-SOL] [data-bind=rate]") == "1 SOL = 22\u202f500 JPY"
        page.click("#pay-USDC-amount + .copy")
        expect(page.locator("[data-bind=live-note]")).to_have_text("Copié dans le presse-papiers")
        assert page.evaluate("window.__copied") == "1234.56"  # the wallet gets the plain amount
        href = page.get_attribute("[data-testid=wallet-link-USDC]", "href")
        assert href is not None and "amount=1234.56" in href
    finally:
        context.close()


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (15, 118, 110)).save(out, format="PNG")
    return out.getvalue()


def test_the_logo_keeps_its_box_before_the_image_arrives(browser: Any, gateway: Gateway) -> None:
    answer = requests.post(f"{gateway.base}/api/plugin/store/logo", timeout=10,
                           json={"api_key": gateway.api_key, "logo": base64.b64encode(_png((600, 100))).decode()})
    assert answer.status_code == 200, answer.text
    number = gateway.create()
    width, height = fit(600, 100, PAGE_BOX)
    assert (width, height) == (160, 27)
    for blocked in (True, False):
        context = browser.new_context(viewport=PHONE, locale="en-US")
        page = context.new_page()
        try:
            if blocked:  # the image never arrives: the tag alone must hold its place
                page.route("**/logo/*", lambda route: route.abort())
            page.goto(f"{gateway.base}/pay/{number}")
            page.wait_for_selector('main#checkout[data-phase="choose"]')
            logo = page.locator("[data-testid=store-logo]")
            assert (logo.get_attribute("width"), logo.get_attribute("height")) == (str(width), str(height))
            box = logo.bounding_box()
            assert box is not None and (round(box["width"]), round(box["height"])) == (width, height), blocked
        finally:
            context.close()
    assert fit(600, 100, EMAIL_BOX) == (200, 33) and fit(20, 20, EMAIL_BOX) == (20, 20)  # never scaled up
