"""Reading credits out of a `getTransaction` result: one credit per transfer instruction to a watched owner.

The watcher asks for the `json` encoding: a transfer instruction's own accounts are only visible there
(jsonParsed drops the accounts a parsed instruction does not name), and Solana Pay appends the reference
keys to the transfer instruction as extra read-only accounts. Outer and inner (CPI) instructions are read:
SOL system `transfer`, SPL `transfer` and `transferChecked` to a watched wallet or a token account it owns.
Each credit carries every key that may be a reference: the instruction's extra accounts, then (inside a
CPI) the accounts of the outer instruction that made it. Versioned messages are resolved through
`meta.loadedAddresses` (lookup tables). jsonParsed results are read too (stored fixtures); a parsed
instruction shows no extra accounts, so its candidates are the transaction's read-only keys.

Where an account's balance change is more than its parsed transfers explain (an unparsed program moved
funds, trimmed inner instructions), the rest is a credit of its own without references: recorded, never
dropped. Failed transactions credit nothing; `observed_transfers` reports one addressed to an invoice as failed.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway_core.adapters.chains.solana_finality import FINAL_CONFIRMATIONS
from gateway_core.ports import ObservedTransfer

log = logging.getLogger(__name__)

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"  # noqa: S105 (a program id)
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"  # noqa: S105
ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
MEMO_PROGRAMS = ("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVzNRVcJ6EGUF")
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
_NOT_REFERENCES = {SYSTEM_PROGRAM, TOKEN_PROGRAM, TOKEN_2022_PROGRAM, ATA_PROGRAM, COMPUTE_BUDGET_PROGRAM,
                   *MEMO_PROGRAMS}
_TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
UNKNOWN_TOKEN = "SPL"  # noqa: S105 - the asset code recorded for a token that is not the network's USDC mint
# transfer_index = account index + INDEX_STRIDE * n for the n-th credit to that account in the transaction:
# a message has at most 256 accounts, and the first (often only) credit keeps the plain account index.
INDEX_STRIDE = 256
_SYSTEM_TRANSFER, _TOKEN_TRANSFER, _TOKEN_TRANSFER_CHECKED = 2, 3, 12
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Credit:
    """One transfer's gain to a watched owner in one transaction (or the part no parsed transfer explains)."""

    owner: str  # the wallet the quote names (for tokens: the token account's owner)
    transfer_index: int  # unique per transaction
    asset: str
    amount: int
    mint: str | None
    references: tuple[str, ...]  # keys that may be a Solana Pay reference, most specific first
    payer: str | None
    unexplained: bool = False  # a balance change no parsed transfer accounts for


@dataclass(frozen=True)
class Key:
    pubkey: str
    signer: bool
    writable: bool


@dataclass(frozen=True)
class Transfer:
    """A parsed SOL or token transfer instruction."""

    token: bool
    source: str
    destination: str
    amount: int
    authority: str | None
    references: tuple[str, ...]


def b58decode(text: str) -> bytes:
    """Base58 (instruction data in the json encoding)."""
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def account_keys(tx: dict[str, Any]) -> list[Key]:
    """Every account of the message in index order, lookup-table accounts included, with their flags."""
    message = tx["transaction"]["message"]
    keys = message["accountKeys"]
    if keys and isinstance(keys[0], dict):  # jsonParsed: resolved and flagged by the node
        return [Key(k["pubkey"], bool(k.get("signer")), bool(k.get("writable"))) for k in keys]
    header = message.get("header") or {}
    signed = int(header.get("numRequiredSignatures", 1))
    readonly_signed = int(header.get("numReadonlySignedAccounts", 0))
    readonly_unsigned = int(header.get("numReadonlyUnsignedAccounts", 0))
    static = [Key(k, i < signed, i < signed - readonly_signed or signed <= i < len(keys) - readonly_unsigned)
              for i, k in enumerate(keys)]
    loaded = (tx.get("meta") or {}).get("loadedAddresses") or {}
    return (static + [Key(k, False, True) for k in loaded.get("writable") or []]
            + [Key(k, False, False) for k in loaded.get("readonly") or []])


def _instructions(tx: dict[str, Any], keys: list[Key]) -> Iterable[tuple[dict[str, Any], tuple[str, ...]]]:
    """Outer instructions, each followed by its inner ones, with the accounts of the outer instruction."""
    inner = {entry["index"]: entry.get("instructions") or []
             for entry in (tx.get("meta") or {}).get("innerInstructions") or []}
    for index, outer in enumerate(tx["transaction"]["message"].get("instructions") or []):
        outer_accounts = tuple(_accounts(outer, keys) or ())
        yield outer, ()
        for ins in inner.get(index, []):
            yield ins, outer_accounts


def _accounts(ins: dict[str, Any], keys: list[Key]) -> list[str] | None:
    accounts = ins.get("accounts")
    if accounts is None:
        return None  # a parsed instruction: the node names only the accounts it parsed
    return [keys[a].pubkey if isinstance(a, int) else str(a) for a in accounts]


