"""Solana direct mode against the fake cluster: Solana Pay references, signatures with cursors, finality."""

from __future__ import annotations

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.models import ChainCursor
from tests.reconcile_support import assert_reconciled
from tests.solana_fixtures import create_invoice, events, make_store, option, payments, run_worker, status
from tests.solana_support import OTHER_MINT, USDC_DEVNET


def test_sol_exact_paid_at_confirmed_settled_at_finalized(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key)  # 99.99 USD at 150 = 0.6666 SOL
    sol_option = option(invoice, "SOL")
    assert invoice["payment_type"] == "direct_wallet" and sol_option["address"] == wallet
    assert sol_option["reference"] and sol_option["reference"] != option(invoice, "USDC")["reference"]
    signature = buyer.pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    fake_rpc.calls.clear()
    run_worker(sol)
    number = invoice["invoice_number"]
    seen = status(sol_client, key, number)
    assert seen["lifecycle_status"] == "paid" and seen["payment_tx_id"] == signature
    assert seen["amount_received_crypto"] == 0.6666
    # One getSignaturesForAddress per scanned account (the wallet, its USDC account), one getTransaction.
    assert fake_rpc.calls["getSignaturesForAddress"] == 2 and fake_rpc.calls["getTransaction"] == 1
    fake_rpc.calls.clear()
    run_worker(sol)
    assert fake_rpc.calls["getTransaction"] == 0  # nothing new: histories are read from their cursors
    fake_rpc.ledger.finalize()
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["lifecycle_status"] == "settled" and seen["status"] == "paid"
    assert events(sol, number) == ["invoice.created", "invoice.paid", "invoice.confirmed", "invoice.settled"]
    assert payments(sol)[0].amount == 666_600_000 and payments(sol)[0].reference == sol_option["reference"]
    with sol.uow() as uow:  # the finalized signature became the wallet's cursor
        cursor = uow.session.get(ChainCursor, ("solana", "devnet", wallet))
        assert cursor is not None and cursor.position == f"|{signature}"
    assert_reconciled(sol)


