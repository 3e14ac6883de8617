"""RPC outages: the watcher backs off, then catches up from its persisted cursors, counting each payment once."""

from __future__ import annotations

import pytest

from tests.solana_fixtures import create_invoice, make_store, option, payments, run_worker, status


@pytest.mark.parametrize("fault", ["timeout", "429", "500", "malformed"])
def test_outage_backs_off_then_catches_up_once(sol, sol_client, fake_rpc, fee_payer, buyer, fault) -> None:
    direct_key, wallet = make_store(sol)
    deposit_key, _ = make_store(sol, mode="deposit")
    direct = create_invoice(sol_client, direct_key)
    deposit = create_invoice(sol_client, deposit_key, amount="100.00")
    first = buyer.pay_sol(wallet, 300_000_000, option(direct, "SOL")["reference"])
    run_worker(sol)
    assert [p.tx_id for p in payments(sol)] == [first]
    chain = sol.chains["solana"]
    now = [1000.0]
    chain._now, chain._backoff = (lambda: now[0]), 30.0
    for rpc in chain.rpcs.values():
        rpc.timeout = 0.3  # a "timeout" answer comes a second late: always after this, however busy the machine
    # The endpoint goes down; payments keep landing on the cluster meanwhile.
    fake_rpc.outage = fault
    second = buyer.pay_sol(wallet, option(direct, "SOL")["amount_base_units"] - 300_000_000,
                           option(direct, "SOL")["reference"])
    buyer.pay_token(option(deposit, "USDC")["address"], 100_000_000)
    run_worker(sol)
    assert len(payments(sol)) == 1
    fake_rpc.calls.clear()
    run_worker(sol)  # inside the backoff window: the endpoint is left alone
    assert sum(fake_rpc.calls.values()) == 0
    fake_rpc.outage = None
    now[0] += 31
    run_worker(sol)  # back: catch up from the cursors
    run_worker(sol)
    recorded = payments(sol)
    assert sorted(p.tx_id for p in recorded if p.asset == "SOL") == sorted([first, second])
    assert len(recorded) == 3 and len({(p.tx_id, p.transfer_index) for p in recorded}) == 3
    assert status(sol_client, direct_key, direct["invoice_number"])["lifecycle_status"] == "paid"
    assert status(sol_client, deposit_key, deposit["invoice_number"])["lifecycle_status"] == "paid"


def test_outage_mid_scan_keeps_what_was_read(sol, sol_client, fake_rpc, buyer) -> None:
    key, wallet = make_store(sol)
    invoice = create_invoice(sol_client, key)
    reference = option(invoice, "SOL")["reference"]
    signature = buyer.pay_sol(wallet, 10**8, reference)
    fake_rpc.fail("getTransaction", "500", "500")  # both attempts of the one read fail
    run_worker(sol)
    assert payments(sol) == []
    sol.chains["solana"]._down.clear()
    run_worker(sol)
    assert [p.tx_id for p in payments(sol)] == [signature]
    fake_rpc.ledger.finalize()
    run_worker(sol)
    run_worker(sol)
    assert [p.tx_id for p in payments(sol)] == [signature]
