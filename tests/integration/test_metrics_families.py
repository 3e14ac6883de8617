"""One /metrics scrape after real activity shows every family issue 23 lists, with its values (point 3).

The figures come from the code that records them in production: requests answered by the app, a sandbox and a
Solana payment recorded by the watcher, deliveries sent by the dispatcher to a receiver answering 500, the
Solana client against the fake cluster (then dark), the TRON client against the fake TronGrid, the live rates
against the fake price APIs, and the fee payer's balance read by the deposit job. Injected clocks throughout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from gateway_core import telemetry
from gateway_core.adapters.chains.tron import TronChain, TronNetworkConfig
from gateway_core.adapters.chains.tron_api import TronApi
from gateway_core.adapters.rates.aggregate import AggregateRates, Policy
from gateway_core.adapters.rates.bitstamp import BitstampSource
from gateway_core.adapters.rates.cache import ProcessCache
from gateway_core.adapters.rates.coinbase import CoinbaseSource
from gateway_core.adapters.rates.coingecko import CoinGeckoSource
from gateway_core.adapters.rates.fx import FrankfurterFx
from gateway_core.adapters.rates.kraken import KrakenSource
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import create_store
from gateway_core.worker_status import publish
from tests.conftest import invoice_body, post_json, running_app, running_services, tick
from tests.fakes.price_apis import Market
from tests.fakes.receiver import Receiver
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.trongrid import NILE, NILE_USDT, FakeTronGrid
from tests.solana_fixtures import create_invoice, make_store, option, run_worker
from tests.solana_support import Buyer

Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any) -> Figures:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def svc(sol_settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(dataclasses.replace(sol_settings, outbound_allowlist=("127.0.0.1",)), clock) as services:
        yield services


@pytest.fixture
def web(svc: Services, clock: FrozenClock) -> Iterator[Any]:
    with running_app(svc.settings, clock) as app:
        yield app.test_client()


def test_a_scrape_after_activity_has_every_family_with_its_values(
        svc: Services, web: Any, clock: FrozenClock, fake_rpc: FakeSolanaRpc, fee_payer: str, buyer: Buyer,
        hooks: Receiver) -> None:
    worker = "metrics-host:1"
    # Requests, by contract, endpoint and status.
    with svc.uow() as uow:
        sandbox = create_store(uow, svc.vault, name="Sandbox Shop", network="sandbox")
    hooks.on("/hook", status=500)
    created = post_json(web, "/api/plugin/invoice/create",
                        invoice_body(sandbox.api_key, callback_url=hooks.url("/hook")))
    assert created.status_code == 201
    number = created.get_json()["invoice_number"]
    assert web.get("/api/plugin/invoice/NOPE/status", query_string={"api_key": sandbox.api_key}).status_code == 404
    assert post_json(web, f"/pay/{number}/simulate", {"asset": "SOL"}).status_code == 201
    tick(svc)  # paid: a callback delivery
    dispatcher = dispatcher_for(svc)
    dispatcher.run_until_idle(timeout=30)  # answered 500: in retry
    dispatcher.shutdown()
    assert len(hooks.posts("/hook")) == 1

    # Solana: a payment found through the fake cluster, then the cluster goes dark for 40 s of monotonic time.
    chain: Any = svc.chains["solana"]
    now = [1000.0]
    chain._now = lambda: now[0]
    key, wallet = make_store(svc)
    invoice = create_invoice(web, key)
    buyer.pay_sol(wallet, option(invoice, "SOL")["amount_base_units"], option(invoice, "SOL")["reference"])
    run_worker(svc)  # the watcher (its full scan completes: lag 0) and the deposit job (the fee payer's balance)
    endpoint = telemetry.endpoint_label(fake_rpc.url)
    solana_lag = ("voltbridge_watcher_lag", (("chain", "solana"), ("network", "devnet"), ("worker", worker)))
    publish_now(svc, worker)
    before = scrape(web)
    assert before[solana_lag] == 0
    fake_rpc.outage = "503"
    run_worker(svc)
    now[0] += 40.0  # 100 slots of 400 ms
    run_worker(svc)  # inside the backoff: no call, and the head has moved on meanwhile

    # TRON: the fake TronGrid ten solidified blocks ahead, read four a tick.
    grid = FakeTronGrid()
    tron = TronChain({"nile": TronNetworkConfig(NILE, NILE_USDT)},
                     lambda url: TronApi(url, "test-trongrid-key", per_second=0), max_blocks_per_tick=4,
                     start_lookback_blocks=0)
    market = Market(fx={"EUR": Decimal("0.92")})
    sol_usd = {"coinbase": "152.31", "kraken": "152.40", "bitstamp": "152.20", "coingecko": "152.35"}
    for source, price in sol_usd.items():
        for asset, quoted in (("SOL", price), ("USDC", "0.9998"), ("USDT", "1.0003")):
            market.set(source, asset, "USD", Decimal(quoted))
    rates = AggregateRates([CoinbaseSource(), KrakenSource(), BitstampSource(), CoinGeckoSource()], FrankfurterFx(),
                           ProcessCache(), clock, Policy(cache_seconds=30, max_age_seconds=120))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        grid.install(mock)
        market.install(mock)
        tron.scan("devnet", set(), None)
        grid.advance(10)
        tron.scan("devnet", set(), f"{grid.solid - 10}:{grid.solid - 10}")
        # Rates: fetched now; then every source fails for 45 s, and the rate served ages.
        assert rates.refresh_due() >= 3
        market.down.update({"coinbase", "kraken", "bitstamp", "coingecko"})
        clock.advance(seconds=45)
        rates.refresh_due()
    publish_now(svc, worker)
    figures = scrape(web)

    def value(name: str, **labels: str) -> float:
        return figures[(name, tuple(sorted(labels.items())))]

    assert value("voltbridge_http_requests_total", contract="voltxt", endpoint="/api/plugin/invoice/create",
                 status="201") >= 2
    assert value("voltbridge_http_requests_total", contract="voltxt",
                 endpoint="/api/plugin/invoice/<number>/status", status="404") >= 1
    assert {labels: n for (name, labels), n in figures.items() if name == "voltbridge_invoices"} == {
        (("status", "paid"),): 2}  # neither payment is final yet
    assert value("voltbridge_payments_seen_total", chain="sandbox", network="sandbox") == 1
    assert value("voltbridge_payments_seen_total", chain="solana", network="devnet") == 1
    assert value("voltbridge_deliveries", channel="callback", state="retry") == 1
    assert value("voltbridge_delivery_send_seconds_count", channel="callback") == 1
    assert value("voltbridge_delivery_send_seconds_bucket", channel="callback", le="+Inf") == 1
    assert value("voltbridge_delivery_send_seconds_bucket", channel="callback", le="30.0") == 1
    rpc = {"chain": "solana", "endpoint": endpoint, "worker": worker}
    calls_before = before[("voltbridge_rpc_calls_total", tuple(sorted(rpc.items())))]
    assert value("voltbridge_rpc_calls_total", **rpc) > calls_before
    assert value("voltbridge_rpc_errors_total", **rpc) >= 1
    assert value("voltbridge_rpc_calls_total", chain="tron", endpoint=telemetry.endpoint_label(NILE), worker=worker) \
        >= 2 + 4 + 4
    assert figures[solana_lag] == 100  # 40 s dark: the head is 100 slots on
    assert value("voltbridge_watcher_lag", chain="tron", network="devnet", worker=worker) == 6  # read 4 of 10
    assert value("voltbridge_rate_age_seconds", pair="SOL/USD", worker=worker) == 45
    assert value("voltbridge_fee_payer_lamports", network="devnet", worker=worker) == 5 * 10**9
    assert value("voltbridge_worker_heartbeat_timestamp_seconds", worker=worker) == clock.now().timestamp()


def publish_now(svc: Services, worker: str) -> None:
    with svc.uow() as uow:
        publish(uow, worker, svc.clock.now())


def test_behind_the_tls_proxy_the_allowlist_judges_the_client_not_the_proxy(
        settings: Settings, clock: FrozenClock) -> None:
    """The proxy connects from loopback (allowlisted by default): with TRUST_PROXY the client it names counts."""
    with running_app(dataclasses.replace(settings, trust_proxy=True), clock) as app:
        web = app.test_client()
        proxied = {"REMOTE_ADDR": "127.0.0.1"}
        assert web.get("/metrics", environ_base=proxied,
                       headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
        assert web.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
