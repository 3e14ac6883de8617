"""The sandbox network drives the whole lifecycle through the worker's jobs, as a real chain would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.models import Event, Payment
from gateway_core.payments.transfers import record_transfers
from gateway_core.ports import ObservedTransfer
from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json, tick

CREATE = "/api/plugin/invoice/create"


def create(client, api_key: str, **fields) -> str:
    response = post_json(client, CREATE, invoice_body(api_key, **fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["invoice_number"]


def pay(client, number: str, asset: str = "SOL", amount: str | None = None) -> dict:
    body = {"asset": asset} | ({"amount": amount} if amount is not None else {})
    response = post_json(client, f"/pay/{number}/simulate", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def status(client, api_key: str, number: str) -> dict:
    return client.get(f"/api/plugin/invoice/{number}/status?api_key={api_key}").get_json()["invoice"]


def events(services, number: str) -> list[str]:
    from gateway_core.adapters.models import Invoice

    with services.uow() as uow:
        invoice_id = uow.session.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        return list(uow.session.execute(
            select(Event.type).where(Event.invoice_id == invoice_id).order_by(Event.id)
        ).scalars())


def test_full_payment_goes_paid_confirmed_settled(client, store, services) -> None:
    number = create(client, store.api_key)  # 99.99 USD = 0.6666 SOL
    transfer = pay(client, number)
    assert transfer["amount_base_units"] == 666_600_000
    assert status(client, store.api_key, number)["lifecycle_status"] == "pending"  # not seen until the watcher runs
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["status"] == "paid" and invoice["lifecycle_status"] == "settled"
    assert invoice["payment_tx_id"] == transfer["tx_id"]
    assert invoice["paid_currency"] == "SOL"
    assert invoice["amount_received_crypto"] == 0.6666 and invoice["remaining_amount_crypto"] == 0
    assert invoice["payment_progress_percentage"] == 100
    assert events(services, number) == ["invoice.created", "invoice.paid", "invoice.confirmed", "invoice.settled"]


def test_paid_waits_for_finality_before_confirmed(client, store, services, clock) -> None:
    services.chains["sandbox"]._finality = 30  # this test wants a visible unconfirmed phase
    number = create(client, store.api_key)
    pay(client, number)
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["lifecycle_status"] == "paid" and 0 < invoice["confirmations"] < 32
    clock.advance(seconds=31)
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["lifecycle_status"] == "settled" and invoice["confirmations"] == 32


def test_partial_then_top_up(client, store, services) -> None:
    number = create(client, store.api_key)
    pay(client, number, amount="0.3")
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["lifecycle_status"] == "partially_paid" and invoice["status"] == "underpaid"
    assert invoice["amount_received_crypto"] == 0.3 and invoice["remaining_amount_crypto"] == 0.3666
    assert invoice["payment_progress_percentage"] == 45  # 0.3 / 0.6666 = 45.004..%, shown to 2 places, down
    pay(client, number)  # the remaining 0.3666 by default
    tick(services)
    assert status(client, store.api_key, number)["lifecycle_status"] == "settled"
    assert events(services, number).count("invoice.partially_paid") == 1


def test_mixed_assets_add_up(client, store, services) -> None:
    number = create(client, store.api_key, amount="100.00")
    pay(client, number, "USDC", "40")
    pay(client, number, "SOL", "0.4")  # 60 USD, but 100 USD is 0.666666667 SOL rounded up: a hair short
    tick(services)
    assert status(client, store.api_key, number)["lifecycle_status"] == "partially_paid"
    assert pay(client, number, "SOL")["amount_base_units"] == 1  # what remains, in SOL, rounded up
    tick(services)
    assert status(client, store.api_key, number)["lifecycle_status"] == "settled"


def test_overpaid_is_flagged_once(client, store, services) -> None:
    number = create(client, store.api_key)
    pay(client, number, amount="1")
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["is_overpaid"] is True and invoice["lifecycle_status"] == "settled"
    assert invoice["payment_progress_percentage"] > 100
    assert events(services, number).count("invoice.overpaid") == 1


def test_expired_with_nothing_paid(client, store, services, clock) -> None:
    number = create(client, store.api_key, expiry_hours=1)
    clock.advance(hours=1)
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["status"] == "expired" and invoice["is_expired"] is True
    assert events(services, number)[-1] == "invoice.expired"


def test_underpaid_at_expiry(client, store, services, clock) -> None:
    number = create(client, store.api_key, expiry_hours=1)
    pay(client, number, amount="0.1")
    tick(services)
    clock.advance(hours=2)
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["lifecycle_status"] == "underpaid" and invoice["status"] == "underpaid"


def test_underpayment_within_the_stores_tolerance_counts_as_paid(client, services) -> None:
    with services.uow() as uow:
        lenient = create_store(uow, services.vault, name="Lenient", network="sandbox",
                               underpayment_tolerance_percent=Decimal("1"))
    number = create(client, lenient.api_key, amount="100.00")
    pay(client, number, "USDC", "99.00")
    tick(services)
    assert status(client, lenient.api_key, number)["lifecycle_status"] == "settled"


def test_paid_late_is_recorded_flagged_and_never_lost(client, store, services, clock) -> None:
    number = create(client, store.api_key, expiry_hours=1)
    clock.advance(hours=2)
    tick(services)
    assert status(client, store.api_key, number)["status"] == "expired"
    late = pay(client, number)
    tick(services)
    invoice = status(client, store.api_key, number)
    assert invoice["is_paid_late"] is True
    assert invoice["lifecycle_status"] == "settled" and invoice["payment_tx_id"] == late["tx_id"]
    with services.uow() as uow:
        payment = uow.session.execute(select(Payment).where(Payment.tx_id == late["tx_id"])).scalar_one()
        assert payment.disposition == "late"
    assert "invoice.expired" in events(services, number) and events(services, number)[-1] == "invoice.settled"


def test_payment_seen_after_expiry_but_made_before_it_is_on_time(client, store, services, clock) -> None:
    number = create(client, store.api_key, expiry_hours=1)
    clock.advance(minutes=59)
    pay(client, number)
    clock.advance(minutes=5)
    tick(services)  # the expiry job and the watcher run in the same tick; the transfer is dated before expiry
    invoice = status(client, store.api_key, number)
    assert invoice["is_paid_late"] is False and invoice["lifecycle_status"] == "settled"


def test_cancelled_invoice_records_a_payment_without_reopening(client, store, services) -> None:
    response = post_json(client, "/api/dynamic-payment/initiate",
                         {"api_key": store.api_key, "amount": "10.00", "external_payment_id": "s1"})
    number = response.get_json()["data"]["session_id"]
    assert post_json(client, f"/api/dynamic-payment/{number}/cancel", {"api_key": store.api_key}).status_code == 200
    pay(client, number, "USDC")
    tick(services)
    session = client.get(f"/api/dynamic-payment/{number}/status?api_key={store.api_key}").get_json()["session"]
    assert session["status"] == "cancelled" and session["is_paid_late"] is True
    assert events(services, number)[-1] == "invoice.payment_after_close"


def test_simulate_is_404_off_the_sandbox(client, services) -> None:
    with services.uow() as uow:
        dev = create_store(uow, services.vault, name="Dev", network="devnet",
                           wallets={"USDC": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"})
    number = create(client, dev.api_key)
    response = post_json(client, f"/pay/{number}/simulate", {"asset": "USDC"})
    assert response.status_code == 404
    assert post_json(client, "/pay/NOSUCHINVOICE/simulate", {}).status_code == 404


def test_simulate_rejects_bad_input(client, store) -> None:
    number = create(client, store.api_key)
    assert post_json(client, f"/pay/{number}/simulate", {"asset": "DOGE"}).status_code == 422
    assert post_json(client, f"/pay/{number}/simulate", {"amount": "0.0000000001"}).status_code == 422
    assert post_json(client, f"/pay/{number}/simulate", {"amount": "-1"}).status_code == 422


@pytest.mark.parametrize("rounds", [2, 3])
def test_jobs_are_safe_to_run_twice(client, store, services, clock, rounds) -> None:
    paid = create(client, store.api_key, external_invoice_id="a")
    expiring = create(client, store.api_key, external_invoice_id="b", expiry_hours=1)
    pay(client, paid, amount="0.3")
    pay(client, paid)
    clock.advance(hours=2)
    for _ in range(rounds):
        tick(services)
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Payment)).scalar_one() == 2
        # both halves land in one scan: created x2, then paid, confirmed, settled; and expired
        assert uow.session.execute(select(func.count()).select_from(Event)).scalar_one() == 2 + 3 + 1
    assert status(client, store.api_key, expiring)["status"] == "expired"
    assert services.chains["sandbox"].scan("sandbox", set(), None).transfers == []
    # the same transfers handed to the recorder again (a crash before the cursor moved) change nothing
    with services.uow() as uow:
        again = [ObservedTransfer(p.chain, p.network, p.tx_id, p.transfer_index, p.asset, p.amount, p.to_address,
                                  p.from_address, p.reference, p.block_time, p.confirmations, p.final)
                 for p in uow.session.execute(select(Payment)).scalars()]
    assert record_transfers(services.uow, again, clock, services.quoting) == 0
    with services.uow() as uow:
        # both halves land in one scan: created x2, then paid, confirmed, settled; and expired
        assert uow.session.execute(select(func.count()).select_from(Event)).scalar_one() == 2 + 3 + 1
