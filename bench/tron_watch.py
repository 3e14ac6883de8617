"""TRON watcher cost: one worker tick over 100 solidified blocks of receipts with 10,000 open invoices.

Builds a devnet store with a made-up account xpub, 10,000 open invoices (each its own derived USDT
address) in a temporary SQLite database, and a TronGrid stand-in served through `responses` under
tronpy's requests-based provider: 100 blocks of mainnet-like receipts (USDT and other TRC20 transfers,
plain TRX transfers), 50 of which pay an invoice. Then runs one real worker tick (`watch_tick`) and,
in the same run, a naive poller that asks TronGrid once per watched address
(`/v1/accounts/<address>/transactions/trc20`), as per-address integrations do.

    .venv/bin/python bench/tron_watch.py [--invoices 10000] [--blocks 100] [--database-url postgresql://…]

It also ticks 1 and then 3 workers over 100 open invoices (bench/worker_scaling.py): on PostgreSQL one worker
holds the TRON watcher's lock, so 3 workers make the calls of 1.

Prints the figures side by side, then one JSON object as the last line. Target: calls per tick =
blocks scanned + 1, whatever the number of open invoices.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import coincurve
import requests
import responses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worker_scaling import calls_per_tick
from bridge.migrate import upgrade
from gateway_core.adapters.chains.tron import tron_chain_from_settings
from gateway_core.adapters.chains.tron_keys import ExtendedPublicKey, deposit_address, serialise
from gateway_core.adapters.models import Invoice, Payment, Quote, Store
from gateway_core.bootstrap import build_services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.domain.identifiers import new_invoice_number
from gateway_core.payments.watch import watch_tick
from gateway_core.ports import WatchedAddress
from gateway_core.stores.manage import create_store
from tests.fakes.trongrid import (
    NILE,
    NILE_USDT,
    OTHER_TOKEN,
    FakeTronGrid,
    trc20_transfer,
    trx_transfer,
)

RECEIPTS_PER_BLOCK = 200
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def random_address() -> str:
    return ExtendedPublicKey(0, 0, b"\0" * 32,
                             coincurve.PrivateKey(secrets.token_bytes(32)).public_key.format()).tron_address()


def made_up_xpub() -> str:
    """An account xpub whose private key nobody keeps: the gateway only ever needs the public half."""
    key = coincurve.PrivateKey(secrets.token_bytes(32)).public_key.format()
    return serialise(ExtendedPublicKey(3, 0x80000000, secrets.token_bytes(32), key))


def fill_chain(chain: FakeTronGrid, first: int, blocks: int, payees: list[str], seed: int = 7) -> None:
    """Mainnet-like blocks: mostly USDT to strangers, some other tokens and TRX; one invoice paid every other block."""
    rng = random.Random(seed)
    strangers = [random_address() for _ in range(300)]
    for number in range(first, first + blocks):
        for _ in range(RECEIPTS_PER_BLOCK):
            roll = rng.random()
            if roll < 0.75:
                chain.add(trc20_transfer(number, rng.choice(strangers), rng.randrange(1, 10**9)))
            elif roll < 0.85:
                chain.add(trc20_transfer(number, rng.choice(strangers), rng.randrange(1, 10**9), token=OTHER_TOKEN))
            else:
                chain.add(trx_transfer(number, rng.choice(strangers), rng.randrange(1, 10**9)))
        if (number - first) % 2 == 0:
            chain.add(trc20_transfer(number, payees[(number - first) // 2], 25_000_000))


def seed_invoices(services: Any, count: int) -> tuple[list[str], float]:
    """`count` open invoices of one xpub store, inserted in bulk; returns their addresses and derivation time."""
    with services.uow() as uow:
        store_id = create_store(uow, services.vault, name="Bench", network="devnet", tron_xpub=made_up_xpub()).id
    started = time.perf_counter()
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        xpub = store.tron_xpub
        addresses = [deposit_address(xpub, i) for i in range(count)]
        derive_s = time.perf_counter() - started
        expires = NOW + timedelta(hours=24)
        for address in addresses:
            uow.session.add(Invoice(
                number=new_invoice_number(), store_id=store_id, network="devnet", status="pending",
                amount_type="fiat", price_currency="USD", price_units=2500, fiat_currency="USD", fiat_minor=2500,
                request_fingerprint="bench", created_at=NOW, updated_at=NOW, expires_at=expires,
                quotes=[Quote(position=0, asset="USDT", chain="tron", address=address, amount_due=25_000_000,
                              rate=1, rate_currency="USD", expires_at=expires)]))
        store.tron_next_index = count
    return addresses, derive_s


def naive_poll(addresses: list[str], paid: set[str]) -> tuple[int, float]:
    """One tick of a poller that asks TronGrid per address; returns (calls, CPU seconds)."""
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        address = request.path_url.split("/")[3]
        data = [{"transaction_id": secrets.token_hex(32), "to": address, "value": "25000000",
                 "token_info": {"address": NILE_USDT, "decimals": 6, "symbol": "USDT"},
                 "block_timestamp": 1_768_478_400_000, "type": "Transfer"}] if address in paid else []
        return 200, {}, json.dumps({"data": data, "success": True, "meta": {"at": 1, "page_size": len(data)}})

    session = requests.Session()
    session.headers["TRON-PRO-API-KEY"] = "bench-key"
    calls, found = 0, 0
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, responses.matchers.re.compile(rf"{NILE}/v1/accounts/.*"), callback=answer)
        started = time.process_time()
        for address in addresses:
            reply = session.get(f"{NILE}/v1/accounts/{address}/transactions/trc20",
                                params={"only_to": "true", "contract_address": NILE_USDT, "limit": 20}, timeout=10)
            calls += 1
            found += len(reply.json()["data"])
        cpu = time.process_time() - started
    assert found == len(paid)
    return calls, cpu


def timed(fn: Callable[..., Any], box: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            box.append(time.process_time() - started)
    return wrapper


def scan_only(invoices: int, blocks: int, chain: FakeTronGrid, services: Any) -> int:
    """Calls of one scan over the same blocks with `invoices` watched addresses (no database)."""
    fresh = tron_chain_from_settings(services.settings)
    watched = {WatchedAddress(random_address(), "USDT") for _ in range(invoices)}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        chain.install(mock)
        fresh.scan("devnet", watched, None)
    return fresh.api("devnet").calls


def fleet_calls(workers: int, folder: Path, args: argparse.Namespace, chain: FakeTronGrid) -> int:
    """TRON calls of one tick of `workers` workers over 100 open invoices and the same blocks."""
    def seed(services: Any) -> None:
        seed_invoices(services, 100)

    def build(settings: Settings) -> Any:
        return build_services(settings, clock=FrozenClock(NOW))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        dataclasses.replace(chain, requests=[]).install(mock)
        return calls_per_tick(workers, folder, args.database_url, {
            "trongrid_api_key": "bench-key", "tron_requests_per_second": 0,
            "tron_max_blocks_per_tick": args.blocks, "tron_start_lookback_blocks": args.blocks},
            build, seed, lambda services: services.chains["tron"].api("devnet").calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the 1-vs-3 workers figure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = Settings.from_env({}, instance_path=tmp, database_url=url, secret_key="bench",
                                     trongrid_api_key="bench-key", tron_requests_per_second=0,
                                     tron_max_blocks_per_tick=args.blocks, tron_start_lookback_blocks=args.blocks,
                                     rate_sources=("fixed",))  # no live rate source: nothing outside 127.0.0.1
        services = build_services(settings, clock=FrozenClock(NOW))
        addresses, derive_s = seed_invoices(services, args.invoices)
        chain = FakeTronGrid(head=50_000_000, solid=50_000_000)
        payees = random.Random(3).sample(addresses, (args.blocks + 1) // 2)
        fill_chain(chain, chain.solid - args.blocks + 1, args.blocks, payees)

        client = services.chains["tron"]
        scan_cpu: list[float] = []
        client.scan = timed(client.scan, scan_cpu)  # type: ignore[method-assign]
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            chain.install(mock)
            started = time.process_time()
            report = watch_tick(services.uow, client, "devnet", services.clock, services.quoting)
            tick_cpu = time.process_time() - started
        calls = client.api("devnet").calls
        blocks_read = sum(chain.calls(p) for p in ("wallet/getblockbynum",
                                                   "walletsolidity/gettransactioninfobyblocknum"))
        with services.uow() as uow:
            recorded = uow.session.query(Payment).count()
        few_calls = scan_only(100, args.blocks, dataclasses.replace(chain, requests=[]), services)
        naive_calls, naive_cpu = naive_poll(addresses, set(payees))
        if services.engine is not None:
            services.engine.dispose()
        fleet = {n: fleet_calls(n, Path(tmp), args, chain) for n in (1, 3)}

    cpu_per_block = scan_cpu[0] / max(1, blocks_read)
    met = calls == blocks_read + 1 and few_calls == calls
    print(f"TRON watcher: {args.invoices} open invoices, {args.blocks} solidified blocks x "
          f"{RECEIPTS_PER_BLOCK} receipts, {len(payees)} of them paying invoices")
    print(f"  address derivation       {derive_s:8.2f} s for {args.invoices} addresses "
          f"({derive_s / args.invoices * 1e6:.0f} us each)")
    print(f"  {'':26} {'calls/tick':>10} {'CPU/tick s':>11} {'CPU/block ms':>13}")
    print(f"  {'block scan (this gateway)':26} {calls:10d} {tick_cpu:11.3f} {cpu_per_block * 1e3:13.3f}")
    print(f"  {'naive per-address poller':26} {naive_calls:10d} {naive_cpu:11.3f} {'-':>13}")
    print(f"  block scan with 100 open invoices: {few_calls} calls (same blocks)")
    print(f"  recorded {report.recorded} payments ({recorded} rows), final at once: read from solidified blocks")
    print(f"  calls = blocks scanned + 1 ({blocks_read} + 1), whatever the open invoices: "
          f"{'met' if met else 'MISSED'}; naive/scan call ratio {naive_calls / calls:.0f}x")
    backend = "PostgreSQL, advisory locks" if args.database_url or os.environ.get("TEST_DATABASE_URL") else \
        "SQLite, no locks: one worker by design"
    print(f"  workers ({backend}): 1 worker {fleet[1]} calls/tick, 3 workers {fleet[3]} calls/tick")
    print(json.dumps({
        "open_invoices": args.invoices, "blocks": blocks_read, "receipts_per_block": RECEIPTS_PER_BLOCK,
        "calls_per_tick": calls, "calls_per_tick_naive": naive_calls, "calls_per_tick_100_invoices": few_calls,
        "cpu_per_block_s": round(cpu_per_block, 6), "cpu_per_tick_s": round(tick_cpu, 4),
        "cpu_per_tick_naive_s": round(naive_cpu, 4), "payments_recorded": report.recorded,
        "calls_per_tick_1_worker": fleet[1], "calls_per_tick_3_workers": fleet[3],
        "target_met": met,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
