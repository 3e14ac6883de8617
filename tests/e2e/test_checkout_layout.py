"""The payment page's layout in every state, in Chromium at a phone's 390x844 and a desktop's 1280x900.

Each state shows only what it needs: the card's height follows its content (no hidden panel keeps its
space), the sandbox banner comes first, the progress bar only shows part way, no heading repeats another,
the phase's detail line is shown, and everything the buyer needs is on the phone's first screen (only
the sandbox's simulate controls may be below it).

Each state is brought about and opened once (checkout_states.visit_each_state) and every check that reads
the page in that state runs on that visit: the layout at both widths, axe-core, Tab, and the receipt's view
and print. A check that fails leaves a screenshot of the page under tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.checkout_states import (
    ARTIFACTS,
    DESKTOP,
    HAS_CHROMIUM,
    PHONE,
    Gateway,
    Visit,
    open_state,
    visit_each_state,
)
from tests.e2e.page_checks import print_problems, unreached_controls, violations
from tests.qr_decode import decode_png, svg_modules
from tests.solana_pay_parser import parse

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason="no Chromium at /usr/bin/chromium")

# Height of a box left over once its displayed children, their margins, its padding and border are counted.
SLACK = """(selector) => {
  const el = document.querySelector(selector);
  const box = el.getBoundingClientRect(), css = getComputedStyle(el);
  const kids = Array.from(el.children).filter((kid) => kid.getClientRects().length > 0);
  if (!kids.length) { return box.height; }
  const top = Math.min(...kids.map((k) => k.getBoundingClientRect().top - parseFloat(getComputedStyle(k).marginTop)));
  const bottom = Math.max(...kids.map((k) => k.getBoundingClientRect().bottom
    + parseFloat(getComputedStyle(k).marginBottom)));
  return box.height - (bottom - top) - ["paddingTop", "paddingBottom", "borderTopWidth", "borderBottomWidth"]
    .reduce((sum, name) => sum + parseFloat(css[name]), 0);
}"""
HEADINGS = """() => Array.from(document.querySelectorAll("h1, h2, h3"))
  .filter((h) => h.getClientRects().length > 0).map((h) => h.textContent.trim().replace(/\\s+/g, " "))"""
PAYING = ("choose", "awaiting", "partial")


def needed(state: str, phase: str, panel: str) -> list[str]:
    """Selectors of what the buyer needs in a state (each must be on the first screen)."""
    always = ["[data-testid=fiat-amount]", "[data-bind=title]", "[data-bind=detail]"]
    current = f'[data-panel-id="{panel}"]'
    if phase == "choose":
        return [*always, ".countdown-time", *(f"[data-testid=choose-{a}]" for a in ("SOL", "USDC", "USDT"))]
    if phase in ("awaiting", "partial"):
        asset = panel.split("-", 1)[1]
        wallet = [f"[data-testid=wallet-link-{asset}]"] if asset != "USDT" else []
        progress = [".progress"] if phase == "partial" else []
        return [*always, *progress, ".countdown-time", f"{current} .qr", f"#{panel}-amount", f"#{panel}-address",
                f"#{panel}-amount + .copy", f"#{panel}-address + .copy", *wallet]
    if phase == "paid":
        notes = {"overpaid": ["[data-bind=overpaid]"], "paid-late": ["[data-bind=paid-late]"]}.get(state, [])
        return [*always, *notes, f"{current} [data-receipt]", "[data-testid=receipt-tx]", "[data-testid=receipt-back]",
                "[data-testid=sandbox-tx]"]
    if phase in ("expired", "underpaid", "cancelled"):
        return [*always, *(f"{current} [data-testid={w}]" for w in ("support-email", "website", "way-back"))]
    return always


def test_every_state_visited_once_for_layout_axe_keyboard_and_print(browser: Any, page_gateway: Gateway) -> None:
    """Each state's page, opened once on a phone: its layout at 390 px and (resized) at 1280 px, then axe-core
    and Tab at 390 px (issue 19 points 1 and 8); in the paid states the receipt view too, axe-checked, and for
    the plain paid state printed (point 2). Every finding of every state is reported together."""
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    found: dict[str, str] = {}

    def check(visit: Visit, what: str, run: Callable[..., None], *args: Any) -> None:
        try:
            run(page, *args)
        except AssertionError as failure:
            found[f"{visit.state}: {what}"] = str(failure)
            _shot(page, f"{visit.state}-{what.replace(' ', '-')}")  # what the page looked like

    try:
        for visit in visit_each_state(page, page_gateway):
            for name, viewport in (("390", PHONE), ("1280", DESKTOP)):
                page.set_viewport_size(viewport)
                check(visit, f"layout at {name} px", _shows_only_what_it_needs, visit, viewport)
            page.set_viewport_size(PHONE)
            check(visit, "axe", _no_violation)
            check(visit, "keyboard", _tab_reaches_every_control)
            if visit.phase == "paid":
                page.goto(f"{page_gateway.base}/pay/{visit.number}/receipt")
                check(visit, "receipt axe", _no_violation)
                if visit.state == "paid":
                    page.set_viewport_size(DESKTOP)
                    check(visit, "receipt print", _prints_its_lines)
                    page.set_viewport_size(PHONE)
    finally:
        context.close()
    assert found == {}


def _no_violation(page: Any) -> None:
    assert violations(page) == []


def _tab_reaches_every_control(page: Any) -> None:
    assert unreached_controls(page) == set()


def _prints_its_lines(page: Any) -> None:
    assert print_problems(page, DESKTOP["width"]) == []


def _shows_only_what_it_needs(page: Any, visit: Visit, viewport: dict[str, int]) -> None:
    """Each state shows only what it needs, and all of it on the first screen."""
    state, phase, panel = visit.state, visit.phase, visit.panel
    banner = page.locator("[data-testid=sandbox-banner]").bounding_box()
    card = page.locator(".card").bounding_box()
    assert banner is not None and card is not None
    assert banner["y"] < 48 and banner["y"] + banner["height"] <= card["y"]  # the banner comes first

    for selector in needed(state, phase, panel):
        box = page.locator(selector).first.bounding_box()
        assert box is not None, f"{selector} is not shown in {state}"
        assert box["y"] + box["height"] <= viewport["height"], f"{selector} is below the first screen"
    assert page.inner_text("[data-bind=detail]").strip()  # every phase says more than its title

    # Only the current panel is displayed, and neither it nor the card keeps any other's height.
    displayed = page.eval_on_selector_all("[data-panel-id]", "(all) => all.filter((p) => "
                                          "p.getClientRects().length).map((p) => p.dataset.panelId)")
    assert displayed == [panel]
    assert abs(page.evaluate(SLACK, ".card")) < 1.5
    assert abs(page.evaluate(SLACK, f'[data-panel-id="{panel}"]')) < 1.5

    progress = page.locator(".progress").bounding_box()
    assert (progress is not None) == (phase == "partial")  # never an empty (or full) bar
    countdown = page.locator(".countdown").bounding_box()
    assert (countdown is not None) == (phase in PAYING)

    headings = page.evaluate(HEADINGS)
    assert len(headings) == len(set(headings)), headings

    if phase in ("awaiting", "partial"):
        _scans(page, panel, viewport)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def _scans(page: Any, panel: str, viewport: dict[str, int]) -> None:
    """The code is big enough for a phone camera and reads back (error correction M) as what the page asks for."""
    code = page.locator(f'[data-panel-id="{panel}"] svg.qr-code')
    box = code.bounding_box()
    assert box is not None and box["width"] >= (240 if viewport is PHONE else 280)
    (text, level), = decode_png(code.screenshot())
    assert level == "M"
    asset = panel.split("-", 1)[1]
    if asset == "USDT":
        assert text == page.inner_text(f"#{panel}-address")
        return
    scanned = parse(text, decimals=6 if asset == "USDC" else 9)
    link = parse(page.get_attribute(f"[data-testid=wallet-link-{asset}]", "href"), decimals=6 if asset == "USDC" else 9)
    assert (scanned.recipient, scanned.amount, scanned.spl_token, scanned.references) == (
        link.recipient, link.amount, link.spl_token, link.references)
    assert scanned.amount == page.inner_text(f"#{panel}-amount")
    assert scanned.label is None and scanned.message is None  # only what a wallet needs to pay
    assert svg_modules(code.evaluate("(svg) => svg.outerHTML")) - 8 <= 57  # version 10 at most


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout-{name}.png"), full_page=True)


def test_longer_languages_keep_what_the_buyer_needs_on_the_phones_first_screen(
        browser: Any, page_gateway: Gateway) -> None:
    """German and Vietnamese run longest of the ten; the phone's first screen still holds everything needed."""
    pages = {lang: browser.new_context(viewport=PHONE, locale=locale).new_page()
             for locale, lang in (("de-DE", "de"), ("vi-VN", "vi"))}
    try:
        for visit in visit_each_state(pages["de"], page_gateway, ("choose", "awaiting-USDC", "partial", "paid",
                                                                   "underpaid")):
            for lang, page in pages.items():
                seen = visit if lang == "de" else open_state(page, page_gateway, visit.state, visit.number,
                                                             visit.phase)
                assert page.get_attribute("html", "lang") == lang
                _shot(page, f"{seen.state}-390-{lang}")
                for selector in needed(seen.state, seen.phase, seen.panel):
                    box = page.locator(selector).first.bounding_box()
                    assert box is not None, f"{selector} is not shown in {seen.state} ({lang})"
                    assert box["y"] + box["height"] <= PHONE["height"], (
                        f"{selector} is below the first screen in {seen.state} ({lang})")
                assert abs(page.evaluate(SLACK, ".card")) < 1.5
                assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        for page in pages.values():
            page.context.close()
