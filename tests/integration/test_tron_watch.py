"""TRON end to end through the worker's jobs: xpub stores, per-invoice addresses, solid-block scanning.

TronGrid is played by `responses` under tronpy's requests-based provider (tests/fakes/trongrid.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import responses
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from sqlalchemy import select

from gateway_core.adapters.chains.tron import MAINNET_USDT
from gateway_core.adapters.models import ChainCursor, Event, Invoice, Payment, Store
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest, public_invoice
from gateway_core.stores.manage import create_store
from tests.conftest import tick
from tests.fakes.trongrid import (
    OTHER_TOKEN,
    FakeTronGrid,
    contract_trx_payout,
    contract_usdt_payout,
    trc20_transfer,
    trx_transfer,
)
from tests.reconcile_support import assert_reconciled

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
BLOCK_READS = ("wallet/getblockbynum", "walletsolidity/gettransactioninfobyblocknum")


@pytest.fixture(scope="module")
def account():
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    return Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)


@pytest.fixture
def chain() -> Iterator[FakeTronGrid]:
    fake = FakeTronGrid()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def tron(settings, clock) -> Iterator[Services]:
    tuned = dataclasses.replace(settings, trongrid_api_key="test-trongrid-key", tron_requests_per_second=0,
                                tron_start_lookback_blocks=0, tron_max_blocks_per_tick=100)
    svc = build_services(tuned, clock=clock)
    yield svc
    if svc.engine is not None:
        svc.engine.dispose()


def new_store(svc: Services, account, *, wallets: dict[str, str] | None = None, network: str = "devnet") -> int:
    with svc.uow() as uow:
        return create_store(uow, svc.vault, name="Tron Shop", network=network, wallets=wallets,
                            tron_xpub=account.PublicKey().ToExtended()).id


def new_invoice(svc: Services, store_id: int, amount: str = "25", hours: int = 24) -> tuple[str, str]:
    """(number, USDT deposit address) of a fresh invoice."""
    with svc.uow() as uow:
        store = uow.session.get(Store, store_id)
        view = create_invoice(uow, store, InvoiceRequest(amount=Decimal(amount), expiry_hours=hours),
                              svc.invoicing).view
    quote = next(q for q in view.quotes if q.asset == "USDT")
    return view.number, quote.address


def view(svc: Services, number: str):
    with svc.uow() as uow:
        return public_invoice(uow, number, svc.clock)


def events(svc: Services, number: str) -> list[str]:
    with svc.uow() as uow:
        invoice_id = uow.session.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        return list(uow.session.execute(select(Event.type).where(Event.invoice_id == invoice_id)
                                        .order_by(Event.id)).scalars())


def tick_calls(svc: Services, chain: FakeTronGrid) -> tuple[int, int]:
    """Run the worker once; (API calls made, blocks whose receipts were read) during it."""
    before, blocks_before = chain.calls(), sum(chain.calls(p) for p in BLOCK_READS)
    tick(svc)
    return chain.calls() - before, sum(chain.calls(p) for p in BLOCK_READS) - blocks_before


def test_store_with_xpub_accepts_usdt_beside_solana_at_derived_addresses(tron, account) -> None:
    store_id = new_store(tron, account, wallets={"SOL": "So11111111111111111111111111111111111111112"})
    chain_keys = account.Change(Bip44Changes.CHAIN_EXT)
    addresses = []
    for index in range(3):
        number, address = new_invoice(tron, store_id)
        invoice = view(tron, number)
        assert [q.asset for q in invoice.quotes] == ["SOL", "USDT"]
        usdt = invoice.quotes[1]
        assert (usdt.chain, usdt.reference, usdt.amount_due) == ("tron", None, 25_000_000)
        assert address == chain_keys.AddressIndex(index).PublicKey().ToAddress()
        addresses.append(address)
    assert len(set(addresses)) == 3
    with tron.uow() as uow:
        assert uow.session.get(Store, store_id).tron_next_index == 3
    with tron.uow() as uow, pytest.raises(ValidationFailed):
        create_store(uow, tron.vault, name="Bad", network="mainnet", tron_xpub=account.PrivateKey().ToExtended())


def test_index_allocation_is_atomic_under_concurrent_invoice_creation(tron, account) -> None:
    store_id = new_store(tron, account)
    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(lambda _: new_invoice(tron, store_id), range(12)))
    chain_keys = account.Change(Bip44Changes.CHAIN_EXT)
    expected = {chain_keys.AddressIndex(i).PublicKey().ToAddress() for i in range(12)}
    assert {address for _, address in created} == expected


def test_sandbox_store_with_xpub_pays_through_the_sandbox_ledger(tron, account) -> None:
    from gateway_core.payments.sandbox import simulate_payment

    store_id = new_store(tron, account, network="sandbox")
    number, address = new_invoice(tron, store_id)
    assert address == account.Change(Bip44Changes.CHAIN_EXT).AddressIndex(0).PublicKey().ToAddress()
    with tron.uow() as uow:
        simulate_payment(uow, number, tron.clock, "USDT")
    tick(tron)
    assert view(tron, number).status.value == "settled"


def test_paid_in_a_block_confirmed_once_solidified_with_one_call_per_block(tron, account, chain) -> None:
    store_id = new_store(tron, account)
    number, address = new_invoice(tron, store_id)
    calls, blocks = tick_calls(tron, chain)  # first run: head blocks 982..1000 above the solidified 981
    assert (blocks, calls) == (19, 20)

    transfer = chain.add(trc20_transfer(1001, address, 25_000_000))
    chain.add(trx_transfer(1001, "TGkWdpawVNfeset3P6uTBbLaPY7nZVZvXY", 1_000_000))  # to a stranger: noise
    chain.advance(1)
    calls, blocks = tick_calls(tron, chain)
    # Solid 982, head 1001, the heights, and 982's solidified body: its receipt list was empty.
    assert (blocks, calls) == (2, 4)
    invoice = view(tron, number)
    assert invoice.status.value == "paid" and invoice.payment_tx_id == transfer.id
    assert invoice.confirmations == 1 and not invoice.payments[0].final

    chain.advance(6)
    tick_calls(tron, chain)
    assert view(tron, number).confirmations == 7 and view(tron, number).status.value == "paid"

    chain.advance(13)  # solid 1001: the block with the payment is solidified
    calls, blocks = tick_calls(tron, chain)
    # The heights, one call per block, one for the empty blocks' bodies; none asks for a payment by id.
    assert calls == blocks + 2 and chain.calls("walletsolidity/gettransactioninfobyid") == 0
    invoice = view(tron, number)
    assert invoice.status.value == "settled" and invoice.payments[0].final
    assert invoice.confirmations == 20
    assert events(tron, number) == ["invoice.created", "invoice.paid", "invoice.confirmed", "invoice.settled"]
    # Every request carried our TronGrid key.
    assert {headers.get("TRON-PRO-API-KEY") for _, _, headers in chain.requests} == {"test-trongrid-key"}


def test_each_solidified_block_is_read_once_and_calls_do_not_grow_with_invoices(tron, account, chain) -> None:
    store_id = new_store(tron, account)
    new_invoice(tron, store_id)
    tick(tron)
    chain.advance(3)
    few = tick_calls(tron, chain)
    for _ in range(40):
        new_invoice(tron, store_id)
    chain.advance(3)
    many = tick_calls(tron, chain)
    assert few == many == (8, 6)  # the empty blocks' bodies confirmed in one call
    solid_reads = [p["num"] for path, p, _ in chain.requests if path == "walletsolidity/gettransactioninfobyblocknum"]
    assert solid_reads == list(range(982, chain.solid + 1))


def test_a_transfer_that_never_solidifies_never_finalizes_the_invoice(tron, account, chain) -> None:
    store_id = new_store(tron, account)
    number, address = new_invoice(tron, store_id)
    tick(tron)
    chain.add(trc20_transfer(1001, address, 25_000_000))
    chain.advance(1)
    tick(tron)
    assert view(tron, number).status.value == "paid"
    chain.blocks[1001] = []  # a fork: the block that solidifies at 1001 does not hold the transfer
    for _ in range(5):
        chain.advance(20)
        tick(tron)
        invoice = view(tron, number)
        assert invoice.status.value == "paid" and not invoice.payments[0].final
    # Asked by id once when its block solidified without it, then only every 20 blocks: not every tick.
    assert chain.calls("walletsolidity/gettransactioninfobyid") <= 5
    chain.advance(1300)  # gone for good: reported, and it no longer counts
    for _ in range(15):
        tick(tron)
    invoice = view(tron, number)
    assert invoice.status.value not in ("confirmed", "settled") and invoice.confirmed_at is None
    assert invoice.payments[0].disposition == "dropped" and not invoice.payments[0].final
    assert "invoice.payment_dropped" in events(tron, number)


def test_outage_then_catch_up_block_by_block_and_a_restart_loses_nothing(tron, account, chain, settings,
                                                                          clock) -> None:
    store_id = new_store(tron, account)
    number, address = new_invoice(tron, store_id)
    early, early_address = new_invoice(tron, store_id)
    tick(tron)  # cursor 981:1000
    chain.add(trc20_transfer(1001, early_address, 25_000_000))
    chain.advance(1)
    tick(tron)  # seen at the head, not final
    assert view(tron, early).status.value == "paid"

    chain.down = True
    chain.advance(240)
    tick(tron)  # fails and is logged; nothing moves
    with tron.uow() as uow:
        assert uow.session.get(ChainCursor, ("tron", "devnet", "")).position == "982:1001"
    chain.add(trc20_transfer(1100, address, 25_000_000))
    chain.down = False

    # A restart: a new process knows nothing of what the old one saw, only the persisted cursor.
    restarted = build_services(dataclasses.replace(tron.settings), clock=clock)
    try:
        tick(restarted)  # solid 983..1082: block 1001 read again from the solidity node
        assert view(restarted, early).status.value == "settled"
        assert view(restarted, number).status.value == "pending"
        tick(restarted)  # 1083..1182: the payment made during the outage, final at once
        assert view(restarted, number).status.value == "settled"
        tick(restarted)  # 1183..1222, then the head blocks
    finally:
        if restarted.engine is not None:
            restarted.engine.dispose()
    solid_reads = [p["num"] for path, p, _ in chain.requests
                   if path == "walletsolidity/gettransactioninfobyblocknum"]
    assert solid_reads == list(range(982, chain.solid + 1))  # each once, in order, none skipped
    with tron.uow() as uow:
        assert uow.session.get(ChainCursor, ("tron", "devnet", "")).position == f"{chain.solid}:{chain.head}"
        assert uow.session.execute(select(Payment.id)).all().__len__() == 2
    assert_reconciled(tron)


def test_in_flight_payment_after_restart_is_settled_by_asking_once_by_id(tron, account, chain, clock) -> None:
    store_id = new_store(tron, account)
    number, address = new_invoice(tron, store_id)
    tick(tron)
    chain.add(trc20_transfer(1001, address, 25_000_000))
    chain.advance(1)
    tick(tron)
    restarted = build_services(dataclasses.replace(tron.settings), clock=clock)
    try:
        chain.advance(1)
        tick(restarted)  # not final yet; the new process asks where the transaction is, once
        assert chain.calls("wallet/gettransactioninfobyid") == 1
        assert view(restarted, number).confirmations == 2
        chain.advance(1)
        tick(restarted)
        assert chain.calls("wallet/gettransactioninfobyid") == 1  # remembered: no call per payment per tick
        assert view(restarted, number).confirmations == 3
        chain.advance(18)
        tick(restarted)
        assert view(restarted, number).status.value == "settled"
    finally:
        if restarted.engine is not None:
            restarted.engine.dispose()


def test_under_over_late_and_wrong_token_payments_are_recorded_and_reported(tron, account, chain, clock) -> None:
    store_id = new_store(tron, account)
    under, under_address = new_invoice(tron, store_id, hours=1)
    over, over_address = new_invoice(tron, store_id, hours=1)
    late, late_address = new_invoice(tron, store_id, hours=1)
    wrong, wrong_address = new_invoice(tron, store_id, hours=1)
    tick(tron)
    chain.add(trc20_transfer(1001, under_address, 10_000_000))
    chain.add(trc20_transfer(1001, over_address, 30_000_000))
    chain.add(trc20_transfer(1001, wrong_address, 25_000_000, token=OTHER_TOKEN))  # another TRC20 token
    chain.add(contract_trx_payout(1001, wrong_address, 7_000_000))  # TRX sent on by a contract
    chain.add(trx_transfer(1001, wrong_address, 3_000_000))  # plain TRX: only the block body names the payee
    chain.add(trc20_transfer(1001, wrong_address, 25_000_000, result="REVERT"))  # failed: never counts
    chain.advance(1)
    tick(tron)  # the head block's body: USDT and plain TRX sighted, not final
    assert view(tron, under).status.value == "partially_paid" and view(tron, over).status.value == "paid"
    chain.advance(19)
    tick(tron)  # block 1001 solidified: its receipts are read once; every sighting becomes final
    assert view(tron, under).status.value == "partially_paid"
    assert view(tron, over).status.value == "settled" and view(tron, over).overpaid
    assert "invoice.overpaid" in events(tron, over)
    wrong_view = view(tron, wrong)
    assert wrong_view.status.value == "pending"
    assert sorted((p.asset, p.amount, p.disposition, p.final) for p in wrong_view.payments) == [
        ("TRC20", 25_000_000, "wrong_asset", True), ("TRX", 3_000_000, "wrong_asset", True),
        ("TRX", 7_000_000, "wrong_asset", True)]
    assert events(tron, wrong).count("invoice.wrong_asset_payment") == 3

    clock.advance(hours=1, minutes=1)  # the windows close
    tick(tron)
    assert view(tron, under).status.value == "underpaid"
    assert view(tron, late).status.value == "expired"
    # Block 1300 is at 13:05, after the 13:00 expiry: a late payment, recorded and flagged.
    chain.add(trc20_transfer(1300, late_address, 25_000_000))
    chain.advance(300)
    for _ in range(4):
        tick(tron)
    late_view = view(tron, late)
    assert late_view.paid_late and late_view.payments[0].disposition == "late"
    assert late_view.status.value == "settled"
    assert events(tron, late)[:3] == ["invoice.created", "invoice.expired", "invoice.paid"]
    assert_reconciled(tron)


def test_usdt_contract_is_configurable_per_network(tron, account, chain) -> None:
    custom = dataclasses.replace(tron.settings, tron_usdt_contract_nile=OTHER_TOKEN)
    svc = build_services(custom, clock=tron.clock)
    try:
        store_id = new_store(svc, account)
        number, address = new_invoice(svc, store_id)
        tick(svc)
        chain.add(trc20_transfer(1001, address, 25_000_000))  # the default Nile USDT is now 'another token'
        chain.add(trc20_transfer(1001, address, 25_000_000, token=OTHER_TOKEN))
        chain.advance(20)
        tick(svc)
        invoice = view(svc, number)
        assert invoice.status.value == "settled"
        assert sorted(p.disposition for p in invoice.payments) == ["matched", "wrong_asset"]
    finally:
        if svc.engine is not None:
            svc.engine.dispose()
    defaults = Settings.from_env({}, secret_key="x")
    assert defaults.tron_usdt_contract_mainnet == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert Settings.from_env({"TRON_USDT_CONTRACT_MAINNET": OTHER_TOKEN, "TRONGRID_API_KEY": "k"},
                             secret_key="x").tron_usdt_contract_mainnet == OTHER_TOKEN


def test_mainnet_store_is_watched_on_tron_mainnet_with_mainnet_usdt(tron, account) -> None:
    mainnet = FakeTronGrid(base="https://api.trongrid.io")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mainnet.install(mock)  # Nile is not installed: a request there would fail the tick
        store_id = new_store(tron, account, network="mainnet")
        number, address = new_invoice(tron, store_id)
        tick(tron)
        mainnet.add(trc20_transfer(1001, address, 25_000_000, token=MAINNET_USDT))
        mainnet.add(trc20_transfer(1001, address, 25_000_000))  # Nile's USDT contract means nothing here
        mainnet.advance(20)
        tick(tron)
    invoice = view(tron, number)
    assert invoice.status.value == "settled"
    assert sorted((p.asset, p.disposition) for p in invoice.payments) == [("TRC20", "wrong_asset"),
                                                                         ("USDT", "matched")]
    assert mainnet.calls() > 0 and all(h["TRON-PRO-API-KEY"] == "test-trongrid-key" for _, _, h in mainnet.requests)


def test_heights_fall_back_to_the_two_now_blocks_when_node_info_hides_them(tron, account, chain) -> None:
    chain.hide_node_info = True
    store_id = new_store(tron, account)
    number, address = new_invoice(tron, store_id)
    tick(tron)
    chain.add(trc20_transfer(1001, address, 25_000_000))
    chain.advance(20)
    tick(tron)
    assert view(tron, number).status.value == "settled"
    assert chain.calls("walletsolidity/getnowblock") == chain.calls("wallet/getnowblock") == 2


@pytest.mark.parametrize("ranges", [True, False], ids=["block-ranges", "blocks-one-by-one"])
def test_a_node_behind_the_url_makes_the_scan_miss_nothing_and_count_nothing_twice(tron, account, chain,
                                                                                   ranges) -> None:
    """Every other answer comes from a node 25 blocks behind, whose receipts of blocks it has not solidified
    are [] like an empty block's: such blocks are read again until their solidified body agrees."""
    store_id = new_store(tron, account)
    payout, payout_address = new_invoice(tron, store_id)
    direct, direct_address = new_invoice(tron, store_id)
    tick(tron)  # cursor 981:1000
    for number in range(1001, 1006):  # an exchange pays out through its contract: receipts only
        chain.add(contract_usdt_payout(number, payout_address, 5_000_000))
    chain.add(trc20_transfer(1007, direct_address, 25_000_000))
    chain.advance(40)  # solid 1021: every payment is solidified before the watcher looks again
    chain.lag = 25  # its solidified height is 996: below every payment
    chain.no_block_ranges = not ranges  # then the empty blocks' bodies are asked one by one
    for _ in range(40):
        tick(tron)
        with tron.uow() as uow:
            position = uow.session.get(ChainCursor, ("tron", "devnet", "")).position
        if position.startswith(f"{chain.solid}:"):
            break
        chain.advance(1)
    else:
        raise AssertionError(f"the scan did not catch up: {position}")
    solid_reads = {p["num"] for path, p, _ in chain.requests if path == "walletsolidity/gettransactioninfobyblocknum"}
    assert solid_reads == set(range(982, chain.solid + 1))
    assert chain.calls("walletsolidity/getblockbynum" if not ranges else "walletsolidity/getblockbylimitnext") > 0
    paid = view(tron, payout)
    assert sorted((p.amount, p.final) for p in paid.payments) == [(5_000_000, True)] * 5
    assert paid.status.value == "settled"
    assert [(p.amount, p.final) for p in view(tron, direct).payments] == [(25_000_000, True)]
    with tron.uow() as uow:
        assert len(uow.session.execute(select(Payment.id)).all()) == 6
    assert_reconciled(tron)
