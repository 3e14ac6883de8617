"""Fixtures and helpers shared by the notification tests: allow-listed loopback, receivers, a dispatcher."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway_core.adapters.models import Delivery, Store
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore, create_store
from tests.conftest import invoice_body, post_json, running_app, running_services, tick
from tests.fakes.receiver import Receiver

CREATE = "/api/plugin/invoice/create"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def notify_settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"instance_path": str(tmp_path / "instance"), "database_url": database_url,
                              "secret_key": "test-secret-key", "public_url": "https://gateway.test",
                              "sandbox_finality_seconds": 0.0, "outbound_allowlist": ("127.0.0.1",)}
    values.update(overrides)
    return Settings.from_env({}, **{"rate_sources": ("fixed",), **values})


@pytest.fixture
def nsettings(database_url: str, tmp_path: Path) -> Settings:
    return notify_settings_for(database_url, tmp_path)


@pytest.fixture
def nsvc(nsettings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(nsettings, clock) as svc:
        yield svc


@pytest.fixture
def napp(nsettings: Settings, clock: FrozenClock) -> Iterator[Any]:
    with running_app(nsettings, clock) as app:
        yield app


@pytest.fixture
def nclient(napp: Any) -> Any:
    return napp.test_client()


@pytest.fixture
def dispatcher(nsvc: Services) -> Iterator[Dispatcher]:
    worker = dispatcher_for(nsvc)
    yield worker
    worker.shutdown(wait=False)


@pytest.fixture
def shop(nsvc: Services) -> NewStore:
    with nsvc.uow() as uow:
        return create_store(uow, nsvc.vault, name="Notify Shop", network="sandbox", email="owner@shop.test")


def configure(svc: Services, store_id: int, **fields: Any) -> None:
    """Set store columns directly (the API path, with its challenge, is tested on its own)."""
    with svc.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        for name, value in fields.items():
            setattr(store, name, value)


def create(client: Any, api_key: str, **fields: Any) -> dict[str, Any]:
    response = post_json(client, CREATE, invoice_body(api_key, **fields))
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def pay(svc: Services, number: str, asset: str = "SOL", amount: Decimal | None = None) -> None:
    with svc.uow() as uow:
        simulate_payment(uow, number, svc.clock, asset, amount)
    tick(svc)


def deliveries(svc: Services, **where: Any) -> list[Delivery]:
    with svc.uow() as uow:
        query = select(Delivery).order_by(Delivery.id)
        for name, value in where.items():
            query = query.where(getattr(Delivery, name) == value)
        return list(uow.session.execute(query).scalars())


# -- verification written from the spec's PHP, independently of gateway_core's signing module ----------------


def php_verify_invoice_webhook(payload: dict[str, Any], signature: str, secret: str) -> bool:
    """verifyInvoiceWebhook($payload, $signature, $secret) from the spec, line by line."""
    expected_payload = (str(payload["invoice_number"]) + str(payload["external_invoice_id"])
                        + str(payload["event_type"]) + str(payload["status"]) + str(payload["network"]))
    expected = hmac.new(secret.encode(), expected_payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def php_verify_store_webhook(payload_json: bytes, signature: str, store_api_key: str) -> bool:
    """verifyStoreWebhook($payloadJson, $signature, $storeApiKey) from the spec."""
    expected = hmac.new(store_api_key.encode(), payload_json, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def enqueue_raw(svc: Services, store_id: int, url: str, count: int, kind: str = "store") -> list[str]:
    """`count` deliveries to url through the outbox's own tables (for volume tests); returns their event ids."""
    from gateway_core.adapters.jsonwire import dumps
    from gateway_core.domain.identifiers import new_event_id
    from gateway_core.notifications.outbox import endpoint_for

    ids = []
    with svc.uow() as uow:
        now = svc.clock.now()
        endpoint = endpoint_for(uow.session, store_id, kind, url, now)
        for n in range(count):
            event_id = new_event_id()
            ids.append(event_id)
            uow.session.add(Delivery(store_id=store_id, event_id=event_id, event_type="payment_received",
                                     invoice_number=f"N{n}", channel=kind, endpoint=endpoint,
                                     body=dumps({"n": n, "event_id": event_id}),
                                     headers={"Content-Type": "application/json"}, next_attempt_at=now,
                                     created_at=now, updated_at=now))
    return ids
