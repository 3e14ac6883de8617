"""The fake cluster answers with the documented shapes: every answer parses with solders' typed responses."""

from __future__ import annotations

from solders.keypair import Keypair
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetSlotResp,
    GetTransactionResp,
)

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_rpc import RpcError, SolanaRpc
from tests.solana_fixtures import create_invoice, make_store
from tests.solana_support import USDC_DEVNET


def test_every_method_answers_in_its_documented_shape(fake_rpc, buyer) -> None:
    wallet = str(Keypair().pubkey())
    reference = str(Keypair().pubkey())
    signature = buyer.pay_token(wallet, 5_000_000, reference)
    ata = associated_token_address(wallet, USDC_DEVNET)
    rpc = SolanaRpc(fake_rpc.url, retries=0)

    def raw(method: str, *params: object) -> str:
        import json

        import requests

        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
        text = requests.post(fake_rpc.url, json=body, timeout=5).text
        assert json.loads(text)["id"] == 7
        return text

    assert GetSlotResp.from_json(raw("getSlot")).value == fake_rpc.ledger.slot
    assert GetBalanceResp.from_json(raw("getBalance", buyer.address)).value > 0
    assert GetLatestBlockhashResp.from_json(raw("getLatestBlockhash")).value.last_valid_block_height > 0
    info = GetAccountInfoResp.from_json(raw("getAccountInfo", ata, {"encoding": "base64"})).value
    assert info is not None and len(info.data) == 165 and int.from_bytes(info.data[64:72], "little") == 5_000_000
    many = GetMultipleAccountsResp.from_json(raw("getMultipleAccounts", [ata, wallet], {"encoding": "base64"}))
    assert many.value[0] is not None and many.value[1] is None  # a wallet never funded does not exist
    # The reference is findable, as Solana Pay's findReference expects.
    listed = GetSignaturesForAddressResp.from_json(raw("getSignaturesForAddress", reference,
                                                       {"commitment": "confirmed"}))
    assert [str(s.signature) for s in listed.value] == [signature]
    tx = GetTransactionResp.from_json(raw("getTransaction", signature, {"encoding": "jsonParsed",
                                                                        "maxSupportedTransactionVersion": 0}))
    assert tx.value is not None and tx.value.slot == listed.value[0].slot
    statuses = GetSignatureStatusesResp.from_json(raw("getSignatureStatuses", [signature, str(Keypair().pubkey())]))
    assert statuses.value[0] is not None and statuses.value[1] is None
    parsed = rpc.call("getTransaction", signature, {"encoding": "jsonParsed", "maxSupportedTransactionVersion": 0})
    assert parsed["meta"]["postTokenBalances"][-1]["owner"] in (wallet, buyer.address)
    # The server's documented limits.
    for method, params in (("getMultipleAccounts", [[wallet] * 101, {"encoding": "base64"}]),
                           ("getSignaturesForAddress", [wallet, {"commitment": "processed"}])):
        try:
            rpc.call(method, *params)
        except RpcError as exc:
            assert exc.code == -32602
        else:
            raise AssertionError(f"{method} accepted what the server refuses")


def test_deposit_balances_polled_in_chunks_of_100(sol, sol_client, fake_rpc, fee_payer) -> None:
    key, _ = make_store(sol, mode="deposit", assets=("SOL",))
    for i in range(60):  # 60 deposits: their owners and USDC token accounts are 120 accounts
        create_invoice(sol_client, key, external_invoice_id=f"o{i}")
    fake_rpc.calls.clear()
    sol.chains["solana"].scan("devnet", _watched(sol), None, scoped={})
    assert fake_rpc.calls["getMultipleAccounts"] == 2 and fake_rpc.calls["getSignaturesForAddress"] == 0


def _watched(sol):
    from gateway_core.payments.watch import watched_addresses

    with sol.uow() as uow:
        return watched_addresses(uow, "solana", "devnet", sol.clock, sol.late_window)


def test_v0_route_reads_the_same_in_both_encodings(fake_rpc, buyer) -> None:
    """A v0 message with a lookup table and a CPI transfer: `json` (what the watcher reads) and `jsonParsed`
    show the same accounts and the same credits; only `json` keeps the instruction's own extra keys."""
    from gateway_core.adapters.chains.solana_parse import account_keys, credits
    from tests.solana_support import routed_token_payment

    wallet, reference = str(Keypair().pubkey()), str(Keypair().pubkey())
    fake_rpc.ledger.give_tokens(wallet, USDC_DEVNET, 0)
    merchant = associated_token_address(wallet, USDC_DEVNET)
    table = fake_rpc.ledger.lookup_table([merchant, reference])
    route = routed_token_payment(associated_token_address(buyer.address, USDC_DEVNET), merchant, buyer.key.pubkey(),
                                 3_000_000, reference)
    signature = buyer.send_v0([route], {table: fake_rpc.ledger.tables[table]})
    rpc = SolanaRpc(fake_rpc.url, retries=0)
    options = {"maxSupportedTransactionVersion": 0, "commitment": "confirmed"}
    raw = rpc.call("getTransaction", signature, {**options, "encoding": "json"})
    parsed = rpc.call("getTransaction", signature, {**options, "encoding": "jsonParsed"})
    assert raw["version"] == parsed["version"] == 0
    assert raw["meta"]["loadedAddresses"] == {"writable": [merchant], "readonly": [reference]}
    assert [k.pubkey for k in account_keys(raw)] == [k.pubkey for k in account_keys(parsed)]
    assert parsed["meta"]["innerInstructions"][0]["instructions"][0]["parsed"]["type"] == "transfer"
    [from_raw], [from_parsed] = credits(raw, {wallet}, USDC_DEVNET), credits(parsed, {wallet}, USDC_DEVNET)
    assert (from_raw.amount, from_raw.transfer_index, from_raw.asset) == (3_000_000, from_parsed.transfer_index, "USDC")
    assert from_raw.amount == from_parsed.amount and from_raw.references == (reference,)
    try:
        rpc.call("getTransaction", signature, {"encoding": "json"})
    except RpcError as exc:  # a v0 transaction to a client that did not say it reads them
        assert exc.code == -32015
    else:
        raise AssertionError("served a v0 transaction without maxSupportedTransactionVersion")
