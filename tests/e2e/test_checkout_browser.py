from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.e2e.checkout_states import (  # noqa: F401 (CHROMIUM, LAUNCH_ARGS: other modules import them here)
    ARTIFACTS,
    CHROMIUM,
    HAS_CHROMIUM,
    LAUNCH_ARGS,
    ONE_DATABASE,
    Gateway,
    serve,
)
from tests.solana_pay_parser import parse

DEVNET_USDC = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.skipif(
    not HAS_CHROMIUM,
    reason=f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) to run browser tests",
)

# Sums layout shifts not caused by input (the Layout Instability API): a status change must move nothing.
CLS_SCRIPT = """
window.__layoutShift = 0;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (entry) {
    if (entry.hadRecentInput) { return; }
    window.__layoutShift += entry.value;
    window.__shifts = (window.__shifts || []).concat((entry.sources || []).map(function (source) {
      var node = source.node;
      var name = node ? (node.nodeName + "." + (node.className || "") + "#" + (node.id || "")) : "?";
      return name + " " + JSON.stringify(source.previousRect) + " -> " + JSON.stringify(source.currentRect);
    }));
  });
}).observe({type: "layout-shift", buffered: true});
"""


@dataclass
class Shop:
    """The merchant's site: records where buyers land after paying."""

    base: str
    visits: list[str] = field(default_factory=list)


@pytest.fixture
def shop() -> Iterator[Shop]:
    visits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            visits.append(self.path)
            body = b"<!doctype html><title>Shop</title><h1>Thank you for your order</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Shop(f"http://127.0.0.1:{server.server_address[1]}", visits)
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own, on each database: the buyer's whole journey, paid through the worker."""
    yield from _serve(database_url, tmp_path)


