"""Helpers for the quote-lock tests: a market of fake price APIs (through `responses`), a sandbox store priced
live (SANDBOX_RATES=live), and reading an invoice's payments and events as the merchant would."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from sqlalchemy import select

from gateway_core.adapters.models import Event, Invoice, Payment
from gateway_core.payments.transfers import record_transfers
from gateway_core.ports import ObservedTransfer
from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json, running_app
from tests.fakes.price_apis import SOURCES, Market

STATUS = "/api/plugin/invoice/{number}/status"


def priced(sol_usd: str) -> Market:
    market = Market()
    for source in SOURCES:
        market.set(source, "SOL", "USD", Decimal(sol_usd))
        market.set(source, "USDC", "USD", Decimal("0.9998"))
        market.set(source, "USDT", "USD", Decimal("1.0001"))
    return market


@pytest.fixture
def market() -> Iterator[Market]:
    fake = priced("150")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


def reprice(market: Market, sol_usd: str) -> None:
    for source in SOURCES:
        market.set(source, "SOL", "USD", Decimal(sol_usd))


@pytest.fixture
def lock_minutes() -> int:
    """QUOTE_LOCK_MINUTES of the `live` app (a test module may override this fixture)."""
    return 15


@pytest.fixture
def live(settings, clock, market, lock_minutes) -> Iterator[tuple[Any, str]]:
    """A sandbox store priced with the live sources (SANDBOX_RATES=live), and the app serving it."""
    tuned = dataclasses.replace(settings, sandbox_rates="live", rate_sources=SOURCES, quote_lock_minutes=lock_minutes)
    with running_app(tuned, clock) as app:
        svc = app.extensions["voltbridge"]
        with app.app_context(), svc.uow() as uow:
            store = create_store(uow, svc.vault, name="Locks", network="sandbox")
        app.config["TEST_STORE_ID"] = store.id
        yield app, store.api_key


def create(app, key: str, amount: str = "10.00", **fields: Any) -> dict:
    body = exact(post_json(app.test_client(), "/api/plugin/invoice/create",
                           invoice_body(key, amount=Decimal(amount), fiat_currency="USD", **fields)))
    assert body["success"], body
    return body


def status(app, key: str, number: str) -> dict:
    response = app.test_client().get(STATUS.format(number=number), headers={"X-API-Key": key},
                                     query_string={"api_key": key})
    assert response.status_code == 200, response.get_json()
    return exact(response)


def exact(response) -> dict:
    """The JSON body with its numbers as Decimal, as a client that cares about money reads it."""
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def options(body: dict) -> dict[str, dict]:
    return {o["currency"]: o for o in body["payment_options"]}


def quote_of(app, number: str, asset: str = "SOL") -> tuple[str | None, int, str]:
    """(reference, amount due, address) of the invoice's quote in `asset`, as stored."""
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        quote = next(q for q in invoice.quotes if q.asset == asset)
        return quote.reference, quote.amount_due, quote.address


def pay(app, number: str, asset: str, reference: str | None, amount: int, at, tx: str) -> None:
    svc = app.extensions["voltbridge"]
    address = quote_of(app, number, asset)[2]
    transfer = ObservedTransfer(chain="sandbox", network="sandbox", tx_id=tx, transfer_index=0, asset=asset,
                                amount=amount, to_address=address, from_address="buyer", reference=reference,
                                block_time=at, confirmations=1, final=False)
    with app.app_context():
        assert record_transfers(svc.uow, [transfer], svc.clock, svc.quoting) == 1


def facts(app, number: str) -> tuple[str, list[tuple[int | None, bool]], list[str]]:
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        payments = uow.session.execute(select(Payment).where(Payment.invoice_id == invoice.id)).scalars().all()
        events = uow.session.execute(select(Event.type).where(Event.invoice_id == invoice.id)
                                     .order_by(Event.id)).scalars().all()
        return invoice.status, [(p.due_basis, p.stale_quote) for p in payments], list(events)


def payment_rows(app, number: str) -> list[Payment]:
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        return list(uow.session.execute(select(Payment).where(Payment.invoice_id == invoice.id)
                                        .order_by(Payment.id)).scalars())


def event_data(app, number: str, event_type: str) -> list[dict]:
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        return [e.data for e in uow.session.execute(
            select(Event).where(Event.invoice_id == invoice.id, Event.type == event_type).order_by(Event.id)
        ).scalars()]
