"""The keyboard in Chromium (issue 19, point 8): Enter works the payment page's controls, from the choice to the
printable receipt and the language switcher. That Tab reaches every visible control in every state, and that
the receipt prints its lines and nothing else (point 2), is checked on the one visit each state gets, in
test_checkout_layout.py (tests/e2e/page_checks.py)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.checkout_states import HAS_CHROMIUM, PHONE, Gateway, bring_to

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason="no Chromium at /usr/bin/chromium")
CLIPBOARD = """Object.defineProperty(navigator, "clipboard", {configurable: true, value: {
  writeText: (text) => { window.__copied = text; return Promise.resolve(); }}});"""


def test_enter_works_the_controls(browser: Any, page_gateway: Gateway) -> None:
    gateway = page_gateway
    number, _ = bring_to(gateway, "choose")
    context = browser.new_context(viewport=PHONE, locale="en-US")
    context.add_init_script(CLIPBOARD)
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/pay/{number}")
        page.focus("[data-testid=choose-USDC]")
        page.keyboard.press("Enter")  # choose
        page.wait_for_selector('main#checkout[data-panel="pay-USDC"]')
        page.focus("#pay-USDC-amount + .copy")
        page.keyboard.press("Enter")  # copy
        expect(page.locator("[data-bind=live-note]")).to_have_text("Copied to the clipboard")  # no eval: CSP
        assert page.evaluate("window.__copied") == page.get_attribute("#pay-USDC-amount", "data-value")
        page.focus("[data-simulate=full]")
        page.keyboard.press("Enter")  # the sandbox's simulate control
        page.wait_for_selector('main#checkout[data-phase="paid"]', timeout=20_000)
        page.focus("[data-testid=receipt-link]")
        page.keyboard.press("Enter")  # to the printable receipt
        page.wait_for_url(f"**/pay/{number}/receipt")
        page.focus("[hreflang=de]")
        page.keyboard.press("Enter")  # the language switcher
        page.wait_for_selector("html[lang=de]")
    finally:
        context.close()
