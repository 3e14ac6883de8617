"""Fixtures for the Solana tests: the fake cluster, settings pointing at it, services, app and stores."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.models import Event, Invoice, Payment
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import create_store
from gateway_core.worker import sweep_deposits
from tests.conftest import invoice_body, post_json, running_app, running_services, tick
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.solana_support import OTHER_MINT, SEED_HEX, USDC_DEVNET, Buyer

CREATE = "/api/plugin/invoice/create"


@pytest.fixture
def fake_rpc() -> Iterator[FakeSolanaRpc]:
    with FakeSolanaRpc({USDC_DEVNET: 6, OTHER_MINT: 6}) as fake:
        yield fake


@pytest.fixture
def sol_settings(database_url: str, tmp_path: Path, fake_rpc: FakeSolanaRpc) -> Settings:
    return Settings.from_env(
        {}, instance_path=str(tmp_path / "instance"), database_url=database_url, secret_key="test-secret-key",
        public_url="https://gateway.test", rate_sources=("fixed",),
        solana_rpc_url_devnet=fake_rpc.url, solana_rpc_url_mainnet=fake_rpc.url,
        # A generous timeout: a busy machine must not turn the fake's answers into outages. The tests of a
        # hanging endpoint shorten it themselves (FakeSolanaRpc holds such answers longer than that).
        solana_rpc_retries=1, solana_rpc_backoff=0.0, solana_rpc_timeout=10.0, gateway_seed=SEED_HEX,
    )


@pytest.fixture
def sol(sol_settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(sol_settings, clock) as svc:
        yield svc


@pytest.fixture
def sol_client(sol_settings: Settings, clock: FrozenClock, sol: Services) -> Iterator[Any]:
    with running_app(sol_settings, clock) as app:
        yield app.test_client()


@pytest.fixture
def fee_payer(fake_rpc: FakeSolanaRpc) -> str:
    """The gateway's fee payer, funded on the fake cluster."""
    address = str(GatewayKeys(seed_bytes(SEED_HEX)).fee_payer().pubkey())
    fake_rpc.ledger.fund(address, 5 * 10**9)
    return address


@pytest.fixture
def buyer(fake_rpc: FakeSolanaRpc, clock: FrozenClock) -> Buyer:
    return Buyer(fake_rpc, tokens={USDC_DEVNET: 10_000 * 10**6, OTHER_MINT: 1_000 * 10**6}).at(clock.now())


def make_store(svc: Services, mode: str = "direct", assets: tuple[str, ...] = ("SOL", "USDC"),
               fee: str = "0", network: str = "devnet") -> tuple[str, str]:
    """A devnet store; returns (api key, merchant wallet)."""
    from solders.keypair import Keypair

    wallet = str(Keypair().pubkey())
    with svc.uow() as uow:
        store = create_store(uow, svc.vault, name=f"Solana Shop {wallet[:8]}", network=network, email="owner@shop.test",
                             wallets={a: wallet for a in assets}, settlement_mode=mode,
                             platform_fee_percent=Decimal(fee))
    return store.api_key, wallet


def create_invoice(client: Any, api_key: str, **fields: Any) -> dict[str, Any]:
    response = post_json(client, CREATE, invoice_body(api_key, **fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def option(invoice: dict[str, Any], asset: str) -> dict[str, Any]:
    return next(o for o in invoice["payment_options"] if o["currency"] == asset)


def status(client: Any, api_key: str, number: str) -> dict[str, Any]:
    return client.get(f"/api/plugin/invoice/{number}/status?api_key={api_key}").get_json()["invoice"]


def events(svc: Services, number: str) -> list[str]:
    with svc.uow() as uow:
        invoice_id = uow.session.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        return list(uow.session.execute(
            select(Event.type).where(Event.invoice_id == invoice_id).order_by(Event.id)).scalars())


def payments(svc: Services, number: str | None = None) -> list[Payment]:
    with svc.uow() as uow:
        query = select(Payment).order_by(Payment.id)
        if number is not None:
            query = query.join(Invoice, Invoice.id == Payment.invoice_id).where(Invoice.number == number)
        rows = list(uow.session.execute(query).scalars())
        uow.session.expunge_all()
        return rows


def run_worker(svc: Services) -> None:
    """One run of every worker job touching Solana invoices."""
    tick(svc)
    sweep_deposits(svc)
