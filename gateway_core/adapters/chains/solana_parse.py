"""Reading credits out of a `getTransaction` (jsonParsed) result, by Solana Pay's validateTransfer rules.

A credit is the exact balance delta of a recipient: lamports for a wallet (postBalances - preBalances at
its index), token units for a token account owned by a watched owner (post - pre token balance). Failed
transactions credit nothing. The reference is a read-only, non-signer key of the transaction that is not
a program, a mint or a sysvar: Solana Pay appends it to the transfer instruction's accounts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"  # noqa: S105 (a program id)
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"  # noqa: S105
ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
MEMO_PROGRAMS = ("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVzNRVcJ6EGUF")
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
_NOT_REFERENCES = {SYSTEM_PROGRAM, TOKEN_PROGRAM, TOKEN_2022_PROGRAM, ATA_PROGRAM, COMPUTE_BUDGET_PROGRAM,
                   *MEMO_PROGRAMS}
UNKNOWN_TOKEN = "SPL"  # noqa: S105 - the asset code recorded for a token that is not the network's USDC mint


@dataclass(frozen=True)
class Credit:
    """One recipient's gain in one transaction."""

    owner: str  # the wallet the quote names (for tokens: the token account's owner)
    account_index: int  # unique per transaction, so it serves as the transfer index
    asset: str
    amount: int
    mint: str | None
    reference: str | None
    payer: str | None


def _keys(tx: dict[str, Any]) -> list[dict[str, Any]]:
    keys = tx["transaction"]["message"]["accountKeys"]
    # jsonParsed gives objects; a plain "json" encoding would give strings.
    return [k if isinstance(k, dict) else {"pubkey": k, "signer": False, "writable": False} for k in keys]


def _programs(tx: dict[str, Any]) -> set[str]:
    found = set()
    for ins in tx["transaction"]["message"].get("instructions", []):
        if ins.get("programId"):
            found.add(ins["programId"])
    return found


def reference_of(tx: dict[str, Any], mints: Collection[str], owners: Collection[str] = ()) -> str | None:
    """The Solana Pay reference: the first read-only non-signer key that is no program, mint, sysvar or owner.

    Owners are skipped because a wallet that creates the recipient's token account lists the recipient
    wallet read-only too.
    """
    skip = _NOT_REFERENCES | _programs(tx) | set(mints) | set(owners)
    for key in _keys(tx):
        pubkey = key["pubkey"]
        if key.get("signer") or key.get("writable") or pubkey in skip or pubkey.startswith("Sysvar"):
            continue
        return str(pubkey)
    return None


def credits(tx: dict[str, Any], owners: Collection[str], usdc_mint: str) -> list[Credit]:
    """Every positive balance delta of a watched owner (SOL) or of a token account it owns."""
    meta = tx.get("meta") or {}
    if meta.get("err") is not None:
        return []
    keys = _keys(tx)
    payer = next((k["pubkey"] for k in keys if k.get("signer")), None)
    pre_tokens = {b["accountIndex"]: b for b in meta.get("preTokenBalances") or []}
    post_tokens = meta.get("postTokenBalances") or []
    mints = {b["mint"] for b in post_tokens} | {b["mint"] for b in pre_tokens.values()}
    token_owners = {b.get("owner") for b in post_tokens} - {None}
    reference = reference_of(tx, mints, set(owners) | token_owners)
    found: list[Credit] = []
    pre, post = meta.get("preBalances") or [], meta.get("postBalances") or []
    for index, key in enumerate(keys):
        if key["pubkey"] in owners and index < len(pre) and index < len(post) and post[index] > pre[index]:
            found.append(Credit(key["pubkey"], index, "SOL", int(post[index]) - int(pre[index]), None,
                                reference, payer))
    for balance in post_tokens:
        owner = balance.get("owner")
        if owner not in owners:
            continue
        index = balance["accountIndex"]
        before = pre_tokens.get(index)
        delta = int(balance["uiTokenAmount"]["amount"]) - (int(before["uiTokenAmount"]["amount"]) if before else 0)
        if delta > 0:
            asset = "USDC" if balance["mint"] == usdc_mint else UNKNOWN_TOKEN
            found.append(Credit(owner, index, asset, delta, balance["mint"], reference, payer))
    return found
