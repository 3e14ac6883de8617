"""Solana deposit mode: derived keys, the token account opened at creation, balance polling, the sweep."""

from __future__ import annotations

import base64

from solders.transaction import Transaction
from sqlalchemy import select

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.chains.solana_tx import TOKEN_ACCOUNT_RENT_LAMPORTS
from gateway_core.adapters.models import SolanaDeposit, SolanaSweep
from gateway_core.contracts.voltxt_payloads import explorer_urls, payment_breakdown
from gateway_core.invoices.manage import public_invoice
from tests.conftest import invoice_body, post_json, tick
from tests.reconcile_support import assert_reconciled
from tests.solana_fixtures import CREATE, create_invoice, events, make_store, option, payments, run_worker, status
from tests.solana_support import SEED_HEX, USDC_DEVNET

KEYS = GatewayKeys(seed_bytes(SEED_HEX))


def _deposit(sol, number: str) -> SolanaDeposit:
    with sol.uow() as uow:
        view = public_invoice(uow, number, sol.clock)
        row = uow.session.execute(select(SolanaDeposit).where(SolanaDeposit.owner == view.quotes[0].address)
                                  ).scalar_one()
        uow.session.expunge(row)
        return row


def test_creation_derives_a_key_and_opens_the_usdc_account(sol, sol_client, fake_rpc, fee_payer) -> None:
    key, _ = make_store(sol, mode="deposit")
    before = fake_rpc.ledger.accounts[fee_payer].lamports
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    deposit = _deposit(sol, number)
    owner = str(KEYS.deposit(deposit.id).pubkey())  # re-derivable from the seed alone
    assert invoice["payment_type"] == "pda_based"
    assert option(invoice, "SOL")["address"] == owner == option(invoice, "USDC")["address"] == deposit.owner
    ata = associated_token_address(owner, USDC_DEVNET)
    assert deposit.token_account == ata and fake_rpc.ledger.accounts[ata].owner == owner
    assert fake_rpc.ledger.accounts[fee_payer].lamports == before - TOKEN_ACCOUNT_RENT_LAMPORTS - 5000
    assert deposit.init_tx_id in fake_rpc.sent
    second = create_invoice(sol_client, key, external_invoice_id="order_2")
    assert option(second, "SOL")["address"] != owner  # one key per invoice
    with sol.uow() as uow:
        view = public_invoice(uow, number, sol.clock)
        breakdown = payment_breakdown(view)
        assert breakdown["type"] == "pda_based" and breakdown["rent_lamports"] == deposit.rent_lamports
        urls = explorer_urls(view)
        assert urls["deposit_address"] == f"https://explorer.solana.com/address/{owner}?cluster=devnet"


def test_vault_initialization_failed_when_the_fee_payer_cannot_pay(sol, sol_client, fake_rpc) -> None:
    key, _ = make_store(sol, mode="deposit")  # the fee payer was never funded
    response = post_json(sol_client, CREATE, invoice_body(key))
    assert response.status_code == 502
    assert response.get_json()["error_code"] == "VAULT_INITIALIZATION_FAILED"
    with sol.uow() as uow:  # nothing half-created
        assert uow.session.execute(select(SolanaDeposit)).first() is None


