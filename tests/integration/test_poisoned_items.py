# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Acceptance 1 of issue 14: one invoice that cannot be handled is parked; every other store's payments are
still detected and delivered in the same tick, the cursor moves on, and the parked one is retried."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from sqlalchemy import select, text

from bridge.cli import main as cli_main
from gateway_core.adapters.models import ChainCursor, Delivery, Invoice, ParkedItem, Payment, Quote
from gateway_core.bootstrap import Services
from gateway_core.payments import parked
from gateway_core.payments.expiry import expire_due
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.payments.watch import watch_tick
from gateway_core.ports import ObservedTransfer, ScanResult, TxFinality, WatchedAddress
from gateway_core.stores.manage import create_store
from tests.conftest import tick
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    create,
    dispatcher,
    napp,
    nclient,
    notify_settings_for,
    nsettings,
    nsvc,
    receiver,
    shop,
)

UNREADABLE = "{not json"  # a stored row the gateway can no longer read, however it got there


def poison(svc: Services, number: str, value: str = UNREADABLE) -> None:
    """Make one invoice's row fail whenever it is loaded (its metadata is not JSON any more)."""
    with svc.uow() as uow:
        uow.session.execute(text("UPDATE invoices SET metadata = :m WHERE number = :n"), {"m": value, "n": number})


def status_of(svc: Services, number: str) -> str:
    with svc.uow() as uow:
        return uow.session.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one()


def parked_rows(svc: Services) -> list[ParkedItem]:
    with svc.uow() as uow:
        return list(uow.session.execute(select(ParkedItem).order_by(ParkedItem.id)).scalars())


def two_shops(svc: Services, client, receiver) -> tuple[str, str]:
    """An invoice at a poisoned shop and one at a healthy shop, both with a store webhook."""
    with svc.uow() as uow:
        bad = create_store(uow, svc.vault, name="Poisoned", network="sandbox", email="bad@shop.test")
        good = create_store(uow, svc.vault, name="Healthy", network="sandbox", email="good@shop.test")
    configure(svc, bad.id, webhook_url=receiver.url("/bad"))
    configure(svc, good.id, webhook_url=receiver.url("/good"))
    return (create(client, bad.api_key, external_invoice_id="bad-1")["invoice_number"],
            create(client, good.api_key, external_invoice_id="good-1")["invoice_number"])