def _program(ins: dict[str, Any], keys: list[Key]) -> str:
    if "programIdIndex" in ins:
        return keys[int(ins["programIdIndex"])].pubkey
    return str(ins.get("programId", ""))


def _transfer(ins: dict[str, Any], keys: list[Key], fallback: tuple[str, ...]) -> Transfer | None:
    """The transfer an instruction makes, if it is one of the three we read."""
    program = _program(ins, keys)
    parsed = ins.get("parsed")
    if isinstance(parsed, dict):
        info, kind = parsed.get("info") or {}, parsed.get("type")
        try:
            if program == SYSTEM_PROGRAM and kind == "transfer":
                return Transfer(False, info["source"], info["destination"], int(info["lamports"]), info["source"],
                                fallback)
            if program in _TOKEN_PROGRAMS and kind in ("transfer", "transferChecked"):
                amount = info["amount"] if kind == "transfer" else info["tokenAmount"]["amount"]
                authority = info.get("authority") or info.get("multisigAuthority")
                return Transfer(True, info["source"], info["destination"], int(amount), authority, fallback)
        except (KeyError, TypeError, ValueError):
            return None
        return None
    accounts = _accounts(ins, keys) or []
    try:
        data = b58decode(str(ins.get("data", "")))
    except ValueError:
        return None
    if program == SYSTEM_PROGRAM and len(data) >= 12 and len(accounts) >= 2 \
            and struct.unpack_from("<I", data)[0] == _SYSTEM_TRANSFER:
        return Transfer(False, accounts[0], accounts[1], struct.unpack_from("<Q", data, 4)[0], accounts[0],
                        tuple(accounts[2:]))
    if program in _TOKEN_PROGRAMS and len(data) >= 9 and data[0] == _TOKEN_TRANSFER and len(accounts) >= 3:
        return Transfer(True, accounts[0], accounts[1], struct.unpack_from("<Q", data, 1)[0], accounts[2],
                        tuple(accounts[3:]))
    if program in _TOKEN_PROGRAMS and len(data) >= 10 and data[0] == _TOKEN_TRANSFER_CHECKED and len(accounts) >= 4:
        return Transfer(True, accounts[0], accounts[2], struct.unpack_from("<Q", data, 1)[0], accounts[3],
                        tuple(accounts[4:]))
    return None


def transfers(tx: dict[str, Any], keys: list[Key] | None = None) -> list[Transfer]:
    """Every SOL and token transfer of the transaction, outer and inner, in execution order."""
    keys = keys if keys is not None else account_keys(tx)
    programs = {_program(ins, keys) for ins, _ in _instructions(tx, keys)}
    skip = _NOT_REFERENCES | programs
    signers = {k.pubkey for k in keys if k.signer}
    # What a parsed instruction may have carried: the transaction's read-only, non-signer keys.
    fallback = tuple(k.pubkey for k in keys if not k.signer and not k.writable)
    found: list[Transfer] = []
    for ins, outer_accounts in _instructions(tx, keys):
        transfer = _transfer(ins, keys, fallback)
        if transfer is None:
            continue
        named = {transfer.source, transfer.destination, transfer.authority}
        candidates = [k for k in dict.fromkeys((*transfer.references, *outer_accounts))
                      if k not in skip and k not in signers and k not in named and not k.startswith("Sysvar")]
        found.append(Transfer(transfer.token, transfer.source, transfer.destination, transfer.amount,
                              transfer.authority, tuple(candidates)))
    return found


def credits(tx: dict[str, Any], owners: Collection[str], usdc_mint: str) -> list[Credit]:
    """A credit per transfer to a watched owner (SOL) or to a token account it owns, and any unexplained gain."""
    meta = tx.get("meta") or {}
    if meta.get("err") is not None:
        return []
    keys = account_keys(tx)
    index_of = {k.pubkey: i for i, k in reversed(list(enumerate(keys)))}
    payer = next((k.pubkey for k in keys if k.signer), None)
    tokens = {b["accountIndex"]: b for b in meta.get("preTokenBalances") or []}
    tokens.update({b["accountIndex"]: b for b in meta.get("postTokenBalances") or []})
    moves = transfers(tx, keys)
    found: list[Credit] = []
    per_account: dict[int, int] = {}  # account index -> credits made to it so far

    def add(index: int, owner: str, asset: str, amount: int, mint: str | None, references: tuple[str, ...],
            sender: str | None, unexplained: bool = False) -> None:
        n = per_account.get(index, 0)
        per_account[index] = n + 1
        found.append(Credit(owner, index + INDEX_STRIDE * n, asset, amount, mint, references, sender, unexplained))

    def asset_of(mint: str) -> str:
        return "USDC" if mint == usdc_mint else UNKNOWN_TOKEN

    for move in moves:
        if move.amount <= 0 or move.source == move.destination or move.destination not in index_of:
            continue
        index = index_of[move.destination]
        if not move.token and move.destination in owners:
            add(index, move.destination, "SOL", move.amount, None, move.references, move.source)
        elif move.token and (balance := tokens.get(index)) is not None and balance.get("owner") in owners:
            add(index, balance["owner"], asset_of(balance["mint"]), move.amount, balance["mint"], move.references,
                move.authority or payer)
    # Balance changes the parsed transfers do not account for are credits too, without a reference.
    pre, post = meta.get("preBalances") or [], meta.get("postBalances") or []
    for index, key in enumerate(keys):
        if key.pubkey in owners and index < min(len(pre), len(post)):
            explained = _net(moves, key.pubkey, token=False) - (int(meta.get("fee") or 0) if index == 0 else 0)
            _rest(add, index, key.pubkey, "SOL", None, int(post[index]) - int(pre[index]) - explained, payer)
    pre_tokens = {b["accountIndex"]: b for b in meta.get("preTokenBalances") or []}
    for balance in meta.get("postTokenBalances") or []:
        index, owner = balance["accountIndex"], balance.get("owner")
        if owner not in owners or index >= len(keys):
            continue
        before = pre_tokens.get(index)
        delta = int(balance["uiTokenAmount"]["amount"]) - (int(before["uiTokenAmount"]["amount"]) if before else 0)
        explained = _net(moves, keys[index].pubkey, token=True)
        _rest(add, index, owner, asset_of(balance["mint"]), balance["mint"], delta - explained, payer)
    return found