@pytest.fixture
def gateway_without_streams(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway whose status streams are always busy: pages must fall back to polling."""
    yield from _serve(database_url, tmp_path, checkout_max_streams=0)


def _serve(database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Gateway]:
    """A gateway whose store has no contact details set, priced at the sandbox's fixed rates."""
    yield from serve(database_url, tmp_path, contact=False, **{"rate_sources": ("fixed",), **overrides})


def _shot(page: Any, name: str) -> None:
    # One file per database: the sqlite and postgresql runs of a test may take screenshots at the same time.
    backend = re.search(r"\[(\w+)\]", os.environ.get("PYTEST_CURRENT_TEST", ""))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-{backend.group(1)}" if backend else ""
    page.screenshot(path=str(ARTIFACTS / f"checkout-{name}{suffix}.png"), full_page=True)


def _open(browser: Any, url: str, viewport: dict[str, int], seen: list[str]) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.add_init_script(CLS_SCRIPT)
    page.on("request", lambda req: seen.append(req.url))
    page.goto(url)
    return context, page


def _phase(page: Any, phase: str, timeout: float = 20_000) -> None:
    page.wait_for_selector(f'main#checkout[data-phase="{phase}"]', timeout=timeout)


def test_buyer_pays_in_usdc_and_lands_on_success_url(browser: Any, gateway: Gateway, shop: Shop) -> None:
    success = f"{shop.base}/thanks?session=[session_id]&inv=[invoice_number]&status=[payment_status]&tx=[payment_tx_id]"
    created = gateway.create_invoice(description="Blue mug, 350 ml", success_url=success,
                                     cancel_url=f"{shop.base}/cart")
    number = created["invoice_number"]
    usdc = next(o for o in created["payment_options"] if o["currency"] == "USDC")
    seen: list[str] = []
    context, page = _open(browser, f"{gateway.base}/pay/{number}", PHONE, seen)
    try:
        # Store, description, fiat amount and every asset with its exact amount.
        assert page.inner_text(".store-name") == "Blue Mug Co."
        assert page.inner_text(".description") == "Blue mug, 350 ml"
        assert page.inner_text("[data-testid=fiat-amount]") == "99.99 USD"
        amounts = {code: page.inner_text(f"[data-testid=choose-{code}] .asset-amount")
                   for code in ("SOL", "USDC", "USDT")}
        assert amounts == {"SOL": "0.6666 SOL", "USDC": "99.99 USDC", "USDT": "99.99 USDT"}
        assert page.get_by_role("button", name="Full").is_visible()  # sandbox: the simulate control is there
        first = page.inner_text(".countdown-time")
        assert re.fullmatch(r"23:5\d:\d\d", first)  # a 24-hour window...
        # ...counting down: the page's own timer moves it on (waited for, however busy the machine).
        page.wait_for_function("first => document.querySelector('.countdown-time').innerText < first", arg=first)
        _shot(page, "choose-360")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
        page.evaluate("window.__sameDocument = true")

        page.click("[data-testid=choose-USDC]")
        page.wait_for_selector('main#checkout[data-panel="pay-USDC"]')
        href = page.get_attribute("[data-testid=wallet-link-USDC]", "href")
        request = parse(href, decimals=6)
        assert request.recipient == usdc["address"] == page.inner_text("#pay-USDC-address")
        assert request.amount == "99.99" == page.inner_text("#pay-USDC-amount")
        assert request.spl_token == DEVNET_USDC
        assert request.references == [usdc["reference"]]
        assert request.label == "Blue Mug Co." and request.message == "Blue mug, 350 ml"
        assert page.locator("[data-panel-id=pay-USDC] svg.qr-code").is_visible()
        _shot(page, "pay-usdc-360")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The choice is remembered: a fresh visit opens on USDC, and the API reports amounts in USDC.
        status = requests.get(f"{gateway.base}/pay/{number}/status.json", timeout=5).json()
        assert (status["chosen_asset"], status["phase"]) == ("USDC", "awaiting")

        page.click("[data-simulate=partial]")
        _phase(page, "partial")
        page.wait_for_selector('[data-testid=wallet-link-USDC][href*="amount=49.995&"]')  # the QR and link follow
        partial = parse(page.get_attribute("[data-testid=wallet-link-USDC]", "href"), decimals=6)
        # "Partial" sends half of what is due; the QR code, link and amount now ask for the other half.
        assert partial.amount == "49.995" and page.inner_text("#pay-USDC-amount") == "49.995"
        assert page.inner_text("[data-bind=title]") == "Partially paid"
        _shot(page, "partial-360")

        page.click("[data-simulate=full]")
        _phase(page, "paid")
        assert page.evaluate("window.__sameDocument") is True  # reached without a reload
        assert page.inner_text("[data-bind=title]") == "Paid"
        _shot(page, "paid-360")
        # The card follows its phase (an icon joins the title, the panel changes), so what lies below the title
        # may move; the banner and the store's header above it never do.
        moved = {shift.split(" ", 1)[0] for shift in page.evaluate("window.__shifts || []")}
        assert moved <= {"ASIDE.sandbox#", "FOOTER.footer#", "DIV.status-text#"}, page.evaluate("window.__shifts")

        page.wait_for_url(f"{shop.base}/thanks*", timeout=15_000)
        landed = parse_qs(urlsplit(page.url).query)
        paid = requests.get(f"{gateway.base}/api/plugin/invoice/{number}/status",
                            params={"api_key": gateway.api_key}, timeout=5).json()
        assert landed == {"session": [number], "inv": [number], "status": ["paid"], "tx": [paid["payment_tx_id"]]}
        assert any(visit.startswith("/thanks?") for visit in shop.visits)
        foreign = [url for url in seen if not url.startswith((gateway.base, shop.base, "data:"))]
        assert foreign == []  # every asset came from the gateway itself
    finally:
        context.close()


def test_desktop_layout_and_the_choice_survives_a_reload(browser: Any, page_gateway: Gateway) -> None:
    gateway = page_gateway
    number = gateway.create_invoice(description="Desk lamp")["invoice_number"]
    seen: list[str] = []
    context, page = _open(browser, f"{gateway.base}/pay/{number}", DESKTOP, seen)
    try:
        page.click("[data-testid=choose-SOL]")
        page.wait_for_selector('main#checkout[data-panel="pay-SOL"]')
        _shot(page, "pay-sol-desktop")
        page.reload()
        assert page.get_attribute("main#checkout", "data-panel") == "pay-SOL"
        request = parse(page.get_attribute("[data-testid=wallet-link-SOL]", "href"), decimals=9)
        assert request.amount == "0.6666" and request.spl_token is None
        page.click("[data-change-asset]")
        page.focus("[data-testid=choose-USDT]")
        page.keyboard.press("Enter")  # the choice works from the keyboard
        page.wait_for_selector('main#checkout[data-panel="pay-USDT"]')
        assert page.locator("[data-testid=wallet-link-USDT]").count() == 0  # TRON: address and amount, no link
        assert page.inner_text("#pay-USDT-amount") == "99.99"
        _shot(page, "pay-usdt-desktop")
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.click("#pay-USDT-address + button.copy")
        assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#pay-USDT-address")
        page.click("#pay-USDT-amount ~ button.copy")
        assert page.evaluate("navigator.clipboard.readText()") == "99.99"
        page.click("[data-simulate=full]")
        _phase(page, "paid")
        assert page.locator("[data-testid=return-now]").count() == 0  # no success_url: the page stays
        assert all(url.startswith((gateway.base, "data:")) for url in seen)
    finally:
        context.close()


def test_expired_invoice_page(browser: Any, page_gateway: Gateway, shop: Shop) -> None:
    gateway = page_gateway
    number = gateway.create_invoice(expiry_hours=1, cancel_url=f"{shop.base}/cart")["invoice_number"]
    gateway.clock.offset += timedelta(hours=2)  # past this invoice's hour, well inside any other's day
    context, page = _open(browser, f"{gateway.base}/pay/{number}", PHONE, [])
    try:
        for name, viewport in (("360", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            _phase(page, "expired")
            assert page.inner_text("[data-bind=title]") == "Invoice expired"
            assert page.text_content(".countdown-time") == "Expired" and not page.is_visible(".countdown")
            assert page.get_by_role("link", name="Back to store").first.get_attribute("href") == f"{shop.base}/cart"
            _shot(page, f"expired-{name}")
    finally:
        context.close()


@ONE_DATABASE
def test_without_live_streams_the_page_polls_status_json(browser: Any, gateway_without_streams: Gateway) -> None:
    gateway = gateway_without_streams
    number = gateway.create_invoice()["invoice_number"]
    seen: list[str] = []
    context, page = _open(browser, f"{gateway.base}/pay/{number}", PHONE, seen)
    try:
        page.wait_for_selector("[data-bind=live-note]:has-text('checking every few seconds')")
        page.click("[data-testid=choose-SOL]")
        page.wait_for_selector('main#checkout[data-panel="pay-SOL"]')
        page.evaluate("window.__sameDocument = true")
        page.click("[data-simulate=full]")
        _phase(page, "paid")
        assert page.evaluate("window.__sameDocument") is True
        assert any(url.endswith(f"/pay/{number}/status.json") for url in seen)
    finally:
        context.close()