def test_a_poisoned_invoice_is_parked_while_other_stores_are_paid_and_delivered_in_the_same_tick(
        nsvc, napp, nclient, receiver, dispatcher, clock):
    bad, good = two_shops(nsvc, nclient, receiver)
    for number in (bad, good):
        with nsvc.uow() as uow:
            simulate_payment(uow, number, nsvc.clock)
    poison(nsvc, bad)

    tick(nsvc)
    dispatcher.run_until_idle()

    assert status_of(nsvc, good) == "settled"  # sandbox finality is immediate
    assert {p.json()["invoice"]["invoice_number"] for p in receiver.posts("/good")} == {good}
    assert receiver.posts("/bad") == []
    (row,) = parked_rows(nsvc)
    assert row.kind == "transfer" and row.attempts == 1 and "JSONDecodeError" in row.last_error
    assert row.next_try_at == clock.now() + parked.backoff(1)
    with nsvc.uow() as uow:  # nothing of the poisoned invoice was half-written
        assert uow.session.execute(select(Payment).where(Payment.tx_id == row.payload["tx_id"])).first() is None

    # Backing off: the next ticks leave it alone (no attempt counted) and the others go on.
    tick(nsvc)
    assert parked_rows(nsvc)[0].attempts == 1
    # Due again and still broken: counted, with a longer wait.
    clock.current += parked.backoff(1)
    tick(nsvc)
    (row,) = parked_rows(nsvc)
    assert row.attempts == 2 and row.next_try_at == clock.now() + parked.backoff(2)

    result = napp.test_cli_runner().invoke(cli_main, ["parked", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"kind": "transfer"' in result.output and '"attempts": 2' in result.output

    # The operator repairs the row: the next due retry records the payment and forgets the parked item.
    poison(nsvc, bad, "{}")
    clock.current += parked.backoff(2)
    tick(nsvc)
    dispatcher.run_until_idle()
    assert status_of(nsvc, bad) == "settled"
    assert parked_rows(nsvc) == []
    assert {p.json()["invoice"]["invoice_number"] for p in receiver.posts("/bad")} == {bad}


class ListedChain:
    """A chain fake with a cursor: each scan lists the transfers after it, once (as Solana and TRON read)."""

    chain = "sandbox"

    def __init__(self, transfers: list[ObservedTransfer]) -> None:
        self.transfers = transfers

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        start = int(cursor or 0)
        return ScanResult(self.transfers[start:], str(len(self.transfers)))

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        return {tx_id: TxFinality(32, True) for tx_id in tx_ids}


def listed(svc: Services, number: str, tx_id: str) -> ObservedTransfer:
    with svc.uow() as uow:
        quote = uow.session.execute(
            select(Quote).join(Invoice).where(Invoice.number == number, Quote.asset == "SOL")).scalar_one()
        return ObservedTransfer(chain="sandbox", network="sandbox", tx_id=tx_id, transfer_index=0, asset="SOL",
                                amount=quote.amount_due, to_address=quote.address, from_address="buyer",
                                reference=quote.reference, block_time=svc.clock.now(), confirmations=32, final=True)


def test_the_cursor_moves_past_a_parked_transfer_which_is_recorded_later_from_what_was_parked(
        nsvc, nclient, receiver, clock):
    bad, good = two_shops(nsvc, nclient, receiver)
    chain = ListedChain([listed(nsvc, bad, "tx-bad"), listed(nsvc, good, "tx-good")])
    poison(nsvc, bad)

    report = watch_tick(nsvc.uow, chain, "sandbox", clock, nsvc.quoting)

    assert report.recorded == 1 and status_of(nsvc, good) == "settled"
    with nsvc.uow() as uow:
        assert uow.session.get(ChainCursor, ("sandbox", "sandbox", "")).position == "2"
    assert [r.item_key for r in parked_rows(nsvc)] == ["sandbox:tx-bad:0"]

    poison(nsvc, bad, "{}")
    clock.current += parked.backoff(1)
    # the chain lists nothing new: the parked row has it
    report = watch_tick(nsvc.uow, chain, "sandbox", clock, nsvc.quoting)
    assert report.recorded == 1 and status_of(nsvc, bad) == "settled"
    assert parked_rows(nsvc) == []


def test_expiry_parks_an_invoice_it_cannot_close_and_closes_the_others(nsvc, nclient, receiver, clock):
    bad, good = two_shops(nsvc, nclient, receiver)
    poison(nsvc, bad)
    clock.current += timedelta(days=2)

    assert expire_due(nsvc.uow, clock) == 1
    assert status_of(nsvc, good) == "expired" and status_of(nsvc, bad) == "pending"
    (row,) = parked_rows(nsvc)
    assert row.kind == "expiry" and row.attempts == 1
    assert expire_due(nsvc.uow, clock) == 0 and parked_rows(nsvc)[0].attempts == 1  # backing off

    poison(nsvc, bad, "{}")
    clock.current += parked.backoff(1)
    assert expire_due(nsvc.uow, clock) == 1 and status_of(nsvc, bad) == "expired"
    assert parked_rows(nsvc) == []


def test_a_delivery_that_cannot_be_prepared_costs_only_itself_an_attempt(nsvc, nclient, receiver, dispatcher):
    bad, good = two_shops(nsvc, nclient, receiver)
    with nsvc.uow() as uow:  # the poisoned store's signing key no longer decrypts (a changed SECRET_KEY, say)
        store_id = uow.session.execute(select(Invoice.store_id).where(Invoice.number == bad)).scalar_one()
        uow.session.execute(text("UPDATE api_keys SET encrypted = 'garbage' WHERE store_id = :s"), {"s": store_id})
    for number in (bad, good):
        with nsvc.uow() as uow:
            simulate_payment(uow, number, nsvc.clock)
    tick(nsvc)

    dispatcher.run_until_idle()

    assert {p.json()["invoice"]["invoice_number"] for p in receiver.posts("/good")} == {good}
    assert receiver.posts("/bad") == []
    with nsvc.uow() as uow:
        failed = uow.session.execute(select(Delivery).where(Delivery.store_id == store_id)).scalars().all()
    first, *later = sorted(failed, key=lambda d: d.id)
    assert first.status == "pending" and first.attempts == 1 and first.last_error == "internal error: ValueError"
    assert all(d.attempts == 0 for d in later)  # the invoice's later events wait behind it, in order
