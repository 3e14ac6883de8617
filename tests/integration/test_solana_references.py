"""Solana credits per transfer: several invoices in one transaction, references among other extra keys,
v0 messages with lookup tables, tokens moved inside a CPI, and balance changes no transfer explains."""

from __future__ import annotations

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_tx import sol_transfer
from tests.reconcile_support import assert_reconciled
from tests.solana_fixtures import create_invoice, make_store, option, payments, run_worker, status
from tests.solana_support import (
    USDC_DEVNET,
    routed_token_payment,
    token_transfer,
    unparsed_lamports,
    with_reference,
)

# A read-only key that sorts before any real reference (the all-ones key is the system program's; this is 1…2).
EARLY_KEY = str(Pubkey(bytes(31) + b"\x01"))


def test_one_transaction_pays_two_invoices_each_with_its_own_amount(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    first = create_invoice(sol_client, key, external_invoice_id="a", amount="15.00")  # 0.1 SOL at 150
    second = create_invoice(sol_client, key, external_invoice_id="b", amount="45.00")  # 0.3 SOL
    a, b = option(first, "SOL"), option(second, "SOL")
    assert (a["amount_base_units"], b["amount_base_units"]) == (100_000_000, 300_000_000)
    payer = buyer.key.pubkey()
    signature = buyer.send([with_reference(sol_transfer(payer, wallet, 100_000_000), a["reference"]),
                            with_reference(sol_transfer(payer, wallet, 300_000_000), b["reference"])])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    for invoice, quote in ((first, a), (second, b)):
        seen = status(sol_client, key, invoice["invoice_number"])
        assert seen["lifecycle_status"] == "settled" and seen["payment_tx_id"] == signature
        [paid] = payments(sol, invoice["invoice_number"])
        assert (paid.amount, paid.reference, paid.disposition) == (quote["amount_base_units"], quote["reference"],
                                                                   "matched")
    assert len(payments(sol)) == 2
    assert_reconciled(sol)


def test_reference_after_other_read_only_keys_in_a_v0_message_with_lookup_tables(sol, sol_client, fake_rpc,
                                                                                  buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key, amount="15.00")
    other = create_invoice(sol_client, key, external_invoice_id="other")
    quote = option(invoice, "SOL")
    noise = str(Keypair().pubkey())
    # The wallet and the reference are loaded from a lookup table; a decoy that sorts first is a static key.
    table = fake_rpc.ledger.lookup_table([wallet, quote["reference"], noise])
    transfer = with_reference(sol_transfer(buyer.key.pubkey(), wallet, 100_000_000), quote["reference"],
                              EARLY_KEY, noise)
    signature = buyer.send_v0([transfer], {table: fake_rpc.ledger.tables[table]})
    assert fake_rpc.ledger.txs[signature].version == 0 and fake_rpc.ledger.txs[signature].loaded[0] == [wallet]
    run_worker(sol)
    seen = status(sol_client, key, invoice["invoice_number"])
    assert seen["lifecycle_status"] == "paid" and seen["payment_tx_id"] == signature
    assert [(p.amount, p.reference) for p in payments(sol, invoice["invoice_number"])] == [
        (100_000_000, quote["reference"])]
    assert payments(sol, other["invoice_number"]) == []
    fake_rpc.ledger.finalize()
    run_worker(sol)
    assert_reconciled(sol)


def test_usdc_by_plain_transfer_and_inside_a_cpi_matched_by_their_references(sol, sol_client, fake_rpc,
                                                                              buyer) -> None:
    key, wallet = make_store(sol)
    plain = create_invoice(sol_client, key, external_invoice_id="plain", amount="10.00")
    routed = create_invoice(sol_client, key, external_invoice_id="routed", amount="20.00")
    source = associated_token_address(buyer.address, USDC_DEVNET)
    merchant = associated_token_address(wallet, USDC_DEVNET)
    fake_rpc.ledger.give_tokens(wallet, USDC_DEVNET, 0)  # the merchant's token account exists
    owner = buyer.key.pubkey()
    # One transaction: an SPL `transfer` naming its reference, and a route whose reference is on the outer
    # instruction while the tokens move in an inner `transfer` (as an aggregator's swap-and-pay does).
    signature = buyer.send([
        with_reference(token_transfer(source, merchant, owner, 10_000_000), option(plain, "USDC")["reference"]),
        routed_token_payment(source, merchant, owner, 20_000_000, EARLY_KEY, option(routed, "USDC")["reference"]),
    ])
    assert fake_rpc.ledger.txs[signature].instructions[1].inner  # the route's transfer is an inner instruction
    run_worker(sol)
    for invoice, amount in ((plain, 10_000_000), (routed, 20_000_000)):
        seen = status(sol_client, key, invoice["invoice_number"])
        assert seen["lifecycle_status"] == "paid" and seen["paid_currency"] == "USDC"
        assert [(p.amount, p.asset, p.to_address) for p in payments(sol, invoice["invoice_number"])] == [
            (amount, "USDC", wallet)]
    fake_rpc.ledger.finalize()
    run_worker(sol)
    assert_reconciled(sol)


def test_a_balance_change_no_transfer_explains_is_recorded_not_dropped(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key, amount="15.00")
    create_invoice(sol_client, key, external_invoice_id="other")
    quote = option(invoice, "SOL")
    # 0.1 SOL by a referenced transfer, 0.05 SOL more moved by a program with no transfer instruction.
    signature = buyer.send([with_reference(sol_transfer(buyer.key.pubkey(), wallet, 100_000_000), quote["reference"]),
                            unparsed_lamports(buyer.key.pubkey(), wallet, 50_000_000)])
    run_worker(sol)
    assert status(sol_client, key, invoice["invoice_number"])["lifecycle_status"] == "paid"
    recorded = sorted((p.amount, p.disposition, p.invoice_id is not None) for p in payments(sol)
                      if p.tx_id == signature)
    # The rest is kept as a payment of its own: on a shared wallet it cannot be attributed, so it is unmatched.
    assert recorded == [(50_000_000, "unmatched", False), (100_000_000, "matched", True)]
    fake_rpc.ledger.finalize()
    run_worker(sol)
    assert_reconciled(sol)


def test_reconcile_command_reports_differences_with_a_failing_status(sol, sol_client, sol_settings, clock,
                                                                      fake_rpc, buyer) -> None:
    import json

    from sqlalchemy import delete, select

    from bridge.cli import main
    from gateway_core.adapters.models import Payment, Store
    from tests.conftest import running_app

    key, wallet = make_store(sol)
    other_key, other_wallet = make_store(sol)  # the newest store
    invoice = create_invoice(sol_client, key, amount="15.00")
    create_invoice(sol_client, other_key, amount="15.00")
    quote = option(invoice, "SOL")
    signature = buyer.pay_sol(wallet, quote["amount_base_units"], quote["reference"])
    run_worker(sol)
    fake_rpc.ledger.finalize()
    run_worker(sol)
    with running_app(sol_settings, clock) as app:
        runner = app.test_cli_runner()
        clean = runner.invoke(main, ["reconcile"], catch_exceptions=False)
        assert clean.exit_code == 0, clean.output
        assert wallet in clean.output and other_wallet in clean.output and "no difference" in clean.output
        with sol.uow() as uow:
            uow.session.execute(delete(Payment).where(Payment.tx_id == signature))
        found = runner.invoke(main, ["reconcile", "--json"], catch_exceptions=False)
        assert found.exit_code == 1
        report = json.loads(found.output)
        assert report["differences"] == 1 and report["accounts_checked"] == 2
        [account] = [a for a in report["accounts"] if a["differences"]]
        assert account["address"] == wallet and account["chain"] == "solana"
        assert account["differences"] == [{"tx_id": signature, "asset": "SOL", "on_chain": "100000000",
                                           "recorded": "0"}]
        # Only the other store's accounts: nothing differs there.
        with sol.uow() as uow:
            other_store = uow.session.execute(select(Store.id).order_by(Store.id.desc())).scalars().first()
        scoped = runner.invoke(main, ["reconcile", "--store", str(other_store)], catch_exceptions=False)
        assert scoped.exit_code == 0 and wallet not in scoped.output and other_wallet in scoped.output
        unknown = runner.invoke(main, ["reconcile", "--store", "no such store"])
        assert unknown.exit_code != 0 and "not found" in unknown.output
