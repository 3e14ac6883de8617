"""Push: payments seen as the fake cluster confirms them, through the tick's own reads; polling stays the net."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import pytest

from gateway_core.adapters.chains.solana import SolanaChain
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.worker import read_pushed
from tests.conftest import running_services
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.solana_ws import FakeSolanaPubSub
from tests.solana_fixtures import create_invoice, make_store, option, payments, run_worker, status

WAIT = 10.0  # bounded waits on conditions: generous, since the machine is shared


@pytest.fixture
def pubsub(fake_rpc: FakeSolanaRpc) -> Iterator[FakeSolanaPubSub]:
    with FakeSolanaPubSub(fake_rpc) as server:
        yield server


def _services(sol_settings: Settings, pubsub: FakeSolanaPubSub, clock: FrozenClock,
              **changes: object) -> Iterator[Services]:
    settings = dataclasses.replace(sol_settings, solana_ws_url_devnet=pubsub.url, solana_ws_url_mainnet=pubsub.url,
                                   **changes)  # type: ignore[arg-type]
    with running_services(settings, clock) as svc:
        yield svc


@pytest.fixture
def pushed(sol_settings: Settings, pubsub: FakeSolanaPubSub, clock: FrozenClock) -> Iterator[Services]:
    yield from _services(sol_settings, pubsub, clock)


def chain_of(svc: Services) -> SolanaChain:
    chain = svc.chains["solana"]
    assert isinstance(chain, SolanaChain)
    return chain


def subscribed(svc: Services, *accounts: str) -> None:
    """Start push, let one tick name the accounts to follow, and wait until they are all subscribed."""
    push = chain_of(svc).push
    assert push is not None
    push.backoff, push.max_backoff = 0.05, 0.2
    push.start()
    run_worker(svc)
    assert push.wait_for(lambda: all(push.live("devnet", a) for a in accounts), WAIT), push.stats()
    read_pushed(svc)  # each new subscription's account is read once (catch-up): done before the test pays


def read_notified(svc: Services) -> int:
    push = chain_of(svc).push
    assert push is not None
    assert push.ready.wait(WAIT), "no notification"
    return read_pushed(svc)


def test_a_payment_is_seen_by_push_without_a_tick(pushed, sol_client, fake_rpc, pubsub, buyer) -> None:
    key, wallet = make_store(pushed)
    invoice = create_invoice(sol_client, key)
    subscribed(pushed, wallet)
    assert wallet in pubsub.subscribed()
    fake_rpc.calls.clear()
    sol = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
    assert read_notified(pushed) == 1
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "paid"
    assert [p.tx_id for p in payments(pushed)] == [signature]
    # Only the notified account was read: no balance poll, no listing of any other account.
    assert fake_rpc.calls["getMultipleAccounts"] == 0 and fake_rpc.calls["getSignaturesForAddress"] == 1


def test_the_tick_does_not_list_again_what_a_pushed_read_listed_since_the_last_tick(
        pushed, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(pushed)
    invoice = create_invoice(sol_client, key)
    subscribed(pushed, wallet)
    sol = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
    assert read_notified(pushed) == 1
    fake_rpc.calls.clear()
    run_worker(pushed)  # in flight, but listed by the pushed read since the last tick: no listing, no status call
    assert fake_rpc.calls["getSignaturesForAddress"] == 0 and fake_rpc.calls["getSignatureStatuses"] == 0
    fake_rpc.ledger.finalize(signature)
    run_worker(pushed)  # nothing pushed since: the tick lists it and learns it is final
    assert fake_rpc.calls["getSignaturesForAddress"] >= 1
    assert [p.final for p in payments(pushed)] == [True]
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] != "paid"  # moved on


def test_a_deposit_is_read_at_the_notified_balance(pushed, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, _ = make_store(pushed, mode="deposit")
    invoice = create_invoice(sol_client, key, amount="25.00")
    usdc = option(invoice, "USDC")
    token_account = chain_of(pushed).token_account(usdc["address"], fake_rpc_mint(pushed))
    subscribed(pushed, usdc["address"], token_account)
    fake_rpc.calls.clear()
    buyer.pay_token(usdc["address"], usdc["amount_base_units"])
    assert read_notified(pushed) == 1
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "paid"
    assert fake_rpc.calls["getMultipleAccounts"] == 0  # the notification carried the balance


def fake_rpc_mint(svc: Services) -> str:
    return chain_of(svc).usdc_mints["devnet"]


def test_with_push_off_the_tick_finds_it(sol_settings, sol_client, pubsub, clock, buyer) -> None:
    for svc in _services(sol_settings, pubsub, clock, solana_push=False):
        assert chain_of(svc).push is None
        key, wallet = make_store(svc)
        invoice = create_invoice(sol_client, key)
        sol = option(invoice, "SOL")
        buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
        run_worker(svc)
        assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "paid"
        assert pubsub.connections == 0


def test_after_a_dropped_socket_the_gap_is_read_from_the_cursors(pushed, sol_client, pubsub, buyer) -> None:
    key, wallet = make_store(pushed)
    first = create_invoice(sol_client, key)
    second = create_invoice(sol_client, key, external_invoice_id="order_2")
    subscribed(pushed, wallet)
    push = chain_of(pushed).push
    assert push is not None
    pubsub.refuse = True
    pubsub.drop()
    assert push.wait_for(lambda: not push.stats()["devnet"]["connected"], WAIT)
    # Paid while the socket is down: no notification can carry it.
    sol = option(first, "SOL")
    paid = buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
    pubsub.refuse = False
    assert read_notified(pushed) == 1  # the reconnection reads every subscribed account once
    assert push.stats()["devnet"]["reconnects"] >= 1 and push.live("devnet", wallet)
    assert status(sol_client, key, first["invoice_number"])["lifecycle_status"] == "paid"
    # The new socket carries the next payment as before.
    sol = option(second, "SOL")
    buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
    assert read_notified(pushed) == 1
    assert status(sol_client, key, second["invoice_number"])["lifecycle_status"] == "paid"
    recorded = payments(pushed)
    assert len(recorded) == 2 and paid in {p.tx_id for p in recorded}


def test_a_delayed_notification_is_read_once(pushed, sol_client, pubsub, buyer) -> None:
    key, wallet = make_store(pushed)
    invoice = create_invoice(sol_client, key)
    subscribed(pushed, wallet)
    pubsub.delay = 0.2
    sol = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
    run_worker(pushed)  # between net passes a quiet subscribed account is left to its notification
    assert payments(pushed) == []
    chain_of(pushed).read_all_next("devnet")
    run_worker(pushed)  # the net pass finds it before the late notification
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "paid"
    assert read_notified(pushed) == 0  # the pushed read finds nothing new: recorded once
    assert [p.tx_id for p in payments(pushed)] == [signature]


def test_beyond_the_budget_the_oldest_invoices_are_polled(sol_settings, sol_client, pubsub, clock, fake_rpc,
                                                          fee_payer, buyer, caplog) -> None:
    for svc in _services(sol_settings, pubsub, clock, solana_ws_max_subscriptions=2):
        key, _ = make_store(svc, mode="deposit", assets=("SOL",))
        old = create_invoice(sol_client, key, amount="10.00")
        clock.advance(seconds=5)
        new = create_invoice(sol_client, key, amount="10.00", external_invoice_id="order_2")
        old_owner, new_owner = option(old, "SOL")["address"], option(new, "SOL")["address"]
        new_token = chain_of(svc).token_account(new_owner, fake_rpc_mint(svc))
        with caplog.at_level(logging.WARNING):
            subscribed(svc, new_owner, new_token)
        push = chain_of(svc).push
        assert push is not None
        assert push.stats()["devnet"]["subscribed"] == 2 and push.stats()["devnet"]["polled"] == 2
        assert not push.live("devnet", old_owner) and old_owner not in pubsub.subscribed()
        assert any("over budget" in r.getMessage() for r in caplog.records)
        buyer.pay_sol(new_owner, option(new, "SOL")["amount_base_units"])
        assert read_notified(svc) == 1
        buyer.pay_sol(old_owner, option(old, "SOL")["amount_base_units"])
        run_worker(svc)  # the oldest invoice is polled every tick
        assert status(sol_client, key, old["invoice_number"])["lifecycle_status"] == "paid"
        assert status(sol_client, key, new["invoice_number"])["lifecycle_status"] == "paid"


def test_a_closed_invoice_is_unsubscribed_and_polled(pushed, sol_client, pubsub, clock, fee_payer) -> None:
    from sqlalchemy import update

    from gateway_core.adapters.models import Invoice

    key, _ = make_store(pushed, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key, amount="10.00")
    owner = option(invoice, "SOL")["address"]
    subscribed(pushed, owner)
    with pushed.uow() as uow:
        uow.session.execute(update(Invoice).where(Invoice.number == invoice["invoice_number"])
                            .values(closed_at=clock.now()))
    run_worker(pushed)  # still watched for late payments, by polling only
    push = chain_of(pushed).push
    assert push is not None
    assert push.wait_for(lambda: owner not in pubsub.subscribed() and not push.live("devnet", owner), WAIT)
    assert push.stats()["devnet"]["wanted"] == 0