def test_usdc_partial_then_top_up_watches_the_token_account(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key, amount="100.00")
    usdc = option(invoice, "USDC")
    assert usdc["amount_base_units"] == 100_000_000
    buyer.pay_token(wallet, 40_000_000, usdc["reference"])
    run_worker(sol)
    number = invoice["invoice_number"]
    assert status(sol_client, key, number)["lifecycle_status"] == "partially_paid"
    buyer.pay_token(wallet, 60_000_000, usdc["reference"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["lifecycle_status"] == "settled" and seen["paid_currency"] == "USDC"
    recorded = payments(sol, number)
    assert [p.amount for p in recorded] == [40_000_000, 60_000_000]
    # Credited to the wallet's associated token account, attributed to the wallet the quote names.
    assert {p.to_address for p in recorded} == {wallet} and all(p.asset == "USDC" for p in recorded)
    assert associated_token_address(wallet, USDC_DEVNET) in fake_rpc.ledger.accounts
    assert_reconciled(sol)


def test_overpaid_and_failed_transactions(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key)
    sol_option = option(invoice, "SOL")
    # A failed transaction (landed with an error) moves nothing: it is recorded as failed (amount 0, never
    # counted) so VentaConnect can say TRANSACTION_FAILED (issue 16).
    failed = buyer.pay_sol(wallet, 10**15, sol_option["reference"], skip_preflight=True)
    buyer.pay_sol(wallet, 10**9, sol_option["reference"])
    run_worker(sol)
    seen = status(sol_client, key, invoice["invoice_number"])
    assert seen["is_overpaid"] is True and seen["lifecycle_status"] == "paid"
    assert sorted((p.tx_id == failed, p.amount, p.disposition) for p in payments(sol)) == [
        (False, 10**9, "matched"), (True, 0, "failed")]
    assert "invoice.transaction_failed" in events(sol, invoice["invoice_number"])


def test_unreferenced_transfer_to_the_shared_wallet_is_kept_unmatched(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    create_invoice(sol_client, key, external_invoice_id="a")
    create_invoice(sol_client, key, external_invoice_id="b")
    buyer.pay_sol(wallet, 10**8)  # no reference: cannot be attributed on a shared wallet
    run_worker(sol)
    [payment] = payments(sol)
    assert payment.disposition == "unmatched" and payment.invoice_id is None


def test_late_payment_sets_paid_late(sol, sol_client, fake_rpc, buyer, clock) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key, expiry_hours=1)
    number = invoice["invoice_number"]
    clock.advance(hours=2)
    run_worker(sol)
    assert status(sol_client, key, number)["status"] == "expired"
    sol_option = option(invoice, "SOL")
    buyer.at(clock.now()).pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["is_paid_late"] is True and seen["lifecycle_status"] == "paid"
    assert payments(sol)[0].disposition == "late"


def test_wrong_mint_and_sol_against_usdc_are_recorded_and_reported(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol, assets=("USDC",))
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    reference = option(invoice, "USDC")["reference"]
    buyer.pay_token(wallet, 99_990_000, reference, mint=OTHER_MINT)  # same amount, another token
    buyer.pay_sol(wallet, 10**9, reference)  # SOL against the USDC quote
    run_worker(sol)
    recorded = payments(sol, number)
    assert sorted((p.asset, p.disposition) for p in recorded) == [("SOL", "wrong_asset"), ("SPL", "wrong_asset")]
    assert status(sol_client, key, number)["lifecycle_status"] == "pending"
    assert events(sol, number).count("invoice.wrong_asset_payment") == 2


def test_transfer_dropped_before_finality_is_taken_back_out(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key)
    number = invoice["invoice_number"]
    sol_option = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    run_worker(sol)
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    fake_rpc.ledger.drop(signature)
    chain, now = sol.chains["solana"], [0.0]
    chain._now = lambda: now[0]
    run_worker(sol)  # unknown to the cluster, but not yet for longer than a blockhash lives
    assert status(sol_client, key, number)["lifecycle_status"] == "paid"
    now[0] += chain.drop_after
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["lifecycle_status"] == "pending" and seen["payment_tx_id"] is None
    assert seen["amount_received_crypto"] == 0
    assert events(sol, number)[-2:] == ["invoice.payment_dropped", "invoice.reopened"]
    assert payments(sol)[0].disposition == "dropped"
    # The buyer pays again; the new transfer counts, the dropped one never does.
    again = buyer.pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    seen = status(sol_client, key, number)
    assert seen["lifecycle_status"] == "settled" and seen["payment_tx_id"] == again


def test_full_pages_are_followed_with_before_down_to_the_cursor(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol, assets=("SOL",))
    first = create_invoice(sol_client, key, external_invoice_id="first")
    buyer.pay_sol(wallet, option(first, "SOL")["amount_base_units"], option(first, "SOL")["reference"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)  # the wallet's cursor is now that finalized payment
    chain = sol.chains["solana"]
    chain.page_size = 5  # the server's page is 1,000; five keeps the test small
    invoice = create_invoice(sol_client, key, external_invoice_id="second")
    sol_option = option(invoice, "SOL")
    paid = buyer.pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    for _ in range(11):  # busy wallet: other transfers land after the payment
        buyer.pay_sol(wallet, 1_000_000)
    fake_rpc.calls.clear()
    run_worker(sol)
    # 12 new signatures: pages of 5, 5 and 2 (the last one short), each `before` the previous page's end.
    assert fake_rpc.calls["getSignaturesForAddress"] == 3
    assert status(sol_client, key, invoice["invoice_number"])["payment_tx_id"] == paid
    assert len(payments(sol)) == 13  # the earlier payment, this one, and 11 unmatched transfers, once each


def test_mainnet_uses_its_own_mint_and_explorer_cluster(sol, sol_client, fake_rpc, buyer) -> None:
    from gateway_core.contracts.voltxt_payloads import explorer_urls
    from gateway_core.invoices.manage import public_invoice

    mainnet_usdc = sol.settings.usdc_mint_mainnet
    fake_rpc.ledger.mint_decimals[mainnet_usdc] = 6
    fake_rpc.ledger.give_tokens(buyer.address, mainnet_usdc, 500_000_000)
    links = {}
    for network in ("mainnet", "devnet"):
        key, wallet = make_store(sol, assets=("USDC",), network=network)
        invoice = create_invoice(sol_client, key, amount="100.00")
        mint = mainnet_usdc if network == "mainnet" else USDC_DEVNET
        signature = buyer.pay_token(wallet, 100_000_000, option(invoice, "USDC")["reference"], mint=mint)
        run_worker(sol)
        assert status(sol_client, key, invoice["invoice_number"])["payment_tx_id"] == signature
        with sol.uow() as uow:
            links[network] = explorer_urls(public_invoice(uow, invoice["invoice_number"], sol.clock))["payment_tx"]
        links[network + "_sig"] = signature
    assert links["mainnet"] == f"https://explorer.solana.com/tx/{links['mainnet_sig']}"
    assert links["devnet"] == f"https://explorer.solana.com/tx/{links['devnet_sig']}?cluster=devnet"


def test_finality_comes_from_the_listing_with_no_status_call(sol, sol_client, fake_rpc, buyer) -> None:
    from tests.conftest import tick

    key, wallet = make_store(sol, assets=("SOL",))
    first = create_invoice(sol_client, key, external_invoice_id="first")
    second = create_invoice(sol_client, key, external_invoice_id="second")
    one = buyer.pay_sol(wallet, option(first, "SOL")["amount_base_units"], option(first, "SOL")["reference"])
    two = buyer.pay_sol(wallet, option(second, "SOL")["amount_base_units"], option(second, "SOL")["reference"])

    def cursor() -> str | None:
        with sol.uow() as uow:
            row = uow.session.get(ChainCursor, ("solana", "devnet", wallet))
            return row.position if row else None

    fake_rpc.calls.clear()
    tick(sol)  # the watch job alone: one listing, one read per new transaction, nothing else
    assert dict(fake_rpc.calls) == {"getSignaturesForAddress": 1, "getTransaction": 2}
    assert cursor() is None  # nothing finalized yet
    fake_rpc.ledger.finalize(two)  # the newer one first: the older one still holds the cursor back
    fake_rpc.calls.clear()
    tick(sol)
    assert dict(fake_rpc.calls) == {"getSignaturesForAddress": 1}  # both listed again, neither read again
    assert status(sol_client, key, second["invoice_number"])["lifecycle_status"] == "settled"
    assert status(sol_client, key, first["invoice_number"])["lifecycle_status"] == "paid"
    assert cursor() is None
    fake_rpc.ledger.finalize(one)
    tick(sol)
    assert status(sol_client, key, first["invoice_number"])["lifecycle_status"] == "settled"
    assert cursor() == f"|{two}"  # every signature up to the newest is final: the cursor passes them all
    fake_rpc.calls.clear()
    tick(sol)
    assert dict(fake_rpc.calls) == {"getSignaturesForAddress": 1}
    assert "getSignatureStatuses" not in fake_rpc.calls


def test_pending_signature_outside_a_fresh_listing_is_asked_of_the_cluster(sol, sol_client, fake_rpc,
                                                                           buyer) -> None:
    from gateway_core.adapters.chains.solana import LISTING_FRESH

    key, wallet = make_store(sol, assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    buyer.pay_sol(wallet, option(invoice, "SOL")["amount_base_units"], option(invoice, "SOL")["reference"])
    chain, now = sol.chains["solana"], [0.0]
    chain._now = lambda: now[0]
    run_worker(sol)
    fake_rpc.calls.clear()
    sol.solana.follow_payments(sol.uow, sol.clock)  # the deposit job: the tick's listing answered already
    assert fake_rpc.calls["getSignatureStatuses"] == 0
    now[0] += LISTING_FRESH + 1  # the watcher stalled: its listing no longer answers
    fake_rpc.ledger.finalize()
    sol.solana.follow_payments(sol.uow, sol.clock)
    assert fake_rpc.calls["getSignatureStatuses"] == 1
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "settled"


def test_confirmations_count_up_from_the_slots_listed(sol, sol_client, fake_rpc, buyer) -> None:
    from tests.conftest import tick

    key, wallet = make_store(sol, assets=("SOL",))
    invoice = create_invoice(sol_client, key)
    buyer.pay_sol(wallet, option(invoice, "SOL")["amount_base_units"], option(invoice, "SOL")["reference"])
    tick(sol)
    assert [p.confirmations for p in payments(sol)] == [1]
    for _ in range(5):  # later transfers to the same wallet: the newest slot listed moves on
        buyer.pay_sol(wallet, 1_000_000)
    tick(sol)
    assert payments(sol)[0].confirmations == 5 and payments(sol)[0].final is False
    fake_rpc.ledger.finalize()
    tick(sol)
    assert payments(sol)[0].confirmations == 32 and payments(sol)[0].final is True


def test_reconciliation_reports_a_payment_the_records_lack(sol, sol_client, fake_rpc, buyer) -> None:
    from sqlalchemy import delete

    from gateway_core.adapters.models import Payment
    from gateway_core.payments.reconcile import Difference, reconcile

    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key)
    sol_option = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, sol_option["amount_base_units"], sol_option["reference"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    with sol.uow() as uow:  # as if the watcher had never recorded it
        uow.session.execute(delete(Payment).where(Payment.tx_id == signature))
    [check] = reconcile(sol.uow, sol.chains, sol.clock, sol.late_window)
    assert (check.address, check.ok, check.on_chain, check.recorded) == (
        wallet, False, {"SOL": sol_option["amount_base_units"]}, {})
    assert check.differences == (Difference(signature, "SOL", sol_option["amount_base_units"], 0),)
