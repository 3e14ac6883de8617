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
    from gateway_core.services.watch import watched_addresses

    with sol.uow() as uow:
        return watched_addresses(uow, "solana", "devnet", sol.clock, sol.late_window)
