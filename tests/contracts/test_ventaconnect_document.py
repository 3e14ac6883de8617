"""ventaconnect-api.txt against the live app: the session's `link`, `ref` and `ws`, and every message the
socket would send (a poll carries it as `event`) read against the document's "Statuses & Codes" table:
its `status` is the table's word, its `code` one of that word's codes, and final exactly when the table says.

The page's example messages did not survive its copy into the specs; the table is what is left to compare.
The live socket sends the same messages (the envelope is one function): tests/integration/test_venta_socket.py.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from gateway_core.keys.api_keys import issue_key
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from tests import solana_pay_parser
from tests.conftest import tick
from tests.contracts.conformance import raw
from tests.integration.venta_support import CHECKOUT, DEV_CHECKOUT, decode_uri_component, strictly_encoded
from tests.solana_fixtures import run_worker

FINAL_MARK = {"β Yes": True, "β No": False}  # the page's ✅/❌ as the copy mangled them


def documented_table() -> dict[str, tuple[frozenset[str], bool]]:
    """status -> (its codes, whether it is final), from the document's table (four lines a row)."""
    lines = raw("ventaconnect/statuses.txt").decode().splitlines()
    assert lines[0] == "Statuses & Codes"
    rows = [lines[i:i + 4] for i in range(1, len(lines), 4)]
    return {status: (frozenset(re.split(r",\s*", codes)), FINAL_MARK[final]) for status, codes, _, final in rows}


TABLE = documented_table()


def test_the_table_is_read_as_the_document_has_it() -> None:
    assert TABLE == {
        "confirmed": (frozenset({"PAYMENT_CONFIRMED"}), True),
        "expired": (frozenset({"ORDER_EXPIRED", "CONFIRMATION_TIMEOUT", "TRANSACTION_FAILED"}), True),
        "update": (frozenset({"RECEIVE_REQUEST", "TX_BUILD_ERROR", "INSUFFICIENT_FUNDS"}), False),
    }


def poll(client: Any, key: str, ref: str, path: str = DEV_CHECKOUT) -> dict[str, Any]:
    response = client.get(f"{path}/{ref}", headers={"x-api-key": key})
    assert response.status_code == 200, response.data
    body: dict[str, Any] = response.get_json()
    return body


def as_documented(body: dict[str, Any]) -> tuple[str, str]:
    """The poll and the socket message it carries, both in the document's words; (status, code)."""
    message = body["event"]
    status, code = message["status"], message["code"]
    codes, final = TABLE[status]
    assert code in codes, (status, code)
    assert (body["status"], body["code"], body["final"]) == (status, code, final)  # the poll says the same
    assert message["type"] == status and message["ref"] == body["ref"]
    assert message["lifecycleStatus"] == body["lifecycleStatus"]  # our own word, in a field of our own
    return status, code


def open_session(client: Any, key: str, path: str = DEV_CHECKOUT, **body: Any) -> dict[str, Any]:
    response = client.post(path, json={"amount": "12.50", "currency": "USD", "token": "USDC", **body},
                           headers={"x-api-key": key})
    assert response.status_code == 201, response.data
    session: dict[str, Any] = response.get_json()
    assert {"link", "ref", "ws"} <= set(session) and strictly_encoded(session["link"])
    assert session["ws"] == f"wss://gateway.test/v1/checkout/{session['ref']}/ws"
    return session


def test_every_state_speaks_the_documented_status_and_code(nsvc, nclient, shop, clock) -> None:
    with nsvc.uow() as uow:
        key = issue_key(uow, nsvc.vault, shop.id, "venta").api_key
    nsvc.chains["sandbox"]._finality = 30  # seen now, final 30 s later
    paid = open_session(nclient, key)
    first = poll(nclient, key, paid["ref"])
    assert (first["status"], first["event"], first["lifecycleStatus"]) == ("pending", None, "pending")
    with nsvc.uow() as uow:
        simulate_payment(uow, paid["ref"], clock, "USDC", Decimal("5"))
    tick(nsvc)
    assert as_documented(poll(nclient, key, paid["ref"])) == ("update", "INSUFFICIENT_FUNDS")
    with nsvc.uow() as uow:
        simulate_payment(uow, paid["ref"], clock, "USDC", Decimal("7.5"))
    tick(nsvc)
    assert as_documented(poll(nclient, key, paid["ref"])) == ("update", "RECEIVE_REQUEST")
    unpaid = open_session(nclient, key)
    part = open_session(nclient, key)
    with nsvc.uow() as uow:
        simulate_payment(uow, part["ref"], clock, "USDC", Decimal("1"))
    clock.advance(seconds=30)
    tick(nsvc)
    confirmed = poll(nclient, key, paid["ref"])
    assert as_documented(confirmed) == ("confirmed", "PAYMENT_CONFIRMED")
    assert confirmed["event"]["txSig"] and confirmed["lifecycleStatus"] == "settled"
    clock.advance(minutes=15)
    tick(nsvc)
    assert as_documented(poll(nclient, key, unpaid["ref"])) == ("expired", "ORDER_EXPIRED")
    assert as_documented(poll(nclient, key, part["ref"])) == ("expired", "CONFIRMATION_TIMEOUT")


def test_a_failed_transaction_with_the_sessions_reference_is_transaction_failed(sol, sol_client, fake_rpc,
                                                                                buyer) -> None:
    """On a real chain (the Solana fake): the buyer's wallet sends more USDC than it has, skipping preflight, so
    the transaction lands failed; the session says TRANSACTION_FAILED, and a payment after it still shows."""
    from solders.keypair import Keypair

    wallet = str(Keypair().pubkey())
    with sol.uow() as uow:
        store = create_store(uow, sol.vault, name="POS Shop", network="devnet", wallets={"USDC": wallet})
    with sol.uow() as uow:
        key = issue_key(uow, sol.vault, store.id, "venta").api_key
    session = open_session(sol_client, key, path=CHECKOUT)
    transfer = solana_pay_parser.parse(decode_uri_component(session["link"]), decimals=6)
    assert transfer.recipient == wallet
    failed = buyer.pay_token(wallet, 10**15, transfer.references[0], skip_preflight=True)
    run_worker(sol)
    body = poll(sol_client, key, session["ref"], CHECKOUT)
    assert as_documented(body) == ("expired", "TRANSACTION_FAILED")
    assert body["event"]["txSig"] == failed and body["lifecycleStatus"] == "pending"
    paid = buyer.pay_token(wallet, 12_500_000, transfer.references[0])
    run_worker(sol)
    assert as_documented(poll(sol_client, key, session["ref"], CHECKOUT)) == ("update", "RECEIVE_REQUEST")
    fake_rpc.ledger.finalize()
    run_worker(sol)
    done = poll(sol_client, key, session["ref"], CHECKOUT)
    assert as_documented(done) == ("confirmed", "PAYMENT_CONFIRMED") and done["event"]["txSig"] == paid
