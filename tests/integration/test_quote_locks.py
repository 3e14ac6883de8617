"""Quote locks: a SOL quote holds for QUOTE_LOCK_MINUTES, then the next read quotes what is due afresh; a payment
to the replaced quote is honoured within the grace, and recorded (flagged, at its value when seen) after it."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal

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
def market():
    fake = priced("150")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


def reprice(market: Market, sol_usd: str) -> None:
    for source in SOURCES:
        market.set(source, "SOL", "USD", Decimal(sol_usd))


@pytest.fixture
def live(settings, clock, market):
    """A sandbox store priced with the live sources (SANDBOX_RATES=live), and the app serving it."""
    tuned = dataclasses.replace(settings, sandbox_rates="live", rate_sources=SOURCES)
    with running_app(tuned, clock) as app:
        svc = app.extensions["voltbridge"]
        with app.app_context(), svc.uow() as uow:
            store = create_store(uow, svc.vault, name="Locks", network="sandbox")
        yield app, store.api_key


def create(app, key: str, amount: str = "10.00") -> dict:
    body = exact(post_json(app.test_client(), "/api/plugin/invoice/create",
                           invoice_body(key, amount=Decimal(amount), fiat_currency="USD")))
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


def pay(app, number: str, asset: str, reference: str, amount: int, at, tx: str) -> None:
    svc = app.extensions["voltbridge"]
    with app.app_context():
        with svc.uow() as uow:
            quote = next(q for q in uow.session.execute(select(Invoice).where(Invoice.number == number))
                         .scalar_one().quotes if q.asset == asset)
            address = quote.address
        transfer = ObservedTransfer(chain="sandbox", network="sandbox", tx_id=tx, transfer_index=0, asset=asset,
                                    amount=amount, to_address=address, from_address="buyer", reference=reference,
                                    block_time=at, confirmations=1, final=False)
        assert record_transfers(svc.uow, [transfer], svc.clock, svc.quoting) == 1


def facts(app, number: str) -> tuple[str, list[tuple[int | None, bool]], list[str]]:
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        payments = uow.session.execute(select(Payment).where(Payment.invoice_id == invoice.id)).scalars().all()
        events = uow.session.execute(select(Event.type).where(Event.invoice_id == invoice.id)
                                     .order_by(Event.id)).scalars().all()
        return invoice.status, [(p.due_basis, p.stale_quote) for p in payments], list(events)


def test_each_quote_records_rate_sources_and_time_and_sol_is_locked(live, clock) -> None:
    app, key = live
    created = options(create(app, key))
    sol, usdc = created["SOL"], created["USDC"]
    assert sol["rate"] == 150 and sol["rate_sources"] == list(SOURCES) and sol["rated_at"] == "2026-01-15T12:00:00.000Z"
    assert sol["quote_expires_at"] == "2026-01-15T12:15:00.000Z"  # QUOTE_LOCK_MINUTES
    assert usdc["rate"] == Decimal("0.9998") and usdc["quote_expires_at"] == "2026-01-16T12:00:00.000Z"  # its life
    assert sol["amount_base_units"] == 66_666_667  # 10 USD at 150, rounded up


def test_a_lapsed_quote_is_requoted_on_the_next_read_with_a_new_amount_and_reference(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)
    clock.advance(minutes=14, seconds=59)
    assert options(status(app, key, number))["SOL"]["reference"] == old["SOL"]["reference"]  # still locked
    reprice(market, "160")
    clock.advance(seconds=31)  # past the lock; the cached 150 is too old to serve
    fresh = options(status(app, key, number))
    assert fresh["SOL"]["reference"] != old["SOL"]["reference"] and fresh["SOL"]["rate"] == 160
    assert fresh["SOL"]["amount_base_units"] == 62_500_000  # 10 USD at 160
    assert fresh["SOL"]["quote_expires_at"] == "2026-01-15T12:30:30.000Z"
    assert fresh["USDC"] == old["USDC"] | {"rated_at": old["USDC"]["rated_at"]}  # stablecoins hold for the life
    page = app.test_client().get(f"/pay/{number}")
    assert "1 SOL = 160 USD" in page.get_data(as_text=True)
    assert facts(app, number)[2] == ["invoice.created", "invoice.requoted"]
    assert options(status(app, key, number))["SOL"]["reference"] == fresh["SOL"]["reference"]  # once only


def test_a_payment_to_the_old_quote_within_the_grace_is_honoured_at_the_old_rate(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)["SOL"]
    reprice(market, "140")
    clock.advance(minutes=16)
    assert options(status(app, key, number))["SOL"]["amount_base_units"] == 71_428_572  # re-quoted at 140
    lapsed_at = clock.now() - timedelta(minutes=1)
    pay(app, number, "SOL", old["reference"], old["amount_base_units"], lapsed_at + timedelta(minutes=4, seconds=59),
        "tx-within-grace")
    state, payments, events = facts(app, number)
    assert state == "paid" and payments == [(old["amount_base_units"], False)]
    assert "invoice.payment_to_lapsed_quote" not in events


def test_a_payment_to_the_old_quote_after_the_grace_is_recorded_at_its_value_and_flagged(live, clock,
                                                                                          market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)["SOL"]
    reprice(market, "140")
    clock.advance(minutes=16)
    status(app, key, number)  # re-quoted: 10 USD is now 0.071428572 SOL
    clock.advance(minutes=10)
    pay(app, number, "SOL", old["reference"], old["amount_base_units"], clock.now(), "tx-after-grace")
    state, payments, events = facts(app, number)
    # 0.066666667 SOL at 140 is 9.33 USD of 10: recorded, counted at that value, and the merchant is told.
    assert state == "partially_paid" and payments == [(None, True)]
    assert events[-2:] == ["invoice.payment_to_lapsed_quote", "invoice.partially_paid"]
    assert options(status(app, key, number))["SOL"]["amount_paid"] == Decimal("0.066666667")


def test_when_no_rate_can_be_had_the_lapsed_quote_stays_and_the_page_still_answers(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number = first["invoice_number"]
    market.down.update(SOURCES)
    clock.advance(minutes=20)  # lapsed, and the cached rate is older than RATE_MAX_AGE_SECONDS
    assert options(status(app, key, number))["SOL"]["reference"] == options(first)["SOL"]["reference"]
    assert app.test_client().get(f"/pay/{number}").status_code == 200
