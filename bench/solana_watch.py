"""Solana watcher cost per tick with 10,000 open invoices, direct and deposit mode, against a naive poller.

Runs the real watcher tick (gateway_core.services.watch.watch_tick with the Solana client) on a temporary
SQLite database against the fake Solana JSON-RPC server (tests/fakes, a real HTTP server on 127.0.0.1),
with a few new payments landing before each tick. Counts RPC calls per tick at the server and CPU time of
the watcher thread (the fake server's threads are not counted). The naive poller makes one call per open
invoice: Solana Pay's findReference (getSignaturesForAddress on each reference) in direct mode, one
balance read per deposit address in deposit mode.

    .venv/bin/python bench/solana_watch.py [--invoices 10000] [--payments 20] [--ticks 3]

Prints the figures side by side, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package holds the fake server

from solders.keypair import Keypair

from bridge.migrate import upgrade
from gateway_core.adapters.chains.solana import SolanaChain, associated_token_address
from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.chains.solana_rpc import SolanaRpc
from gateway_core.adapters.db import UnitOfWork, make_engine, session_factory
from gateway_core.adapters.models import Invoice, Quote, SolanaDeposit, Store, StoreWallet
from gateway_core.clock import FrozenClock
from gateway_core.services.watch import watch_tick
from tests.fakes.solana_ledger import RENT_TOKEN_ACCOUNT, Account
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.solana_support import USDC_DEVNET, Buyer

TARGET_CPU_S = 2.0
PREFIX = {"direct": "BD", "deposit": "BP"}  # invoice numbers per mode, so one mode can be parked
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def add_store(uow: UnitOfWork, mode: str, wallet: str) -> Store:
    store = Store(name=f"bench {mode}", network="devnet", settlement_mode=mode, webhook_secret=secrets.token_hex(16),
                  wallets=[StoreWallet(asset="SOL", address=wallet), StoreWallet(asset="USDC", address=wallet)])
    uow.session.add(store)
    uow.session.flush()
    return store


def add_invoices(uow: UnitOfWork, store: Store, count: int, addresses: list[str]) -> list[dict[str, Any]]:
    """Open invoices quoting SOL and USDC; returns their payment targets (address, reference, amounts)."""
    targets = []
    for i in range(count):
        refs = [str(Keypair().pubkey()), str(Keypair().pubkey())]
        expires = NOW + timedelta(days=1)
        quotes = [Quote(position=0, asset="SOL", chain="solana", address=addresses[i], reference=refs[0],
                        amount_due=500_000_000, rate=Decimal(150), rate_currency="USD", expires_at=expires),
                  Quote(position=1, asset="USDC", chain="solana", address=addresses[i], reference=refs[1],
                        amount_due=75_000_000, rate=Decimal(1), rate_currency="USD", expires_at=expires)]
        invoice = Invoice(number=f"{PREFIX[store.settlement_mode]}{i:07d}", store_id=store.id, kind="invoice",
                          network="devnet", status="pending", amount_type="fiat", price_currency="USD",
                          price_units=7500, fiat_currency="USD", fiat_minor=7500, request_fingerprint="bench",
                          created_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(days=1), quotes=quotes)
        uow.session.add(invoice)
        targets.append({"address": addresses[i], "sol_ref": refs[0], "usdc_ref": refs[1]})
    uow.session.flush()
    return targets


def measure(label: str, tick: Any, fake: FakeSolanaRpc, pay: Any, ticks: int, payments: int) -> dict[str, float]:
    tick()  # warm-up: first reads, cursors stored
    calls, cpus = [], []
    for round_ in range(ticks):
        for n in range(payments):
            pay(round_ * payments + n)
        fake.calls.clear()
        started = time.thread_time()
        tick()
        cpus.append(time.thread_time() - started)
        calls.append(sum(fake.calls.values()))
        fake.ledger.finalize()
    by_method = dict(fake.calls)
    tick()  # drain: the last payments reach finality before the next mode is measured
    print(f"  {label:<8} calls/tick {sum(calls) / ticks:8.1f}   cpu/tick {sum(cpus) / ticks:6.3f} s   "
          f"(last tick by method: {by_method})")
    return {"calls": sum(calls) / ticks, "cpu": sum(cpus) / ticks}


def naive_tick(fake: FakeSolanaRpc, targets: list[dict[str, Any]], mode: str) -> dict[str, float]:
    """One call per open invoice: findReference (direct) or one balance read per deposit (deposit)."""
    rpc = SolanaRpc(fake.url, retries=0)
    fake.calls.clear()
    started = time.thread_time()
    for target in targets:
        if mode == "direct":
            rpc.call("getSignaturesForAddress", target["sol_ref"], {"limit": 1, "commitment": "confirmed"})
        else:
            rpc.call("getBalance", target["address"], {"commitment": "confirmed"})
    cpu = time.thread_time() - started
    return {"calls": float(sum(fake.calls.values())), "cpu": cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=20, help="new payments landing before each tick")
    parser.add_argument("--ticks", type=int, default=3)
    args = parser.parse_args()
    n = args.invoices
    keys = GatewayKeys(seed_bytes("000102030405060708090a0b0c0d0e0f"))
    with tempfile.TemporaryDirectory() as tmp, FakeSolanaRpc({USDC_DEVNET: 6}) as fake:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        clock = FrozenClock(NOW)
        fake.ledger.block_time = NOW.timestamp()
        wallet = str(Keypair().pubkey())
        buyer = Buyer(fake, lamports=10**15, tokens={USDC_DEVNET: 10**15})
        setup = time.perf_counter()
        owners = [str(keys.deposit(i + 1).pubkey()) for i in range(n)]
        with UnitOfWork(sessions) as uow:
            direct_targets = add_invoices(uow, add_store(uow, "direct", wallet), n, [wallet] * n)
            deposit_store = add_store(uow, "deposit", str(Keypair().pubkey()))
            deposit_targets = add_invoices(uow, deposit_store, n, owners)
            uow.session.add_all(SolanaDeposit(id=i + 1, network="devnet", owner=owner, rent_lamports=RENT_TOKEN_ACCOUNT,
                                              token_account=associated_token_address(owner, USDC_DEVNET))
                                for i, owner in enumerate(owners))
        for owner in owners:  # the token accounts opened at invoice creation
            fake.ledger.accounts[associated_token_address(owner, USDC_DEVNET)] = Account(
                RENT_TOKEN_ACCOUNT, USDC_DEVNET, owner)
        print(f"solana watcher, {n} open invoices per mode (SOL and USDC quotes), {args.payments} new payments "
              f"before each of {args.ticks} ticks; setup {time.perf_counter() - setup:.1f} s")

        def tick_for(mode: str) -> Any:
            chain = SolanaChain({"devnet": SolanaRpc(fake.url, retries=0)}, {"devnet": USDC_DEVNET})
            # Each mode alone: the other store's invoices are parked so the tick sees one mode at a time.
            return lambda: watch_tick(lambda: UnitOfWork(sessions), chain, "devnet", clock)

        def park(mode: str, closed: bool) -> None:
            with UnitOfWork(sessions) as uow:
                uow.session.query(Invoice).filter(Invoice.number.like(f"{PREFIX[mode]}%")).update(
                    {"closed_at": NOW - timedelta(days=30) if closed else None}, synchronize_session=False)

        park("deposit", True)
        direct = measure("direct", tick_for("direct"), fake, lambda i: buyer.pay_sol(
            wallet, 500_000_000, direct_targets[i]["sol_ref"]), args.ticks, args.payments)
        park("deposit", False)
        park("direct", True)
        deposit = measure("deposit", tick_for("deposit"), fake, lambda i: buyer.pay_token(
            deposit_targets[i]["address"], 75_000_000), args.ticks, args.payments)
        naive_direct = naive_tick(fake, direct_targets, "direct")
        naive_deposit = naive_tick(fake, deposit_targets, "deposit")
        print(f"  {'naive':<8} calls/tick {naive_direct['calls']:8.1f}   cpu/tick {naive_direct['cpu']:6.3f} s   "
              f"(findReference per invoice; deposit: getBalance per invoice, cpu {naive_deposit['cpu']:.3f} s)")
        engine.dispose()
    accounts = 2 * n  # deposit mode polls each owner (SOL) and its USDC token account
    direct_bound = 2 + args.payments + 1  # 2 scanned accounts + one getTransaction per new tx + 1 status batch
    deposit_bound = math.ceil(accounts / 100) + 2 * args.payments + 1
    print(f"  bounds: direct <= {direct_bound} (1 per scanned account + 1 per new tx + finality batch), "
          f"deposit <= {deposit_bound} (ceil({accounts} accounts/100) + changed accounts' reads + finality)")
    print(f"  direct vs naive: {naive_direct['calls'] / direct['calls']:.0f}x fewer calls; "
          f"deposit vs naive: {naive_deposit['calls'] / deposit['calls']:.0f}x fewer calls; "
          f"cpu target < {TARGET_CPU_S} s per tick: "
          f"{'met' if max(direct['cpu'], deposit['cpu']) < TARGET_CPU_S else 'MISSED'}")
    print(json.dumps({
        "open_invoices": n, "new_payments_per_tick": args.payments,
        "calls_per_tick_direct": direct["calls"], "calls_per_tick_deposit": deposit["calls"],
        "calls_per_tick_naive": naive_direct["calls"], "calls_per_tick_naive_deposit": naive_deposit["calls"],
        "tick_cpu_s_direct": round(direct["cpu"], 4), "tick_cpu_s_deposit": round(deposit["cpu"], 4),
        "tick_cpu_s_naive": round(naive_direct["cpu"], 4), "deposit_accounts_polled": accounts,
        "bound_direct": direct_bound, "bound_deposit": deposit_bound,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
