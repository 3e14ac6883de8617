"""Fault loop (issue 23 point 7): the Solana and TRON endpoints go dark for 10 simulated minutes while payments
land (five minutes answering 503, five refusing connections); after recovery every payment is found, none twice.

Simulated time only: the gateway's clock, the Solana client's and the TRON client's monotonic clocks and both
fake chains advance together by one watch interval per loop; nothing waits on a timer. The loop stops by itself:
once everything is found, or at its bound (which fails the test).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins
from sqlalchemy import func, select

from gateway_core import telemetry
from gateway_core.adapters.chains.tron import TronChain, TronNetworkConfig
from gateway_core.adapters.chains.tron_api import TronApi
from gateway_core.adapters.models import Event, Invoice, Payment, Store
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.invoices.create import create_invoice as create_core_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.stores.manage import create_store
from tests.conftest import running_app, running_services
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.trongrid import NILE, NILE_USDT, FakeTronGrid, trc20_transfer
from tests.solana_fixtures import buyer, create_invoice, fake_rpc, make_store, option, run_worker, sol_settings  # noqa: F401
from tests.solana_support import Buyer

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
STEP = 10.0  # seconds of simulated time per loop: one watch interval
DARK_FROM, DARK_FOR = 60.0, 600.0
BOUND = DARK_FROM + DARK_FOR + 900.0  # everything must be found within 15 simulated minutes of recovery
# When each payment lands (simulated seconds): one before the outage, eight during it, one at recovery.
SOLANA_AT = (30.0, 90.0, 200.0, 330.0, 400.0, 520.0, 640.0)
TRON_AT = (30.0, 120.0, 250.0, 360.0, 450.0, 600.0, 660.0)


@pytest.fixture
def svc(sol_settings: Settings, clock: FrozenClock) -> Iterator[Services]:  # noqa: F811
    tuned = dataclasses.replace(sol_settings, trongrid_api_key="test-trongrid-key", tron_requests_per_second=0)
    with running_services(tuned, clock) as services:
        yield services


@pytest.fixture
def web(svc: Services, clock: FrozenClock) -> Iterator[Any]:
    with running_app(svc.settings, clock) as app:
        yield app.test_client()


def tron_store(svc: Services) -> int:
    account = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin().Account(0)
    with svc.uow() as uow:
        return create_store(uow, svc.vault, name="Tron Shop", network="devnet",
                            tron_xpub=account.PublicKey().ToExtended()).id


def tron_invoice(svc: Services, store_id: int) -> tuple[str, str]:
    with svc.uow() as uow:
        store = uow.session.get(Store, store_id)
        view = create_core_invoice(uow, store, InvoiceRequest(amount=Decimal("25"), expiry_hours=24),
                                   svc.invoicing).view
    return view.number, next(q.address for q in view.quotes if q.asset == "USDT")


def lag(chain: str) -> int:
    return int(telemetry.snapshot()[("watcher_lag", (("chain", chain), ("network", "devnet")))])


def test_chains_dark_for_ten_simulated_minutes_every_payment_found_once(
        svc: Services, web: Any, clock: FrozenClock, fake_rpc: FakeSolanaRpc, buyer: Buyer) -> None:  # noqa: F811
    now = [1000.0]
    solana: Any = svc.chains["solana"]
    solana._now, solana._backoff = (lambda: now[0]), STEP  # backs off one step, doubling up to 300 s
    grid = FakeTronGrid()
    svc.chains["tron"] = TronChain({"nile": TronNetworkConfig(NILE, NILE_USDT)},
                                   lambda url: TronApi(url, "test-trongrid-key", per_second=0),
                                   start_lookback_blocks=0, monotonic=lambda: now[0])
    key, wallet = make_store(svc, assets=("SOL",))
    sol_invoices = [create_invoice(web, key, expiry_hours=24, external_invoice_id=f"outage_{i}")
                    for i in range(len(SOLANA_AT))]
    tron_id = tron_store(svc)
    tron_invoices = [tron_invoice(svc, tron_id) for _ in TRON_AT]
    paid: dict[str, str] = {}  # tx id -> invoice number
    lags: dict[str, int] = {}
    blocks = 0.0
    t = 0.0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        grid.install(mock)
        while t < BOUND:
            t += STEP
            now[0] += STEP
            clock.advance(seconds=STEP)
            blocks += STEP / 3.0  # a TRON block every 3 s
            grid.advance(int(blocks))
            blocks -= int(blocks)
            if t == DARK_FROM:
                fake_rpc.outage, grid.down = "503", True
            elif t == DARK_FROM + DARK_FOR / 2:  # the hosts go down altogether: connections refused
                fake_rpc.outage, grid.down = None, False
                fake_rpc.refuse()
                grid.refused = True
            elif t == DARK_FROM + DARK_FOR:
                lags = {"solana": lag("solana"), "tron": lag("tron")}
                fake_rpc.listen_again()
                grid.refused = False
            for at, invoice in zip(SOLANA_AT, sol_invoices, strict=True):
                if at == t:
                    sol = option(invoice, "SOL")
                    buyer.at(clock.now())
                    paid[buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])] = invoice["invoice_number"]
            for at, (number, address) in zip(TRON_AT, tron_invoices, strict=True):
                if at == t:
                    paid[grid.add(trc20_transfer(grid.head + 1, address, 25_000_000)).id] = number
            run_worker(svc)
            if t > DARK_FROM + DARK_FOR and found(svc) == set(paid):
                break
    recovered_in = t - DARK_FROM - DARK_FOR
    assert found(svc) == set(paid), f"not found within {BOUND - DARK_FROM - DARK_FOR:g} s of recovery"
    with svc.uow() as uow:
        session = uow.session
        rows = session.execute(select(Payment.tx_id, Invoice.number).join(Invoice)).all()
        paid_events = dict(session.execute(select(Invoice.number, func.count()).join(Event)
                                           .where(Event.type == "invoice.paid").group_by(Invoice.number)).all())
    assert sorted(rows) == sorted(paid.items())  # each payment once, on its own invoice
    numbers = [i["invoice_number"] for i in sol_invoices] + [n for n, _ in tron_invoices]
    assert paid_events == {n: 1 for n in numbers}  # no status moved twice
    # The watchers said they were behind while dark (what /readyz judges), and caught up.
    assert lags["solana"] >= (DARK_FOR - 300) / 0.4 and lags["tron"] >= (DARK_FOR - 300) / 3
    assert lag("solana") == 0 and lag("tron") == 0
    print(f"chain outage loop: {len(paid)} payments ({len(SOLANA_AT)} Solana, {len(TRON_AT)} TRON), "
          f"{len(rows)} recorded, lost {len(set(paid) - found(svc))}, duplicated {len(rows) - len(set(rows))}, "
          f"found {recovered_in:g} simulated s after recovery, lag at recovery {lags}")


def found(svc: Services) -> set[str]:
    with svc.uow() as uow:
        return set(uow.session.scalars(select(Payment.tx_id)))
