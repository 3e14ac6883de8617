"""Accessibility in Chromium with axe-core (tests/e2e/page_checks.py): status and countdown announced politely,
controls reached by keyboard, and no serious or critical violation in any merchant email. The payment page's
states and the receipt are axe-checked on the one visit each state gets, in test_checkout_layout.py."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_core.adapters.i18n import available
from gateway_core.adapters.notify.email_render import render
from tests.e2e.checkout_states import HAS_CHROMIUM, ONE_DATABASE, PHONE, Gateway, bring_to
from tests.e2e.page_checks import violations
from tests.e2e.test_email_browser import contexts

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason="no Chromium at /usr/bin/chromium")


def test_status_and_countdown_are_announced_politely_and_controls_reached_by_keyboard(
        browser: Any, page_gateway: Gateway) -> None:
    gateway = page_gateway
    number, _ = bring_to(gateway, "awaiting-USDC")
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/pay/{number}")
        page.wait_for_selector('main#checkout[data-panel="pay-USDC"]')
        live = page.locator("[role=status]")
        assert live.get_attribute("aria-live") == "polite" and "Waiting for payment" in live.inner_text()
        assert page.get_attribute("[data-bind=countdown-announce]", "aria-live") == "polite"
        # The countdown itself is not live (it would speak every second); its thresholds are.
        assert page.get_attribute("[data-bind=countdown]", "aria-live") is None

        wanted = {"wallet-link-USDC", "copy-amount", "copy-address", "change-asset", "simulate-full", "lang-de"}
        reached: set[str] = set()
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("""() => {
              const el = document.activeElement;
              if (el.dataset.testid) { return el.dataset.testid; }
              if (el.dataset.copy) { return el.dataset.copy.endsWith("-amount") ? "copy-amount" : "copy-address"; }
              if (el.hasAttribute("data-change-asset")) { return "change-asset"; }
              if (el.dataset.simulate) { return "simulate-" + el.dataset.simulate; }
              if (el.hreflang) { return "lang-" + el.hreflang; }
              return el.tagName;
            }"""))
        assert wanted <= reached, wanted - reached
        page.focus("[data-panel-id=pay-USDC] [data-change-asset]")
        page.keyboard.press("Enter")
        page.wait_for_selector('main#checkout[data-panel="choose"]')
        assert page.evaluate("document.activeElement.dataset.testid") == "choose-SOL"  # focus follows the change
    finally:
        context.close()


@ONE_DATABASE
def test_no_serious_violation_in_any_email(browser: Any, services: Any, store: Any) -> None:
    page = browser.new_page(viewport={"width": 600, "height": 900})
    try:
        for event, context in contexts(services, store.id).items():
            for lang in available():  # every language (lang attribute, no string missing or empty), dark brand colour
                page.set_content(render(event, context, "#0F766E", lang=lang)[2])
                assert violations(page) == [], (event, lang)
            page.set_content(render(event, context, "#FDE047")[2])  # and a light one (in English)
            assert violations(page) == [], (event, "#FDE047")
    finally:
        page.close()
