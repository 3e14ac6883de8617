"""The quote on the payment page in headless Chromium: its rate and sources, the time left on it, and the
refreshed amount once it lapses. Prices come from the fake provider APIs served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.checkout_states import ONE_DATABASE
from tests.e2e.test_checkout_browser import PHONE, Gateway, _open, _serve, _shot
from tests.e2e.test_checkout_browser import pytestmark as needs_chromium
from tests.fakes.price_apis import SOURCES, Market, PriceServer
from tests.solana_pay_parser import parse

pytestmark = needs_chromium


def priced(market: Market, sol_usd: str) -> None:
    for source in SOURCES:
        market.set(source, "SOL", "USD", Decimal(sol_usd))
        market.set(source, "USDC", "USD", Decimal("1"))
        market.set(source, "USDT", "USD", Decimal("1"))


@pytest.fixture
def prices() -> Iterator[PriceServer]:
    market = Market()
    priced(market, "150")
    with PriceServer(market) as server:
        yield server


@pytest.fixture
def live_gateway(database_url: str, tmp_path: Path, prices: PriceServer) -> Iterator[Gateway]:
    """A sandbox store priced live (SANDBOX_RATES=live) from the fake providers."""
    urls = {name: prices.url for name in (*SOURCES, "fx")}
    yield from _serve(database_url, tmp_path, rate_sources=SOURCES, sandbox_rates="live", rate_source_urls=urls)


@ONE_DATABASE  # requoting on both databases: tests/integration/test_quote_requote.py
def test_the_page_shows_the_rate_and_its_countdown_and_refreshes_the_amount_after_a_lapse(
        browser: Any, live_gateway: Gateway, prices: PriceServer) -> None:
    created = live_gateway.create_invoice()
    number = created["invoice_number"]
    sol = next(o for o in created["payment_options"] if o["currency"] == "SOL")
    seen: list[str] = []
    context, page = _open(browser, f"{live_gateway.base}/pay/{number}", PHONE, seen)
    try:
        page.click("[data-testid=choose-SOL]")
        page.wait_for_selector('main#checkout[data-panel="pay-SOL"]')
        quote = page.locator("[data-testid=quote-SOL]")
        assert "1 SOL = 150 USD" in quote.inner_text()
        assert "from coinbase, kraken, bitstamp, coingecko" in quote.inner_text()
        left = page.inner_text("[data-testid=quote-countdown-SOL]")
        assert left.startswith("14:") or left == "15:00", left  # QUOTE_LOCK_MINUTES, counting down
        assert page.inner_text("#pay-SOL-amount") == "0.6666"
        assert parse(page.get_attribute("[data-testid=wallet-link-SOL]", "href"), decimals=9).references == \
            [sol["reference"]]
        _shot(page, "quote-150-360")

        priced(prices.market, "160")
        live_gateway.clock.offset += timedelta(minutes=16)  # the lock lapses; the next read quotes afresh
        page.wait_for_selector("[data-testid=quote-SOL] >> text=1 SOL = 160 USD", timeout=20_000)
        page.wait_for_selector('#pay-SOL-amount:text-is("0.6249375")', timeout=20_000)
        fresh = parse(page.get_attribute("[data-testid=wallet-link-SOL]", "href"), decimals=9)
        assert fresh.amount == "0.6249375" and fresh.references != [sol["reference"]]
        assert page.inner_text("[data-testid=quote-countdown-SOL]").startswith(("14:", "15:"))
        _shot(page, "quote-160-360")
    finally:
        context.close()
