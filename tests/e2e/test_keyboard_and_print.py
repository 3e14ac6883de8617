"""Keyboard and print in Chromium (issue 19, points 2 and 8): in every state of the payment page, Tab reaches
every control the buyer can see, and Enter works them; the printable receipt prints its lines and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.checkout_states import DESKTOP, PHONE, STATES, StateGateway, bring_to, serve
from tests.e2e.test_checkout_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
# Every control a sighted buyer can see and use: links, buttons and form fields that are displayed.
CONTROLS = """() => Array.from(document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"))
  .filter((el) => el.getClientRects().length > 0 && !el.disabled && el.tabIndex >= 0)
  .map((el, i) => { el.dataset.kbd = String(i); return el.dataset.kbd; })"""
CLIPBOARD = """Object.defineProperty(navigator, "clipboard", {configurable: true, value: {
  writeText: (text) => { window.__copied = text; return Promise.resolve(); }}});"""


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[StateGateway]:
    yield from serve(database_url, tmp_path)


def test_tab_reaches_every_visible_control_in_every_state(browser: Any, gateway: StateGateway) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    try:
        for state in STATES:
            number, phase = bring_to(gateway, state)
            page.goto(f"{gateway.base}/pay{'-dynamic' if state == 'cancelled' else ''}/{number}")
            page.wait_for_selector(f'main#checkout[data-phase="{phase}"]', timeout=20_000)
            if phase == "paid":
                page.wait_for_selector("[data-panel-id=paid] [data-receipt]")
            controls = set(page.evaluate(CONTROLS))
            assert controls, state
            reached: set[str] = set()
            for _ in range(len(controls) + 5):  # Tab order runs through each once (no trap, nothing skipped)
                page.keyboard.press("Tab")
                found = page.evaluate("document.activeElement.dataset.kbd || ''")
                if found:
                    reached.add(found)
            assert controls <= reached, (state, controls - reached)
            if state == "confirming":
                gateway.services.chains["sandbox"]._finality = 0.5
    finally:
        context.close()


def test_enter_works_the_controls(browser: Any, gateway: StateGateway) -> None:
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


def test_the_printable_receipt_prints_its_lines_and_nothing_else(browser: Any, gateway: StateGateway) -> None:
    number, _ = bring_to(gateway, "paid")
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/pay/{number}")
        page.wait_for_selector('main#checkout[data-phase="paid"]', timeout=20_000)  # the worker has seen it paid
        page.goto(f"{gateway.base}/pay/{number}/receipt")
        assert page.locator("[data-print]").is_visible()
        page.emulate_media(media="print")
        for shown in ("[data-testid=receipt-amount]", "[data-testid=receipt-rate]", "[data-testid=receipt-order]",
                      "[data-testid=receipt-tx]", ".receipt time", "[data-testid=store-logo], .store-name"):
            assert page.locator(shown).first.is_visible(), shown
        for hidden in ("[data-print]", ".languages", ".powered", "[data-testid=receipt-link]"):
            assert page.locator(hidden).count() == 0 or not page.locator(hidden).first.is_visible(), hidden
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        assert len(page.pdf(format="A4")) > 1000  # Chromium lays it out for paper
    finally:
        context.close()
