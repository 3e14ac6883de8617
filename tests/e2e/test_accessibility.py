"""Accessibility in Chromium with axe-core (vendored under tests/e2e/vendor/axe-core): no serious or critical
violation in any payment page state, the receipt or any merchant email; status and countdown announced politely;
every control reachable by keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.adapters.i18n import available
from gateway_core.adapters.notify.email_render import render
from tests.e2e.checkout_states import PHONE, STATES, StateGateway, bring_to, serve
from tests.e2e.test_checkout_browser import CHROMIUM
from tests.e2e.test_email_browser import contexts

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[StateGateway]:
    yield from serve(database_url, tmp_path)


def violations(page: Any) -> list[str]:
    page.evaluate(AXE)  # evaluated through the DevTools protocol: the page's script policy does not apply
    found: list[str] = page.evaluate(RUN)
    return found


def test_no_serious_violation_in_any_state_or_the_receipt(browser: Any, gateway: StateGateway) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    try:
        for state in STATES:
            number, phase = bring_to(gateway, state)
            page.goto(f"{gateway.base}/pay{'-dynamic' if state == 'cancelled' else ''}/{number}")
            page.wait_for_selector(f'main#checkout[data-phase="{phase}"]', timeout=20_000)
            if phase == "paid":
                page.wait_for_selector("[data-panel-id=paid] [data-receipt]")
                assert violations(page) == [], state
                page.goto(f"{gateway.base}/pay/{number}/receipt")
            assert violations(page) == [], state
            if state == "confirming":
                gateway.services.chains["sandbox"]._finality = 0.5
    finally:
        context.close()


def test_status_and_countdown_are_announced_politely_and_controls_reached_by_keyboard(
        browser: Any, gateway: StateGateway) -> None:
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


def test_no_serious_violation_in_any_email(browser: Any, services: Any, store: Any) -> None:
    page = browser.new_page(viewport={"width": 600, "height": 900})
    try:
        for event, context in contexts(services, store.id).items():
            for colour in ("#0F766E", "#FDE047"):  # a dark and a light brand colour
                page.set_content(render(event, context, colour)[2])
                assert violations(page) == [], (event, colour)
            for lang in available():  # every language (lang attribute, no string missing or empty)
                page.set_content(render(event, context, "#0F766E", lang=lang)[2])
                assert violations(page) == [], (event, lang)
    finally:
        page.close()