def _net(moves: Iterable[Transfer], account: str, token: bool) -> int:
    """What the parsed transfers put into `account`, less what they took out of it."""
    return sum((m.amount if m.destination == account else 0) - (m.amount if m.source == account else 0)
               for m in moves if m.token == token)


def _rest(add: Any, index: int, owner: str, asset: str, mint: str | None, rest: int, payer: str | None) -> None:
    if rest > 0:
        add(index, owner, asset, rest, mint, (), payer, True)
    elif rest < 0:
        # Funds left the account by a route not parsed (rent paid, an unknown program): not a payment.
        log.info("solana balance fell more than parsed transfers say", extra={"account": owner, "units": rest})


def failed_attempt(tx: dict[str, Any], owners: Collection[str], usdc_mint: str) -> Credit | None:
    """A failed transaction's attempt to pay a watched owner: whom, in what, with which reference keys (amount 0).

    Nothing moved, so the transfer instructions say it: the first to a watched wallet (SOL) or to a token account
    the balances show a watched owner holding. A token account the failed transaction was to create has no
    balance entry; then a watched wallet among its keys (the account's owner, named by the create) is the payee.
    """
    meta = tx.get("meta") or {}
    if meta.get("err") is None:
        return None
    keys = account_keys(tx)
    index_of = {k.pubkey: i for i, k in reversed(list(enumerate(keys)))}
    payer = next((k.pubkey for k in keys if k.signer), None)
    tokens = {b["accountIndex"]: b for b in meta.get("preTokenBalances") or []}
    tokens.update({b["accountIndex"]: b for b in meta.get("postTokenBalances") or []})
    moves = [m for m in transfers(tx, keys) if m.destination in index_of]
    for move in moves:
        index = index_of[move.destination]
        if not move.token and move.destination in owners:
            return Credit(move.destination, index, "SOL", 0, None, move.references, move.source)
        balance = tokens.get(index)
        if move.token and balance is not None and balance.get("owner") in owners:
            asset = "USDC" if balance["mint"] == usdc_mint else UNKNOWN_TOKEN
            return Credit(balance["owner"], index, asset, 0, balance["mint"], move.references, move.authority or payer)
    wallet = next((i for i, k in enumerate(keys) if k.pubkey in owners and not k.signer), None)
    if wallet is None or not moves:
        return None
    move = moves[0]
    asset = ("USDC" if usdc_mint in index_of else UNKNOWN_TOKEN) if move.token else "SOL"
    return Credit(keys[wallet].pubkey, wallet, asset, 0, None, move.references, move.authority or payer)


def observed_transfers(network: str, info: dict[str, Any], tx: dict[str, Any], owners: Collection[str],
             mint: str) -> list[ObservedTransfer]:
    """The transfers of a listed transaction to `owners`, as the watcher reports them (a failed one addressed
    to an invoice as a transfer of 0 marked failed)."""
    final = info.get("confirmationStatus") == "finalized"
    when = tx.get("blockTime") or info.get("blockTime")
    block_time = datetime.fromtimestamp(when, UTC) if when else datetime.now(UTC)
    # A failed transaction moves nothing, but one addressed to an invoice is reported (VentaConnect's
    # TRANSACTION_FAILED): it goes out as a transfer of 0 marked failed, which never counts as paid.
    attempt = failed_attempt(tx, owners, mint)
    found = [attempt] if attempt is not None else credits(tx, owners, mint)
    return [
        ObservedTransfer(
            chain="solana", network=network, tx_id=info["signature"], transfer_index=c.transfer_index,
            asset=c.asset, amount=c.amount, to_address=c.owner, from_address=c.payer, reference=None,
            block_time=block_time, confirmations=FINAL_CONFIRMATIONS if final else 1, final=final,
            references=c.references,
            failed=attempt is not None,
        )
        for c in found
    ]