def test_usdc_partial_top_up_then_sweep_minus_fee_and_rent_recovered(sol, sol_client, fake_rpc, fee_payer,
                                                                      buyer) -> None:
    key, wallet = make_store(sol, mode="deposit", fee="1")
    invoice = create_invoice(sol_client, key, amount="100.00")
    number = invoice["invoice_number"]
    owner = option(invoice, "USDC")["address"]
    buyer.pay_token(owner, 30_000_000)
    fake_rpc.calls.clear()
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "partially_paid"
    # Balances first (one call for the owner and its token account), then only the changed account's history.
    assert fake_rpc.calls["getMultipleAccounts"] == 1
    # One getTransaction per new transaction on it: the account's opening and the payment.
    assert fake_rpc.calls["getSignaturesForAddress"] == 1 and fake_rpc.calls["getTransaction"] == 2
    fake_rpc.calls.clear()
    run_worker(sol)
    assert fake_rpc.calls["getSignaturesForAddress"] == 0  # no balance moved: no history read
    buyer.pay_token(owner, 70_000_000)
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    fee_before = fake_rpc.ledger.accounts[fee_payer].lamports
    fake_rpc.ledger.finalize()
    run_worker(sol)  # confirmed; the sweep is recorded and sent
    assert status(sol_client, key, number)["lifecycle_status"] == "confirmed"
    with sol.uow() as uow:
        sweep = uow.session.execute(select(SolanaSweep)).scalar_one()
        assert sweep.status == "sent" and sweep.token_amount == 99_000_000 and sweep.fee_amount == 1_000_000
        raw = sweep.raw_tx
    # The fake decoded, verified and executed it: check what it did.
    tx = Transaction.from_bytes(base64.b64decode(raw))
    assert str(tx.signatures[0]) in fake_rpc.sent and tx.message.account_keys[0] == KEYS.fee_payer().pubkey()
    merchant_ata = associated_token_address(wallet, USDC_DEVNET)
    assert fake_rpc.ledger.accounts[merchant_ata].amount == 99_000_000
    assert fake_rpc.ledger.accounts[associated_token_address(fee_payer, USDC_DEVNET)].amount == 1_000_000
    assert associated_token_address(owner, USDC_DEVNET) not in fake_rpc.ledger.accounts  # closed
    fake_rpc.ledger.finalize()
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["status"] == "auto_processed" and seen["lifecycle_status"] == "settled"
    assert seen["auto_process_tx_id"] == str(tx.signatures[0])
    # Rent came back to the fee payer (it paid two new token accounts' rent and fees in the sweep).
    assert fake_rpc.ledger.accounts[fee_payer].lamports == fee_before + TOKEN_ACCOUNT_RENT_LAMPORTS \
        - 2 * TOKEN_ACCOUNT_RENT_LAMPORTS - 10_000
    assert events(sol, number)[-2:] == ["invoice.sweep_sent", "invoice.settled"]
    run_worker(sol)
    with sol.uow() as uow:
        assert len(uow.session.execute(select(SolanaSweep)).all()) == 1
    assert_reconciled(sol)


