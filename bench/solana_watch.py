"""Solana watcher cost per tick with 10,000 open invoices, direct and deposit mode, against a naive poller.

Runs the real watcher tick (gateway_core.payments.watch.watch_tick with the Solana client) on a temporary
SQLite database against the fake Solana JSON-RPC server (tests/fakes, a real HTTP server on 127.0.0.1),
with a few new payments landing before each tick. Counts RPC calls per tick at the server and CPU time of
the watcher thread (the fake server's threads are not counted). The naive poller makes one call per open
invoice: Solana Pay's findReference (getSignaturesForAddress on each reference) in direct mode, one
balance read per deposit address in deposit mode.

Each deposit invoice has its asset picked (half SOL, half USDC, as the payment page records it) and is
paid in that asset, so one account per invoice is polled per tick. The ticks are checked against the
bounds: direct <= 1 listing per scanned account + 1 read per new transaction; deposit <= ceil(open
invoices / 100) + the changed accounts' reads (1 listing + 1 read per new transaction each). Reported
beside them, off those bounds: the pass over the unpicked assets' accounts (every `unchosen_every`
seconds, 60 by default) and the deposit job's finality batch (every sweep run).

    .venv/bin/python bench/solana_watch.py [--invoices 10000] [--payments 20] [--ticks 3] [--database-url …]

It also ticks 1 and then 3 workers over 100 open direct-mode invoices (bench/worker_scaling.py): on
PostgreSQL one worker holds the Solana watcher's lock, so 3 workers make the calls of 1.

Prints the figures side by side, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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

from bench.worker_scaling import calls_per_tick
from bridge.migrate import upgrade
from gateway_core.adapters.chains.solana import SolanaChain, associated_token_address
from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.chains.solana_rpc import SolanaRpc
from gateway_core.adapters.db import UnitOfWork, make_engine, session_factory
from gateway_core.adapters.models import Invoice, Quote, SolanaDeposit, Store, StoreWallet
from gateway_core.adapters.rates.fixed import FixedRateSource
from gateway_core.bootstrap import build_services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.payments.solana_deposits import SolanaTreasury
from gateway_core.payments.valuation import Quoting
from gateway_core.payments.watch import watch_tick
from tests.fakes.solana_ledger import RENT_TOKEN_ACCOUNT, Account
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.solana_support import USDC_DEVNET, Buyer

TARGET_CPU_S = 2.0
WATCH_INTERVAL_S = 5.0  # the worker's default WATCH_INTERVAL_SECONDS: the ticks' spacing on the client's clock
PREFIX = {"direct": "BD", "deposit": "BP"}  # invoice numbers per mode, so one mode can be parked
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def add_store(uow: UnitOfWork, mode: str, wallet: str) -> Store:
    store = Store(name=f"bench {mode}", network="devnet", settlement_mode=mode, webhook_secret=secrets.token_hex(16),
                  wallets=[StoreWallet(asset="SOL", address=wallet), StoreWallet(asset="USDC", address=wallet)])
    uow.session.add(store)
    uow.session.flush()
    return store


def add_invoices(uow: UnitOfWork, store: Store, count: int, addresses: list[str],
                 pick: bool = False) -> list[dict[str, Any]]:
    """Open invoices quoting SOL and USDC; returns their payment targets (address, reference, picked asset).

    With `pick`, every other invoice's buyer picked USDC, the others SOL.
    """
    targets = []
    for i in range(count):
        picked = ("USDC" if i % 2 == 0 else "SOL") if pick else None
        refs = [str(Keypair().pubkey()), str(Keypair().pubkey())]
        expires = NOW + timedelta(days=1)
        quotes = [Quote(position=0, asset="SOL", chain="solana", address=addresses[i], reference=refs[0],
                        amount_due=500_000_000, rate=Decimal(150), rate_currency="USD", expires_at=expires),
                  Quote(position=1, asset="USDC", chain="solana", address=addresses[i], reference=refs[1],
                        amount_due=75_000_000, rate=Decimal(1), rate_currency="USD", expires_at=expires)]
        invoice = Invoice(number=f"{PREFIX[store.settlement_mode]}{i:07d}", store_id=store.id, kind="invoice",
                          network="devnet", status="pending", amount_type="fiat", price_currency="USD",
                          price_units=7500, fiat_currency="USD", fiat_minor=7500, request_fingerprint="bench",
                          created_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(days=1), quotes=quotes,
                          chosen_asset=picked)
        uow.session.add(invoice)
        targets.append({"address": addresses[i], "sol_ref": refs[0], "usdc_ref": refs[1], "asset": picked})
    uow.session.flush()
    return targets


def measure(label: str, tick: Any, fake: FakeSolanaRpc, pay: Any, ticks: int, payments: int,
            follow: Any = None) -> dict[str, float]:
    """Calls and CPU per tick; `follow` (the deposit job's finality step) runs between ticks, counted apart."""
    tick()  # warm-up: first reads, cursors stored
    calls, cpus, followed, polled = [], [], [], []
    for round_ in range(ticks):
        for n in range(payments):
            pay(round_ * payments + n)
        fake.calls.clear()
        fake.polled.clear()
        started = time.thread_time()
        tick()
        cpus.append(time.thread_time() - started)
        calls.append(sum(fake.calls.values()))
        polled.append(len(fake.polled))
        by_method = dict(fake.calls)
        fake.ledger.finalize()
        if follow is not None:
            fake.calls.clear()
            follow()
            followed.append(sum(fake.calls.values()))
    tick()  # drain: the last payments reach finality before the next mode is measured
    print(f"  {label:<8} calls/tick {sum(calls) / ticks:8.1f}   cpu/tick {sum(cpus) / ticks:6.3f} s   "
          f"(last tick by method: {by_method})")
    return {"calls": sum(calls) / ticks, "max_calls": max(calls), "cpu": sum(cpus) / ticks,
            "follow_calls": sum(followed) / ticks if followed else 0.0, "polled": max(polled)}


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


def fleet_calls(workers: int, folder: Path, url: str | None, fake: FakeSolanaRpc) -> int:
    """Solana calls (counted at the fake) of one tick of `workers` workers over 100 open direct invoices."""
    def seed(services: Any) -> None:
        wallet = str(Keypair().pubkey())
        with services.uow() as uow:
            add_invoices(uow, add_store(uow, "direct", wallet), 100, [wallet] * 100)

    def build(settings: Settings) -> Any:
        return build_services(settings, clock=FrozenClock(NOW))

    fake.calls.clear()
    calls_per_tick(workers, folder, url, {"solana_rpc_url_devnet": fake.url, "usdc_mint_devnet": USDC_DEVNET,
                                          "solana_rpc_rate_limit": 1_000_000, "solana_rpc_retries": 0},
                   build, seed, lambda services: 0)
    return sum(fake.calls.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=20, help="new payments landing before each tick")
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the 1-vs-3 workers figure")
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
            deposit_targets = add_invoices(uow, deposit_store, n, owners, pick=True)
            uow.session.add_all(SolanaDeposit(id=i + 1, network="devnet", owner=owner, rent_lamports=RENT_TOKEN_ACCOUNT,
                                              token_account=associated_token_address(owner, USDC_DEVNET))
                                for i, owner in enumerate(owners))
        for owner in owners:  # the token accounts opened at invoice creation
            fake.ledger.accounts[associated_token_address(owner, USDC_DEVNET)] = Account(
                RENT_TOKEN_ACCOUNT, USDC_DEVNET, owner)
        print(f"solana watcher, {n} open invoices per mode (SOL and USDC quotes), {args.payments} new payments "
              f"before each of {args.ticks} ticks; setup {time.perf_counter() - setup:.1f} s")

        quoting = Quoting(FixedRateSource(), timedelta(minutes=5))
        seconds = [0.0]  # the clients' monotonic clock: each tick is one watch interval after the previous

        def tick_for(chain: SolanaChain) -> Any:
            # Each mode alone: the other store's invoices are parked so the tick sees one mode at a time.
            def run() -> None:
                seconds[0] += WATCH_INTERVAL_S
                watch_tick(lambda: UnitOfWork(sessions), chain, "devnet", clock, quoting)
            return run

        def new_chain() -> SolanaChain:
            return SolanaChain({"devnet": SolanaRpc(fake.url, retries=0)}, {"devnet": USDC_DEVNET},
                               monotonic=lambda: seconds[0])

        def park(mode: str, closed: bool) -> None:
            with UnitOfWork(sessions) as uow:
                uow.session.query(Invoice).filter(Invoice.number.like(f"{PREFIX[mode]}%")).update(
                    {"closed_at": NOW - timedelta(days=30) if closed else None}, synchronize_session=False)

        def pay_deposit(i: int) -> None:
            target = deposit_targets[i]
            if target["asset"] == "SOL":
                buyer.pay_sol(target["address"], 500_000_000)
            else:
                buyer.pay_token(target["address"], 75_000_000)

        park("deposit", True)
        direct = measure("direct", tick_for(new_chain()), fake, lambda i: buyer.pay_sol(
            wallet, 500_000_000, direct_targets[i]["sol_ref"]), args.ticks, args.payments)
        park("deposit", False)
        park("direct", True)
        deposit_chain = new_chain()
        treasury = SolanaTreasury(keys, deposit_chain)
        deposit_tick = tick_for(deposit_chain)
        deposit = measure("deposit", deposit_tick, fake, pay_deposit, args.ticks, args.payments,
                          follow=lambda: treasury.follow_payments(lambda: UnitOfWork(sessions), clock))
        # The pass over the unpicked assets' accounts, due once `unchosen_every` has gone by.
        seconds[0] += deposit_chain.unchosen_every
        fake.calls.clear()
        fake.polled.clear()
        deposit_tick()
        unchosen_pass = float(sum(fake.calls.values()))
        print(f"  {'deposit':<8} tick with the unpicked accounts' pass (every {deposit_chain.unchosen_every:.0f} s): "
              f"{unchosen_pass:.0f} calls, {len(fake.polled)} accounts; deposit job's finality step: "
              f"{deposit['follow_calls']:.1f} calls per run")
        naive_direct = naive_tick(fake, direct_targets, "direct")
        naive_deposit = naive_tick(fake, deposit_targets, "deposit")
        print(f"  {'naive':<8} calls/tick {naive_direct['calls']:8.1f}   cpu/tick {naive_direct['cpu']:6.3f} s   "
              f"(findReference per invoice; deposit: getBalance per invoice, cpu {naive_deposit['cpu']:.3f} s)")
        engine.dispose()
        fleet = {workers: fleet_calls(workers, Path(tmp), args.database_url, fake) for workers in (1, 3)}
    backend = "PostgreSQL, advisory locks" if args.database_url or os.environ.get("TEST_DATABASE_URL") else \
        "SQLite, no locks: one worker by design"
    print(f"  workers ({backend}): 1 worker {fleet[1]} calls/tick, 3 workers {fleet[3]} calls/tick")
    accounts = deposit["polled"]  # accounts in getMultipleAccounts per tick: one per invoice, the picked asset's
    scanned = 2  # direct mode: the merchant wallet and its USDC token account
    # Every payment is one new transaction; in deposit mode each lands on its own account.
    direct_bound = scanned + args.payments
    changed_reads = 2 * args.payments  # per changed account: its listing + one read of its new transaction
    deposit_bound = math.ceil(n / 100) + changed_reads
    per_pass = round(deposit_chain.unchosen_every / WATCH_INTERVAL_S)
    # The pass tick had no new payments: what it adds over a plain tick is its polls beyond the picked accounts'.
    amortized = deposit["calls"] + (unchosen_pass - math.ceil(accounts / 100)) / per_pass
    cpu_met = max(direct["cpu"], deposit["cpu"]) < TARGET_CPU_S
    met = direct["max_calls"] <= direct_bound and deposit["max_calls"] <= deposit_bound and cpu_met
    print(f"  bounds: direct <= {direct_bound} ({scanned} scanned accounts + 1 per new tx), "
          f"deposit <= {deposit_bound} (ceil({n} open invoices/100) + {changed_reads} changed accounts' reads); "
          f"worst tick: direct {direct['max_calls']}, deposit {deposit['max_calls']}: {'met' if met else 'MISSED'}")
    print(f"  deposit amortized over a {deposit_chain.unchosen_every:.0f} s pass at {WATCH_INTERVAL_S:.0f} s ticks: "
          f"{amortized:.1f} calls/tick")
    print(f"  direct vs naive: {naive_direct['calls'] / direct['calls']:.0f}x fewer calls; "
          f"deposit vs naive: {naive_deposit['calls'] / deposit['calls']:.0f}x fewer calls; "
          f"cpu target < {TARGET_CPU_S} s per tick: {'met' if cpu_met else 'MISSED'}")
    print(json.dumps({
        "open_invoices": n, "new_payments_per_tick": args.payments,
        "calls_per_tick_direct": direct["calls"], "calls_per_tick_deposit": deposit["calls"],
        "calls_per_tick_naive": naive_direct["calls"], "calls_per_tick_naive_deposit": naive_deposit["calls"],
        "tick_cpu_s_direct": round(direct["cpu"], 4), "tick_cpu_s_deposit": round(deposit["cpu"], 4),
        "tick_cpu_s_naive": round(naive_direct["cpu"], 4), "deposit_accounts_polled": accounts,
        "bound_direct": direct_bound, "bound_deposit": deposit_bound, "met": met,
        "calls_unchosen_pass_deposit": unchosen_pass, "unchosen_every_s": deposit_chain.unchosen_every,
        "calls_per_tick_deposit_amortized": round(amortized, 2),
        "calls_per_run_deposit_finality": deposit["follow_calls"],
        "calls_per_tick_1_worker": fleet[1], "calls_per_tick_3_workers": fleet[3],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
