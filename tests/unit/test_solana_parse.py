"""The Solana credit parser on real mainnet transactions (tests/data/chain_fixtures, README there) and on the
`json` encoding's raw instructions: per transfer, lookup-table accounts, references among extra keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_core.adapters.chains.solana_parse import SYSTEM_PROGRAM, TOKEN_PROGRAM, account_keys, credits

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "chain_fixtures"
MAINNET_USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
OTHER_MINT = "FN27M5GR4Pe4rRvJ2y6S8MHBPBt8yDo62xwf9JjVFVG"
JUP_TAKER, JUP_POOL = "CKuBSvFZjqAKvzYignAG4DFcqAE5JcwDCMadfQo2y8bW", "EJELT5qeMyZo2unrErwFcfitcRENWQUnV8da8XCGczZc"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def summary(tx: dict, owners: set[str]) -> list[tuple[str, int, str, int]]:
    return sorted((c.owner, c.transfer_index, c.asset, c.amount) for c in credits(tx, owners, MAINNET_USDC))


@pytest.mark.parametrize(("name", "recipient", "lamports"), [
    ("v0_sol_lut_mainnet_4Lwyg.json", "buffaAJKmNLao65TDTUGq8oB9HgxkfPLGqPMFQapotJ", 1_000),
    ("v0_sol_lut_docs_2CxNR.json", "G1wZ113tiUHdSpQEBcid8n1x8BAvcWZoZgxPKxgE5B7o", 10_000_000),
])
def test_sol_to_a_lookup_table_recipient(name: str, recipient: str, lamports: int) -> None:
    tx = load(name)
    assert tx["version"] == 0 and tx["transaction"]["message"]["accountKeys"][2]["source"] == "lookupTable"
    [credit] = credits(tx, {recipient}, MAINNET_USDC)
    assert (credit.owner, credit.transfer_index, credit.asset, credit.amount) == (recipient, 2, "SOL", lamports)
    assert not credit.unexplained and credit.payer == tx["transaction"]["message"]["accountKeys"][0]["pubkey"]
    assert credits(tx, {"11111111111111111111111111111112"}, MAINNET_USDC) == []  # nobody we watch


def test_jupiter_route_with_two_lookup_tables() -> None:
    tx = load("v0_jupiter_usdc_xNUoj.json")
    assert len(tx["transaction"]["message"]["addressTableLookups"]) == 2
    # The USDC reached the pool's token account inside the route's CPI (its inner instructions are trimmed in
    # the record): the balance change stands for it, without a reference. The taker received the other mint.
    assert summary(tx, {JUP_POOL, JUP_TAKER}) == [
        (JUP_TAKER, 1, "SPL", 12_445_641), (JUP_POOL, 8, "USDC", 1_000_000)]
    [usdc] = credits(tx, {JUP_POOL}, MAINNET_USDC)
    assert usdc.unexplained and usdc.references == () and usdc.mint == MAINNET_USDC
    # The taker paid the fee and its USDC went out: no SOL or USDC credit to it.
    assert summary(tx, {JUP_TAKER}) == [(JUP_TAKER, 1, "SPL", 12_445_641)]


def _raw(keys: list[str], header: tuple[int, int, int], instructions: list[dict], pre: list[int], post: list[int],
         loaded: tuple[list[str], list[str]] = ([], []), inner: list[dict] | None = None) -> dict:
    """A getTransaction result in the `json` encoding (v0 when keys are loaded from lookup tables)."""
    return {"slot": 5, "blockTime": 1, "version": 0 if any(loaded) else "legacy",
            "transaction": {"signatures": ["sig"], "message": {
                "header": {"numRequiredSignatures": header[0], "numReadonlySignedAccounts": header[1],
                           "numReadonlyUnsignedAccounts": header[2]},
                "accountKeys": keys, "recentBlockhash": "h", "instructions": instructions}},
            "meta": {"err": None, "fee": 5000, "preBalances": pre, "postBalances": post,
                     "innerInstructions": inner or [], "preTokenBalances": [], "postTokenBalances": [],
                     "loadedAddresses": {"writable": loaded[0], "readonly": loaded[1]}}}


def _b58(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, rem = divmod(number, 58)
        out = alphabet[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _sol(lamports: int) -> str:
    return _b58((2).to_bytes(4, "little") + lamports.to_bytes(8, "little"))


def test_two_transfers_two_references_in_the_json_encoding() -> None:
    payer, wallet, ref_a, ref_b, early = "Payer1", "Wallet1", "RefA", "RefB", "1Early"
    # Keys: payer (signer), wallet (writable), then read-only: early, ref_a, system program; ref_b is loaded.
    keys = [payer, wallet, early, ref_a, SYSTEM_PROGRAM]
    tx = _raw(keys, (1, 0, 3), [
        {"programIdIndex": 4, "accounts": [0, 1, 2, 3], "data": _sol(100)},
        {"programIdIndex": 4, "accounts": [0, 1, 5], "data": _sol(300)},
    ], pre=[10_000, 50, 1, 1, 1, 1], post=[10_000 - 400 - 5000, 450, 1, 1, 1, 1], loaded=([], [ref_b]))
    assert [k.pubkey for k in account_keys(tx)] == [*keys, ref_b]
    found = [(c.transfer_index, c.amount, c.references) for c in credits(tx, {wallet}, MAINNET_USDC)]
    assert found == [(1, 100, (early, ref_a)), (1 + 256, 300, (ref_b,))]


def test_token_transfer_inside_a_cpi_takes_the_outer_instructions_keys() -> None:
    payer, source, merchant_ata, merchant, router, ref = "Payer1", "SrcAta", "DstAta", "Merchant", "Router", "Ref"
    keys = [payer, source, merchant_ata, TOKEN_PROGRAM, router, ref, merchant]
    tx = _raw(keys, (1, 0, 4), [{"programIdIndex": 4, "accounts": [1, 2, 0, 3, 5], "data": "1"}],
              pre=[9, 1, 1, 1, 1, 1, 1], post=[9 - 5000, 1, 1, 1, 1, 1, 1],
              inner=[{"index": 0, "instructions": [
                  {"programIdIndex": 3, "accounts": [1, 2, 0], "data": _b58(b"\x03" + (7).to_bytes(8, "little"))}]}])
    balance = {"accountIndex": 2, "mint": MAINNET_USDC, "owner": merchant, "programId": TOKEN_PROGRAM}
    tx["meta"]["preTokenBalances"] = [{**balance, "uiTokenAmount": {"amount": "0", "decimals": 6}}]
    tx["meta"]["postTokenBalances"] = [{**balance, "uiTokenAmount": {"amount": "7", "decimals": 6}}]
    [credit] = credits(tx, {merchant}, MAINNET_USDC)
    assert (credit.owner, credit.asset, credit.amount, credit.references, credit.payer) == (
        merchant, "USDC", 7, (ref,), payer)
    assert not credit.unexplained