def test_sol_overpaid_swept_whole(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, wallet = make_store(sol, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    owner = option(invoice, "SOL")["address"]
    buyer.pay_sol(owner, 10**9)
    run_worker(sol)
    assert status(sol_client, key, number)["is_overpaid"] is True
    fake_rpc.ledger.finalize()
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "settled"
    assert fake_rpc.ledger.accounts[wallet].lamports == 10**9


def test_sol_sent_to_a_usdc_deposit_is_wrong_asset(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, _ = make_store(sol, mode="deposit", assets=("USDC",))
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    buyer.pay_sol(option(invoice, "USDC")["address"], 10**9)
    run_worker(sol)
    [payment] = payments(sol, number)
    assert (payment.asset, payment.disposition) == ("SOL", "wrong_asset")
    assert "invoice.wrong_asset_payment" in events(sol, number)
    assert status(sol_client, key, number)["lifecycle_status"] == "pending"


def test_late_and_dropped_deposit_payments(sol, sol_client, fake_rpc, fee_payer, buyer, clock) -> None:
    key, _ = make_store(sol, mode="deposit")
    invoice = create_invoice(sol_client, key, expiry_hours=1, amount="100.00")
    number = invoice["invoice_number"]
    owner = option(invoice, "USDC")["address"]
    signature = buyer.pay_token(owner, 100_000_000)
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    fake_rpc.ledger.drop(signature)
    sol.chains["solana"].drop_after = 0.0  # the wait for a blockhash's lifetime is shown in direct mode
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "pending"
    assert "invoice.payment_dropped" in events(sol, number)
    clock.advance(hours=2)
    run_worker(sol)
    assert status(sol_client, key, number)["status"] == "expired"
    buyer.at(clock.now()).pay_token(owner, 100_000_000)
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["is_paid_late"] is True and seen["lifecycle_status"] == "paid"


def test_sweep_recorded_but_not_sent_is_resent_never_rebuilt(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, wallet = make_store(sol, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    owner = option(invoice, "SOL")["address"]
    buyer.pay_sol(owner, option(invoice, "SOL")["amount_base_units"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    tick(sol)  # confirmed, the sweeper has not run yet
    sweeps_before = len(fake_rpc.sent)
    # The send is lost (as if the worker crashed right after recording it): the endpoint fails it.
    fake_rpc.fail("sendTransaction", "500", "500")
    sol.solana.sweep_due(sol.uow, sol.clock)
    with sol.uow() as uow:
        sweep = uow.session.execute(select(SolanaSweep)).scalar_one()
        first = sweep.tx_id
    assert first not in fake_rpc.ledger.txs
    sol.solana.sweep_due(sol.uow, sol.clock)  # finds the recorded sweep, re-sends the same bytes
    assert first in fake_rpc.ledger.txs and len(fake_rpc.sent) == sweeps_before + 1
    sol.solana.sweep_due(sol.uow, sol.clock)
    fake_rpc.ledger.finalize()
    sol.solana.sweep_due(sol.uow, sol.clock)
    assert status(sol_client, key, invoice["invoice_number"])["auto_process_tx_id"] == first
    with sol.uow() as uow:
        assert len(uow.session.execute(select(SolanaSweep)).all()) == 1
    assert fake_rpc.ledger.accounts[wallet].lamports == option(invoice, "SOL")["amount_base_units"]


def test_expired_unsent_sweep_is_rebuilt_once(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, wallet = make_store(sol, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    owner = option(invoice, "SOL")["address"]
    amount = option(invoice, "SOL")["amount_base_units"]
    buyer.pay_sol(owner, amount)
    run_worker(sol)
    fake_rpc.ledger.finalize()
    tick(sol)
    fake_rpc.fail("sendTransaction", "500", "500")
    sol.solana.sweep_due(sol.uow, sol.clock)  # recorded, never arrived
    fake_rpc.ledger.advance(200)  # its blockhash expires: it can never land now
    sol.solana.sweep_due(sol.uow, sol.clock)  # marks it expired
    sol.solana.sweep_due(sol.uow, sol.clock)  # builds attempt 2 from fresh balances and sends it
    fake_rpc.ledger.finalize()
    sol.solana.sweep_due(sol.uow, sol.clock)
    with sol.uow() as uow:
        rows = uow.session.execute(select(SolanaSweep.attempt, SolanaSweep.status).order_by(SolanaSweep.attempt)).all()
    assert [tuple(r) for r in rows] == [(1, "expired"), (2, "done")]
    assert fake_rpc.ledger.accounts[wallet].lamports == amount  # paid out exactly once
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "settled"


def test_low_fee_payer_balance_alerts_the_operator(sol, sol_client, fake_rpc, buyer, caplog) -> None:
    key, _ = make_store(sol, mode="deposit", assets=("SOL",))
    create_invoice(sol_client, key)  # SOL only: no token account to pay for
    run_worker(sol)
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == "fee_payer_low_balance"]
    assert alerts and alerts[0].levelname == "ERROR" and alerts[0].lamports == 0


def test_failed_sweep_is_retried(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key)  # SOL only: the fee payer is not needed until the sweep
    amount = option(invoice, "SOL")["amount_base_units"]
    buyer.pay_sol(option(invoice, "SOL")["address"], amount)
    run_worker(sol)
    fake_rpc.ledger.finalize()
    tick(sol)
    sol.solana.sweep_due(sol.uow, sol.clock)  # refused: the fee payer cannot pay the fee
    assert fake_rpc.sent == [] and wallet not in fake_rpc.ledger.accounts
    fake_rpc.ledger.fund(str(KEYS.fee_payer().pubkey()), 10**9)
    fake_rpc.ledger.advance(200)
    for _ in range(3):  # expired, rebuilt and sent, then followed to finality
        sol.solana.sweep_due(sol.uow, sol.clock)
        fake_rpc.ledger.finalize()
    assert fake_rpc.ledger.accounts[wallet].lamports == amount
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "settled"


def test_other_mint_into_the_deposit_token_account_never_counts(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    from gateway_core.adapters.chains.solana_tx import transfer_checked
    from tests.solana_support import OTHER_MINT, with_reference

    key, _ = make_store(sol, mode="deposit", assets=("USDC",))
    invoice = create_invoice(sol_client, key)
    owner = option(invoice, "USDC")["address"]
    source = associated_token_address(buyer.address, OTHER_MINT)
    wrong = transfer_checked(source, OTHER_MINT, associated_token_address(owner, USDC_DEVNET), buyer.key.pubkey(),
                             99_990_000)
    buyer.send([with_reference(wrong, None)], skip_preflight=True)  # lands failed: the program checks the mint
    run_worker(sol)
    assert payments(sol) == [] and status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "pending"


def test_two_sweepers_at_once_send_one_sweep(sol, sol_settings, sol_client, fake_rpc, fee_payer, buyer, clock) -> None:
    import threading

    from gateway_core.bootstrap import build_services

    key, wallet = make_store(sol, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    amount = option(invoice, "SOL")["amount_base_units"]
    buyer.pay_sol(option(invoice, "SOL")["address"], amount)
    run_worker(sol)
    fake_rpc.ledger.finalize()
    tick(sol)
    other = build_services(sol_settings, clock=clock)  # a second worker process's services
    barrier = threading.Barrier(2)

    def sweep(svc) -> None:
        barrier.wait()
        assert svc.solana is not None
        svc.solana.sweep_due(svc.uow, svc.clock)

    threads = [threading.Thread(target=sweep, args=(svc,)) for svc in (sol, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sol.uow() as uow:
        assert len(uow.session.execute(select(SolanaSweep)).all()) == 1
    assert len({s for s in fake_rpc.sent}) == 1
    fake_rpc.ledger.finalize()
    sol.solana.sweep_due(sol.uow, sol.clock)
    other.solana.sweep_due(other.uow, other.clock)
    assert fake_rpc.ledger.accounts[wallet].lamports == amount
    if other.engine is not None:
        other.engine.dispose()


def _pick(client, number: str, asset: str) -> None:
    from tests.conftest import post_json as post

    response = post(client, f"/pay/{number}/asset", {"asset": asset})
    assert response.status_code == 200 and response.get_json()["chosen_asset"] == asset


def test_only_the_picked_assets_account_is_polled_every_tick(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, _ = make_store(sol, mode="deposit")
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    owner = option(invoice, "SOL")["address"]
    ata = associated_token_address(owner, USDC_DEVNET)
    chain, now = sol.chains["solana"], [0.0]
    chain._now = lambda: now[0]
    tick(sol)
    fake_rpc.polled.clear()
    tick(sol)
    assert fake_rpc.polled == [owner, ata]  # no pick yet: both assets' accounts, every tick
    _pick(sol_client, number, "USDC")
    fake_rpc.polled.clear()
    tick(sol)
    assert fake_rpc.polled == [ata]
    # The buyer picked USDC but pays in SOL: that account is polled every `unchosen_every` seconds.
    buyer.pay_sol(owner, option(invoice, "SOL")["amount_base_units"])
    now[0] += chain.unchosen_every - 1
    tick(sol)
    assert payments(sol) == [] and status(sol_client, key, number)["lifecycle_status"] == "pending"
    fake_rpc.polled.clear()
    now[0] += 1
    tick(sol)
    assert fake_rpc.polled == [owner, ata]
    [payment] = payments(sol, number)
    assert (payment.asset, payment.disposition) == ("SOL", "matched")
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    fake_rpc.polled.clear()
    tick(sol)
    assert fake_rpc.polled == [ata]  # the next pass is `unchosen_every` away again


def test_unpicked_account_pass_is_redone_after_an_outage(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    key, _ = make_store(sol, mode="deposit")
    invoice = create_invoice(sol_client, key)
    owner = option(invoice, "SOL")["address"]
    _pick(sol_client, invoice["invoice_number"], "SOL")
    chain, now = sol.chains["solana"], [0.0]
    chain._now = lambda: now[0]
    tick(sol)  # a fresh process polls every account once
    buyer.pay_token(owner, 99_990_000)
    now[0] += chain.unchosen_every
    fake_rpc.fail("getMultipleAccounts", "500", "500")
    tick(sol)  # the pass fails
    now[0] += 1  # past the (zero) backoff: the failed pass is due again, not `unchosen_every` later
    fake_rpc.polled.clear()
    tick(sol)
    assert associated_token_address(owner, USDC_DEVNET) in fake_rpc.polled
    assert [p.asset for p in payments(sol)] == ["USDC"]


def test_deposit_finality_is_followed_by_the_deposit_job_not_the_tick(sol, sol_client, fake_rpc, fee_payer,
                                                                      buyer) -> None:
    key, _ = make_store(sol, mode="deposit", assets=("USDC",))
    numbers = []
    for i in range(3):
        invoice = create_invoice(sol_client, key, external_invoice_id=f"o{i}", amount="10.00")
        buyer.pay_token(option(invoice, "USDC")["address"], 10_000_000)
        numbers.append(invoice["invoice_number"])
    tick(sol)
    assert {status(sol_client, key, n)["lifecycle_status"] for n in numbers} == {"paid"}
    fake_rpc.ledger.finalize()
    fake_rpc.calls.clear()
    tick(sol)  # no balance moved: one poll, and no status call on the watcher's path
    assert dict(fake_rpc.calls) == {"getMultipleAccounts": 1}
    assert {status(sol_client, key, n)["lifecycle_status"] for n in numbers} == {"paid"}
    fake_rpc.calls.clear()
    assert sol.solana.follow_payments(sol.uow, sol.clock) == 3
    assert fake_rpc.calls["getSignatureStatuses"] == 1  # one batch for every payment in flight
    assert {status(sol_client, key, n)["lifecycle_status"] for n in numbers} == {"confirmed"}


def test_listing_behind_the_balance_loses_nothing(sol, sol_client, fake_rpc, fee_payer, buyer) -> None:
    """The balance moved, the listing node of the same endpoint has not seen the payment yet: the account is
    read again until it has, the payment is recorded once, followed to finality and swept once."""
    key, wallet = make_store(sol, mode="deposit", assets=("USDC",))
    invoice = create_invoice(sol_client, key, amount="100.00")
    number = invoice["invoice_number"]
    owner = option(invoice, "USDC")["address"]
    first = buyer.pay_token(owner, 40_000_000)
    fake_rpc.lag("getSignaturesForAddress", calls=1)  # one listing from a node one slot behind
    run_worker(sol)
    assert payments(sol, number) == [] and status(sol_client, key, number)["lifecycle_status"] == "pending"
    run_worker(sol)  # the balance still differs from the cursor's: listed again, now with the payment
    assert [p.tx_id for p in payments(sol, number)] == [first]
    second = buyer.pay_token(owner, 60_000_000)
    fake_rpc.lag("getSignaturesForAddress", calls=3)  # several listings in a row behind
    for _ in range(3):
        run_worker(sol)
        assert [p.tx_id for p in payments(sol, number)] == [first]
    run_worker(sol)
    assert [p.tx_id for p in payments(sol, number)] == [first, second]
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    fake_rpc.ledger.finalize()
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "settled"
    assert fake_rpc.ledger.accounts[associated_token_address(wallet, USDC_DEVNET)].amount == 100_000_000
    with sol.uow() as uow:
        assert len(uow.session.execute(select(SolanaSweep)).all()) == 1
    assert [(p.tx_id, p.amount, p.final) for p in payments(sol, number)] == [
        (first, 40_000_000, True), (second, 60_000_000, True)]
    assert_reconciled(sol)
