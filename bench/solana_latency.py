"""Solana payment latency, push against polling: from the cluster confirming a transfer to `paid` and the webhook.

Runs the real worker (gateway_core.worker.background_worker: the watch tick every WATCH_INTERVAL_SECONDS,
the dispatcher, the push reader) on a temporary SQLite database against the fake Solana JSON-RPC server and
the fake pub/sub websocket (tests/fakes, real servers on 127.0.0.1), with 1,000 open direct-mode invoices
(ten merchant wallets) and 1,000 open deposit-mode invoices. Each phase lands `--transfers` transfers (half
direct, half deposit) at random moments over `--spread` seconds and measures, per transfer, the time from
the fake marking it confirmed to the invoice's `invoice.paid` event in the database and to the merchant's
webhook receiver getting `payment_received`. Phase one has push on, phase two off, on the same invoices
(each phase pays its own). RPC calls per minute are counted at the fake server over each phase's window.

    .venv/bin/python bench/solana_latency.py [--transfers 200] [--spread 40] [--max-subscriptions 3000]

The budget default leaves every account subscribed (2,020 accounts: 1,000 deposit owners and their USDC
accounts, ten wallets and theirs); public endpoints cap subscriptions per socket, see
SOLANA_WS_MAX_SUBSCRIPTIONS. Prints the figures, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package holds the fakes

from solders.keypair import Keypair
from sqlalchemy import select

from bridge.migrate import upgrade
from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.models import Event, Invoice, Quote, SolanaDeposit, Store, StoreWallet
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.worker import background_worker
from tests.fakes.solana_ledger import RENT_TOKEN_ACCOUNT, Account
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.solana_ws import FakeSolanaPubSub
from tests.solana_support import USDC_DEVNET, Buyer

SEED = "000102030405060708090a0b0c0d0e0f"
WALLETS = 10
SOL_DUE = 500_000_000
FINALIZE_AFTER_S = 13.0
NUMBER = re.compile(r"L[DP]\d{7,8}")


class Receiver:
    """The merchant's webhook endpoint: when each invoice's payment_received arrived."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if "payment_received" in body:
                    for number in NUMBER.findall(body):
                        receiver.received.setdefault(number, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def add_invoices(session: Any, store: Store, prefix: str, count: int, addresses: list[str],
                 now: datetime) -> list[str]:
    numbers = []
    for i in range(count):
        expires = now + timedelta(days=1)
        quotes = [Quote(position=0, asset="SOL", chain="solana", address=addresses[i],
                        reference=str(Keypair().pubkey()), amount_due=SOL_DUE, rate=Decimal(150),
                        rate_currency="USD", expires_at=expires),
                  Quote(position=1, asset="USDC", chain="solana", address=addresses[i],
                        reference=str(Keypair().pubkey()), amount_due=75_000_000, rate=Decimal(1),
                        rate_currency="USD", expires_at=expires)]
        number = f"{prefix}{i:07d}"
        session.add(Invoice(number=number, store_id=store.id, kind="invoice", network="devnet", status="pending",
                            amount_type="fiat", price_currency="USD", price_units=7500, fiat_currency="USD",
                            fiat_minor=7500, request_fingerprint="bench", created_at=now, updated_at=now,
                            expires_at=expires, quotes=quotes))
        numbers.append(number)
    return numbers


def new_store(session: Any, mode: str, wallet: str, hook: str) -> Store:
    store = Store(name=f"latency {mode}", network="devnet", settlement_mode=mode, webhook_secret=secrets.token_hex(16),
                  webhook_url=hook, wallets=[StoreWallet(asset="SOL", address=wallet),
                                             StoreWallet(asset="USDC", address=wallet)])
    session.add(store)
    session.flush()
    return store


def paid_times(services: Services, numbers: list[str]) -> dict[str, float]:
    with services.uow(read_only=True) as uow:  # the measuring loop takes no write turn from the worker
        rows = uow.session.execute(
            select(Invoice.number, Event.created_at).join(Event, Event.invoice_id == Invoice.id)
            .where(Event.type == "invoice.paid", Invoice.number.in_(numbers))).all()
    out: dict[str, float] = {}
    for number, when in rows:
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        out[number] = min(out.get(number, float("inf")), when.timestamp())
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def phase(label: str, settings: Settings, fake: FakeSolanaRpc, pubsub: FakeSolanaPubSub, receiver: Receiver,
          targets: list[tuple[str, str, str | None]], spread: float, rng: random.Random) -> dict[str, Any]:
    """Run the worker, land the transfers at random moments, wait for every `paid` and webhook."""
    services = build_services(settings)
    worker = background_worker(services)
    worker.start()
    chain = services.chains["solana"]
    push = getattr(chain, "push", None)
    if push is not None:  # measure from a settled socket: every account subscribed after the first tick
        push.wait_for(lambda: push.stats()["devnet"]["subscribed"] >= push.stats()["devnet"]["wanted"] > 0, 120)
    else:
        time.sleep(settings.watch_interval_seconds)  # the first tick has read every account once
    buyer = Buyer(fake, lamports=10**15, tokens={USDC_DEVNET: 10**15})
    moments = sorted(rng.uniform(0, spread) for _ in targets)
    signatures: dict[str, str] = {}  # invoice number -> signature
    by_method_before = dict(fake.calls)
    calls_before, started = sum(fake.calls.values()), time.monotonic()
    for (number, address, reference), moment in zip(targets, moments, strict=True):
        pause = started + moment - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        signatures[number] = buyer.pay_sol(address, SOL_DUE, reference)
        # Finalized about 13 s after it landed, as on Solana (until then the watcher follows it in flight).
        finalize = threading.Timer(FINALIZE_AFTER_S, fake.ledger.finalize, args=(signatures[number],))
        finalize.daemon = True
        finalize.start()
    numbers = [n for n, _, _ in targets]
    deadline = time.monotonic() + max(60.0, 4 * settings.watch_interval_seconds)
    while time.monotonic() < deadline:
        paid = paid_times(services, numbers)
        if len(paid) == len(numbers) and all(n in receiver.received for n in numbers):
            break
        time.sleep(0.25)
    window = time.monotonic() - started
    calls = sum(fake.calls.values()) - calls_before
    by_method = {m: n - by_method_before.get(m, 0) for m, n in sorted(fake.calls.items())
                 if n > by_method_before.get(m, 0)}
    worker.shutdown(wait=True)
    close = getattr(chain, "close", None)
    if close is not None:
        close()
    paid = paid_times(services, numbers)
    if services.engine is not None:
        services.engine.dispose()
    to_paid = [(paid[n] - pubsub.confirmed_at[signatures[n]]) * 1000 for n in numbers if n in paid]
    to_hook = [(receiver.received[n] - pubsub.confirmed_at[signatures[n]]) * 1000
               for n in numbers if n in receiver.received]
    result = {"paid_p50_ms": percentile(to_paid, 0.5), "paid_p99_ms": percentile(to_paid, 0.99),
              "webhook_p50_ms": percentile(to_hook, 0.5), "webhook_p99_ms": percentile(to_hook, 0.99),
              "rpc_calls_per_min": calls / (window / 60), "paid": len(to_paid), "webhooks": len(to_hook),
              "window_s": window, "paid_mean_ms": statistics.fmean(to_paid) if to_paid else float("nan")}
    print(f"  {label:<9} paid p50 {result['paid_p50_ms']:7.0f} ms  p99 {result['paid_p99_ms']:7.0f} ms   "
          f"webhook p50 {result['webhook_p50_ms']:7.0f} ms  p99 {result['webhook_p99_ms']:7.0f} ms   "
          f"rpc {result['rpc_calls_per_min']:6.0f}/min   ({len(to_paid)}/{len(numbers)} paid, "
          f"{len(to_hook)} webhooks, {window:.0f} s)\n            rpc calls by method: {by_method}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000, help="open invoices per mode")
    parser.add_argument("--transfers", type=int, default=200, help="transfers per phase, half per mode")
    parser.add_argument("--spread", type=float, default=40.0, help="seconds over which a phase's transfers land")
    parser.add_argument("--max-subscriptions", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    n, per_mode = args.invoices, args.transfers // 2
    assert 2 * per_mode <= n, "each phase pays its own invoices"
    rng = random.Random(args.seed)
    keys = GatewayKeys(seed_bytes(SEED))
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp, FakeSolanaRpc({USDC_DEVNET: 6}) as fake, \
            FakeSolanaPubSub(fake) as pubsub:
        url = f"sqlite:///{Path(tmp) / 'latency.db'}"
        upgrade(url)
        fake.ledger.fund(str(keys.fee_payer().pubkey()), 10**12)
        base = {"instance_path": str(Path(tmp) / "instance"), "database_url": url, "secret_key": "bench-secret",
                "solana_rpc_url_devnet": fake.url, "solana_rpc_url_mainnet": fake.url,
                "solana_ws_url_devnet": pubsub.url, "solana_ws_url_mainnet": pubsub.url,
                "solana_ws_max_subscriptions": args.max_subscriptions, "gateway_seed": SEED,
                "solana_rpc_rate_limit": 100_000, "outbound_allowlist": ("127.0.0.1",),
                "rate_sources": ("fixed",)}  # no live rate source: nothing outside 127.0.0.1
        now = datetime.now(UTC)
        setup = build_services(Settings.from_env({}, **base, solana_push=False))  # type: ignore[arg-type]
        wallets = [str(Keypair().pubkey()) for _ in range(WALLETS)]
        owners = [str(keys.deposit(i + 1).pubkey()) for i in range(n)]
        direct: list[tuple[str, str, str | None]] = []
        deposit: list[tuple[str, str, str | None]] = []
        with setup.uow() as uow:
            per_wallet = n // WALLETS
            for w, wallet in enumerate(wallets):
                store = new_store(uow.session, "direct", wallet, receiver.url)
                numbers = add_invoices(uow.session, store, f"LD{w}", per_wallet, [wallet] * per_wallet, now)
                direct += [(number, wallet, None) for number in numbers]
            store = new_store(uow.session, "deposit", str(Keypair().pubkey()), receiver.url)
            numbers = add_invoices(uow.session, store, "LP", n, owners, now)
            deposit = [(number, owner, None) for number, owner in zip(numbers, owners, strict=True)]
            uow.session.add_all(SolanaDeposit(id=i + 1, network="devnet", owner=owner, rent_lamports=RENT_TOKEN_ACCOUNT,
                                              token_account=associated_token_address(owner, USDC_DEVNET))
                                for i, owner in enumerate(owners))
            uow.session.flush()
            refs = dict(uow.session.execute(
                select(Invoice.number, Quote.reference).join(Quote).where(Quote.asset == "SOL")).all())
        if setup.engine is not None:
            setup.engine.dispose()
        direct = [(number, wallet, refs[number]) for number, wallet, _ in direct]
        for owner in owners:  # the token accounts opened at invoice creation
            fake.ledger.accounts[associated_token_address(owner, USDC_DEVNET)] = Account(
                RENT_TOKEN_ACCOUNT, USDC_DEVNET, owner)
        rng.shuffle(direct)
        rng.shuffle(deposit)
        print(f"solana latency: {n} direct ({WALLETS} wallets) + {n} deposit open invoices, {2 * per_mode} transfers "
              f"per phase over {args.spread:.0f} s; worker ticks every {setup.settings.watch_interval_seconds:.0f} s, "
              f"dispatcher every {setup.settings.delivery_interval_seconds:.0f} s")
        results = {}
        for label, push, start in (("push", True, 0), ("poll", False, per_mode)):
            targets = direct[start:start + per_mode] + deposit[start:start + per_mode]
            rng.shuffle(targets)
            settings = Settings.from_env({}, **base, solana_push=push)  # type: ignore[arg-type]
            results[label] = phase(label, settings, fake, pubsub, receiver, targets, args.spread, rng)
    push_r, poll_r = results["push"], results["poll"]
    print("  (figures from a shared machine: treat them as indicative)")
    print(json.dumps({
        "open_invoices_direct": n, "open_invoices_deposit": n, "transfers_per_phase": 2 * per_mode,
        "paid_p50_ms_push": round(push_r["paid_p50_ms"]), "paid_p99_ms_push": round(push_r["paid_p99_ms"]),
        "webhook_p50_ms_push": round(push_r["webhook_p50_ms"]), "webhook_p99_ms_push": round(push_r["webhook_p99_ms"]),
        "paid_p50_ms_poll": round(poll_r["paid_p50_ms"]), "paid_p99_ms_poll": round(poll_r["paid_p99_ms"]),
        "webhook_p50_ms_poll": round(poll_r["webhook_p50_ms"]), "webhook_p99_ms_poll": round(poll_r["webhook_p99_ms"]),
        "rpc_calls_per_min_push": round(push_r["rpc_calls_per_min"]),
        "rpc_calls_per_min_poll": round(poll_r["rpc_calls_per_min"]),
        "paid_push": push_r["paid"], "paid_poll": poll_r["paid"],
        "webhooks_push": push_r["webhooks"], "webhooks_poll": poll_r["webhooks"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
