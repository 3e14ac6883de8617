"""Fixtures shared by the Shopify tests: a fake Shopify on 127.0.0.1, the gateway pointed at it, an installed
shop, and helpers that send what Shopify sends."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.jsonio import dumps
from gateway_core.adapters.models import Delivery, Invoice, PlatformInstallation, PlatformOrder
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore, create_store
from storefront_adapters.shopify.install import allow_shop, record_token
from tests.conftest import running_app, running_services, tick
from tests.fakes.shopify import FakeShopify, session_headers

API_KEY, API_SECRET = "test-api-key", "test-api-secret"
SHOP = "voltbridge-test.myshopify.com"
SUBJECT = "CN=payments.shopify.com,O=Shopify Inc."  # what the TLS terminator passes after verifying the cert


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    with FakeShopify(API_KEY, API_SECRET) as fake:
        yield fake


def shopify_settings_for(database_url: str, tmp_path: Path, origin: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "instance_path": str(tmp_path / "instance"), "database_url": database_url, "secret_key": "test-secret-key",
        "public_url": "https://gateway.test", "sandbox_finality_seconds": 0.0, "outbound_allowlist": ("127.0.0.1",),
        "shopify_api_key": API_KEY, "shopify_api_secret": API_SECRET, "shopify_api_origin": origin,
        "trust_proxy": True, "rates": {("SOL", "JPY"): Decimal("22000"), ("USDC", "JPY"): Decimal("150")}}
    values.update(overrides)
    return Settings.from_env({}, **{"rate_sources": ("fixed",), **values})


@pytest.fixture
def ssettings(database_url: str, tmp_path: Path, fake_shopify: FakeShopify) -> Settings:
    return shopify_settings_for(database_url, tmp_path, fake_shopify.origin)


@pytest.fixture
def ssvc(ssettings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(ssettings, clock) as svc:
        yield svc


@pytest.fixture
def sapp(ssettings: Settings, clock: FrozenClock) -> Iterator[Any]:
    with running_app(ssettings, clock) as app:
        yield app


@pytest.fixture
def sclient(sapp: Any) -> Any:
    return sapp.test_client()


@pytest.fixture
def sdispatcher(ssvc: Services) -> Iterator[Dispatcher]:
    worker = dispatcher_for(ssvc)
    yield worker
    worker.shutdown(wait=False)


@pytest.fixture
def sandbox_store(ssvc: Services) -> NewStore:
    with ssvc.uow() as uow:
        return create_store(uow, ssvc.vault, name="Shopify Sandbox", network="sandbox", email="owner@shop.test")


def install_shop(svc: Services, fake: FakeShopify, store: str, shop: str = SHOP, **options: Any) -> str:
    """The operator's consent and a token, as after a completed OAuth install; returns the access token."""
    token = fake.install(shop)
    with svc.uow() as uow:
        allow_shop(uow, svc.clock, store, shop, **options)
    with svc.uow() as uow:
        record_token(uow, svc.vault, svc.clock, shop, token, fake.scope)
    return token


@pytest.fixture
def installed(ssvc: Services, fake_shopify: FakeShopify, sandbox_store: NewStore) -> NewStore:
    install_shop(ssvc, fake_shopify, str(sandbox_store.id))
    return sandbox_store


def post_session(client: Any, body: dict[str, Any], path: str = "/shopify/payment_sessions", shop: str = SHOP,
                 subject: str | None = SUBJECT) -> Any:
    return client.post(path, data=dumps(body), content_type="application/json", headers=session_headers(shop, subject))


def invoice_of(svc: Services, session_id: str) -> Invoice:
    with svc.uow() as uow:
        order = uow.session.execute(select(PlatformOrder).where(PlatformOrder.order_ref == session_id)).scalar_one()
        invoice = order.invoice
        uow.session.expunge_all()
        return invoice


def pay(svc: Services, number: str, amount: Any = None) -> None:
    with svc.uow() as uow:
        simulate_payment(uow, number, svc.clock, "SOL", amount)
    tick(svc)


def shopify_deliveries(svc: Services) -> list[Delivery]:
    with svc.uow() as uow:
        return list(uow.session.execute(
            select(Delivery).where(Delivery.channel == "shopify").order_by(Delivery.id)).scalars())


def installation(svc: Services, shop: str = SHOP) -> PlatformInstallation | None:
    with svc.uow() as uow:
        found = uow.session.execute(select(PlatformInstallation).where(
            PlatformInstallation.account == f"https://{shop}")).scalar_one_or_none()
        uow.session.expunge_all()
        return found
