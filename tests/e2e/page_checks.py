"""Checks any page can take as it stands, in Chromium: axe-core (vendored under tests/e2e/vendor/axe-core), Tab
through its controls, and how its printable receipt prints. Each returns what it found wrong (empty when all
is well), so one visit can run them all and report every finding at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""
# Every control a sighted user can see and use: links, buttons and form fields that are displayed.
CONTROLS = """() => Array.from(document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"))
  .filter((el) => el.getClientRects().length > 0 && !el.disabled && el.tabIndex >= 0)
  .map((el, i) => { el.dataset.kbd = String(i); return el.dataset.kbd; })"""
PRINTED = ("[data-testid=receipt-amount]", "[data-testid=receipt-rate]", "[data-testid=receipt-order]",
           "[data-testid=receipt-tx]", ".receipt time", "[data-testid=store-logo], .store-name")
NOT_PRINTED = ("[data-print]", ".languages", ".powered", "[data-testid=receipt-link]")


def violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated through the DevTools protocol (the page's script policy does not apply), once per document's
    # window: content set with set_content keeps the window, and axe with it (its caches are cleared per run).
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)
    found: list[str] = page.evaluate(RUN)
    return found


def unreached_controls(page: Any) -> set[str]:
    """Visible controls that Tab does not reach when pressed once per control and a few more (so there is no
    trap and nothing is skipped); empty when every one is reached."""
    controls = set(page.evaluate(CONTROLS))
    assert controls, "no control to reach"
    page.evaluate("""() => { window.__reached = new Set();
      document.addEventListener("focusin", (e) => window.__reached.add(e.target.dataset.kbd || "")); }""")
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
    reached = set(page.evaluate("Array.from(window.__reached)"))
    return controls - reached


def print_problems(page: Any, width: int) -> list[str]:
    """On a printable receipt: what prints that should not, or does not print that should (print media is
    emulated for the check and switched back off after it)."""
    problems = [] if page.locator("[data-print]").is_visible() else ["no print button on screen"]
    page.emulate_media(media="print")
    try:
        problems += [f"{shown} not printed" for shown in PRINTED if not page.locator(shown).first.is_visible()]
        problems += [f"{hidden} printed" for hidden in NOT_PRINTED
                     if page.locator(hidden).count() and page.locator(hidden).first.is_visible()]
        if page.evaluate("document.documentElement.scrollWidth") > width:
            problems.append("wider than the page")
        if len(page.pdf(format="A4")) <= 1000:  # Chromium lays it out for paper
            problems.append("an empty PDF")
    finally:
        page.emulate_media(media="no-override")
    return problems
