"""Live rates: four spot-price sources and a fiat FX source, each answering with its documented payload."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import pytest
import responses
from solders.keypair import Keypair
from sqlalchemy import func, select

from gateway_core.adapters.models import Invoice
from gateway_core.adapters.rates.aggregate import AggregateRates, Policy
from gateway_core.adapters.rates.bitstamp import BitstampSource
from gateway_core.adapters.rates.book import RateBook, rates_from_settings
from gateway_core.adapters.rates.cache import ProcessCache, RedisCache
from gateway_core.adapters.rates.coinbase import CoinbaseSource
from gateway_core.adapters.rates.coingecko import CoinGeckoSource
from gateway_core.adapters.rates.fx import FrankfurterFx
from gateway_core.adapters.rates.kraken import KrakenSource
from gateway_core.clock import FrozenClock
from gateway_core.domain.errors import RateUnavailable
from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json, running_app, running_services
from tests.fakes.price_apis import Market, PriceServer

SOL_USD = {"coinbase": Decimal("152.31"), "kraken": Decimal("152.40"), "bitstamp": Decimal("152.20"),
           "coingecko": Decimal("152.35")}
FX = {"EUR": Decimal("0.9214"), "JPY": Decimal("157.12"), "INR": Decimal("83.104"), "TRY": Decimal("32.51")}


def market() -> Market:
    made = Market(fx=FX)
    for source, price in SOL_USD.items():
        made.set(source, "SOL", "USD", price)
        made.set(source, "USDC", "USD", Decimal("0.9998"))
        made.set(source, "USDT", "USD", Decimal("1.0003"))
    for source in ("coinbase", "kraken", "coingecko"):  # these quote yen directly
        made.set(source, "SOL", "JPY", Decimal("23931"))
        made.set(source, "USDC", "JPY", Decimal("157.1"))
    return made


@pytest.fixture
def prices():
    fake = market()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


def aggregate(clock: FrozenClock, cache=None, **policy) -> AggregateRates:
    return AggregateRates([CoinbaseSource(), KrakenSource(), BitstampSource(), CoinGeckoSource()], FrankfurterFx(),
                          cache or ProcessCache(), clock, Policy(**policy))


def test_all_up_the_rate_is_the_median_with_every_source_recorded(prices, clock) -> None:
    quote = aggregate(clock).quote("SOL", "USD")
    assert quote.rate == Decimal("152.33") and type(quote.rate) is Decimal  # (152.31 + 152.35) / 2
    assert quote.sources == ("coinbase", "kraken", "bitstamp", "coingecko") and quote.at == clock.now()


def test_coingecko_json_numbers_are_read_as_decimal_digit_for_digit(prices, clock) -> None:
    prices.set("coingecko", "SOL", "USD", Decimal("152.3100000000000000000001"))
    assert CoinGeckoSource().price("SOL", "USD", 3) == Decimal("152.3100000000000000000001")


def test_stablecoins_are_priced_at_their_market_rate(prices, clock) -> None:
    rates = aggregate(clock)
    assert rates.rate("USDC", "USD") == Decimal("0.9998")
    assert rates.rate("USDT", "USD") == Decimal("1.0003")  # Kraken answers as USDTZUSD


def test_one_source_down_leaves_the_median_of_the_others(prices, clock) -> None:
    prices.down.add("kraken")
    quote = aggregate(clock).quote("SOL", "USD")
    assert quote.rate == Decimal("152.31") and "kraken" not in quote.sources and len(quote.sources) == 3


def test_one_source_too_slow_is_left_out(prices, clock) -> None:
    prices.slow.add("bitstamp")
    quote = aggregate(clock).quote("SOL", "USD")
    assert quote.sources == ("coinbase", "kraken", "coingecko") and quote.rate == Decimal("152.35")


def test_a_source_wrong_by_ten_percent_is_dropped_and_logged(prices, clock, caplog) -> None:
    prices.set("bitstamp", "SOL", "USD", SOL_USD["bitstamp"] * Decimal("1.10"))
    with caplog.at_level(logging.WARNING, logger="gateway_core.adapters.rates.aggregate"):
        quote = aggregate(clock).quote("SOL", "USD")
    assert quote.sources == ("coinbase", "kraken", "coingecko") and quote.rate == Decimal("152.35")
    dropped = [r for r in caplog.records if r.getMessage() == "rate source disagrees, dropped"]
    assert [r.source for r in dropped] == ["bitstamp"]  # type: ignore[attr-defined]


def test_two_sources_that_disagree_give_no_rate(prices, clock) -> None:
    prices.down.update({"kraken", "coingecko"})
    prices.set("bitstamp", "SOL", "USD", SOL_USD["coinbase"] * Decimal("1.10"))
    with pytest.raises(RateUnavailable, match=r"SOL/USD.*disagreeing"):
        aggregate(clock).quote("SOL", "USD")


def test_all_down_names_the_pair_and_why(prices, clock) -> None:
    prices.down.update({"coinbase", "kraken", "bitstamp", "coingecko"})
    with pytest.raises(RateUnavailable) as caught:
        aggregate(clock).quote("SOL", "EUR")
    assert caught.value.message.startswith("No SOL/EUR rate: 0 of 4 sources usable (at least 2 needed)")
    assert "kraken: HTTP 503" in caught.value.message


def test_cached_for_the_period_then_stale_rates_serve_until_the_max_age_and_never_after(prices, clock) -> None:
    rates = aggregate(clock)
    first = rates.quote("SOL", "USD")
    calls = sum(prices.calls.values())
    clock.advance(seconds=29)
    assert rates.quote("SOL", "USD") == first and sum(prices.calls.values()) == calls  # from the cache
    prices.down.update({"coinbase", "kraken", "bitstamp", "coingecko"})
    clock.advance(seconds=90)  # 119 s old: sources fail, the cached rate is still young enough
    assert rates.quote("SOL", "USD") == first
    clock.advance(seconds=2)  # 121 s old
    with pytest.raises(RateUnavailable, match=r"SOL/USD.*121s old \(at most 120s\)"):
        rates.quote("SOL", "USD")


def test_fiat_a_source_does_not_quote_is_crossed_through_usd(prices, clock) -> None:
    quote = aggregate(clock).quote("SOL", "JPY")
    # Bitstamp has no yen: its USD price crossed with the FX source's USD/JPY joins the three direct answers.
    crossed = SOL_USD["bitstamp"] * FX["JPY"]
    assert crossed == Decimal("23913.6640")
    assert quote.sources == ("coinbase", "kraken", "bitstamp", "coingecko")
    assert quote.rate == Decimal("23931")
    # Rupees: Coinbase and CoinGecko quote them; Kraken and Bitstamp are crossed through USD.
    for source in ("coinbase", "coingecko"):
        prices.set(source, "SOL", "INR", SOL_USD[source] * FX["INR"])
    inr = aggregate(clock).quote("SOL", "INR")
    assert inr.rate == Decimal("152.33") * FX["INR"] and inr.sources == quote.sources


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return url


def test_processes_sharing_redis_fetch_each_pair_once_per_period(redis_url) -> None:
    """Two web processes (real ones: `responses` does not cross processes, so the price APIs are served on
    127.0.0.1) ask for the same pairs at once, over and over: one fetch per pair and source per period."""
    prefix = f"voltbridge-test:{secrets.token_hex(4)}:"
    fake = market()
    pairs = "SOL/USD,USDC/USD,SOL/JPY"  # SOL/JPY: Bitstamp quotes no yen, so its USD price is crossed with FX
    with PriceServer(fake) as server, web_processes(2, redis_url, prefix, server.url) as ask:
        first = ask("2026-01-15T12:00:00+00:00", pairs, 5)
        assert first[0] == first[1]  # both processes serve the one fetched rate
        assert first[0]["SOL/USD"][:2] == ["152.33", "2026-01-15T12:00:00+00:00"]
        assert dict(fake.calls) == {"coinbase": 3, "kraken": 3, "bitstamp": 3, "coingecko": 3, "fx": 1}
        assert ask("2026-01-15T12:00:29+00:00", pairs, 5)[0] == first[0]  # within RATE_CACHE_SECONDS: no call
        assert sum(fake.calls.values()) == 13
        later = ask("2026-01-15T12:00:31+00:00", pairs, 5)
        assert later[0] == later[1] and later[0]["SOL/USD"][1] == "2026-01-15T12:00:31+00:00"
        assert dict(fake.calls) == {"coinbase": 6, "kraken": 6, "bitstamp": 6, "coingecko": 6, "fx": 2}
    wanted = RedisCache.from_url(redis_url, prefix=prefix).wanted(datetime(2026, 1, 15, 12, 0, 31, tzinfo=UTC))
    assert wanted == {("SOL", "USD"), ("USDC", "USD"), ("SOL", "JPY")}  # what the worker keeps fresh for them


@contextmanager
def web_processes(count: int, redis_url: str, prefix: str, base: str) -> Iterator[Callable[..., list[dict]]]:
    """`count` processes running tests/rate_cache_process.py; ask(at, pairs, times) sends one command to all at
    once (each is blocked reading it) and returns their answers in order."""
    command = [sys.executable, "-m", "tests.rate_cache_process", redis_url, prefix, base]
    root = Path(__file__).resolve().parents[2]
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
                for _ in range(count)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"

        def ask(at: str, pairs: str, times: int) -> list[dict]:
            for child in children:
                assert child.stdin is not None
                child.stdin.write(f"{at} {pairs} {times}\n")
                child.stdin.flush()
            return [json.loads(child.stdout.readline()) for child in children if child.stdout is not None]

        yield ask
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()  # end of input: the process returns
        for child in children:
            child.wait(timeout=30)


def test_the_worker_refreshes_pairs_asked_for_lately(prices, clock) -> None:
    rates = aggregate(clock)
    rates.quote("SOL", "JPY")
    clock.advance(seconds=30)
    before = sum(prices.calls.values())
    assert rates.refresh_due() >= 2  # SOL/JPY and the USD pairs every invoice's limits check needs
    assert sum(prices.calls.values()) > before
    assert rates._cache.get(("SOL", "JPY")).at == clock.now()  # type: ignore[union-attr]


# -- through the API: devnet stores price live, sandbox stores with the fixed table ----------------------------


@pytest.fixture
def live_settings(settings):
    return dataclasses.replace(settings, rate_sources=("coinbase", "kraken", "bitstamp", "coingecko"))


def devnet_store(services) -> str:
    wallet = str(Keypair().pubkey())
    with services.uow() as uow:
        return create_store(uow, services.vault, name="Live", network="devnet",
                            wallets={"SOL": wallet, "USDC": wallet}).api_key


def invoices(services) -> int:
    with services.uow() as uow:
        return int(uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one())


def test_a_devnet_invoice_is_priced_live_and_in_yen_without_minor_units(prices, live_settings, clock,
                                                                        services) -> None:
    key = devnet_store(services)
    with running_app(live_settings, clock) as app:
        assert isinstance(app.extensions["voltbridge"].rates, RateBook)
        client = app.test_client()
        created = post_json(client, "/api/plugin/invoice/create",
                            invoice_body(key, amount=Decimal("1500"), fiat_currency="JPY")).get_json()
        assert created["success"], created
        due = (Decimal("1500") / Decimal("23931")).quantize(Decimal("1E-9"), rounding=ROUND_CEILING)
        assert Decimal(str(created["amount_crypto"])) == due == Decimal("0.062680206")  # lamports, rounded up
        assert created["amount_fiat"] == 1500 and created["fiat_currency"] == "JPY"
        assert created["payment_options"][0]["rate"] == 23931  # the live median, in yen
        odd = post_json(client, "/api/plugin/invoice/create",
                        invoice_body(key, external_invoice_id="o2", amount=Decimal("1500.5"), fiat_currency="JPY"))
        assert odd.status_code == 422 and "JPY has at most 0 decimals" in str(odd.get_json())


def test_with_every_source_down_creation_answers_503_rate_unavailable_and_writes_nothing(
        prices, live_settings, clock, services) -> None:
    prices.down.update({"coinbase", "kraken", "bitstamp", "coingecko"})
    key = devnet_store(services)
    with running_app(live_settings, clock) as app:
        response = post_json(app.test_client(), "/api/plugin/invoice/create", invoice_body(key))
        body = response.get_json()
        assert response.status_code == 503 and body["error_code"] == "RATE_UNAVAILABLE" and not body["success"]
        assert "SOL/USD" in body["message"] and "sources usable" in body["message"]
    assert invoices(services) == 0


def test_sandbox_stores_keep_the_fixed_table_offline(live_settings, clock, store) -> None:
    with responses.RequestsMock() as mock, running_app(live_settings, clock) as app:  # any HTTP call would fail
        created = post_json(app.test_client(), "/api/plugin/invoice/create", invoice_body(store.api_key)).get_json()
        assert created["success"] and not mock.calls
    book = rates_from_settings(live_settings, clock)
    assert book.for_network("sandbox") is book.fixed and book.for_network("mainnet") is book.live


def test_fixed_rates_on_mainnet_need_the_explicit_setting(settings, clock) -> None:
    from gateway_core.adapters.rates.book import fixed_on_mainnet_warning

    explicit = dataclasses.replace(settings, rate_sources=("fixed",))
    book = rates_from_settings(explicit, clock)
    assert book.for_network("mainnet") is book.fixed
    assert "mainnet stores price with the fixed rate table" in (fixed_on_mainnet_warning(explicit) or "")
    live = dataclasses.replace(settings, rate_sources=("coinbase", "kraken"))
    assert fixed_on_mainnet_warning(live) is None


def test_the_fixed_rates_warning_is_logged_once_per_process(settings, clock, caplog) -> None:
    """`voltbridge run` builds the app's services and the worker's; each CLI command its own (issue 17)."""
    from gateway_core import bootstrap

    bootstrap._warn_once.cache_clear()  # the process may have warned already, for another test
    for _ in range(3):
        with caplog.at_level(logging.WARNING, logger="voltbridge"), running_services(settings, clock):
            pass  # the tests' settings: RATE_SOURCES=fixed
    warned = [r for r in caplog.records if "fixed rate table" in r.getMessage()]
    assert len(warned) == 1


def test_the_worker_job_polls_the_live_sources_and_leaves_fixed_everywhere_alone(prices, live_settings, clock) -> None:
    from gateway_core.bootstrap import build_services
    from gateway_core.worker import refresh_rates

    svc = build_services(live_settings, clock=clock)
    try:
        refresh_rates(svc)  # nothing cached yet: the USD pairs every invoice needs are fetched ahead of requests
        assert prices.calls["coinbase"] == 3 and svc.rates.live._cache.get(("SOL", "USD")).at == clock.now()
        refresh_rates(svc)  # still fresh: no calls
        assert prices.calls["coinbase"] == 3
    finally:
        assert svc.engine is not None
        svc.engine.dispose()
    fixed = build_services(dataclasses.replace(live_settings, rate_sources=("fixed",)), clock=clock)
    try:
        prices.calls.clear()
        refresh_rates(fixed)
        assert not prices.calls
    finally:
        assert fixed.engine is not None
        fixed.engine.dispose()
