"""A small Solana ledger for the fake JSON-RPC server: executes real signed transactions, keeps history.

Supports what buyers and the gateway send: legacy and v0 messages (accounts from address lookup tables
made with `lookup_table`), system Transfer, SPL token Transfer, TransferChecked and CloseAccount,
associated-token-account CreateIdempotent, a router program that moves tokens with a token Transfer inside
a CPI (an inner instruction, as a Jupiter route does), and memo/unknown programs (no effect). Every
transaction is decoded with solders and its signatures verified, as a cluster would.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_parse import ATA_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM

RENT_TOKEN_ACCOUNT = 2_039_280
RENT_SYSTEM_ACCOUNT = 890_880
FEE_PER_SIGNATURE = 5_000
BLOCKHASH_LIFETIME = 150
# A stand-in for an aggregator: data [1] + u64 amount, accounts [source, destination, authority, ...]; it
# moves the tokens with an SPL `transfer` invoked by CPI, so the transfer is an inner instruction. Data [2]
# + u64, accounts [payer, recipient]: it moves lamports itself, with no transfer instruction to show for it.
ROUTER_PROGRAM = str(Pubkey(bytes([7] * 32)))


class TxFailed(Exception):
    """An instruction failed: with preflight the send is refused, without it the failure lands on chain."""


@dataclass
class Account:
    lamports: int = 0
    mint: str | None = None  # set for token accounts
    owner: str | None = None  # the token account's owner (wallet)
    amount: int = 0


@dataclass
class Parsed:
    """One instruction as jsonParsed renders it (program name None: partially decoded)."""

    program_id: str
    program: str | None
    parsed: dict[str, Any] | None
    accounts: list[str]
    data: bytes
    inner: list[Parsed] = field(default_factory=list)  # instructions it invoked (CPI)


@dataclass(frozen=True)
class Lookup:
    """One address lookup table used by a v0 message, and the keys it loaded."""

    table: str
    writable_indexes: list[int]
    readonly_indexes: list[int]


@dataclass
class TxRecord:
    signature: str
    slot: int
    block_time: int
    keys: list[tuple[str, bool, bool]]  # pubkey, signer, writable: static keys, then loaded ones
    instructions: list[Parsed]
    blockhash: str
    pre: list[int]
    post: list[int]
    pre_tokens: dict[int, Account]
    post_tokens: dict[int, Account]
    fee: int
    err: bool = False
    finalized: bool = False
    dropped: bool = False
    version: int | None = None  # None: a legacy message
    header: tuple[int, int, int] = (1, 0, 0)  # required signatures, read-only signed, read-only unsigned
    static: int = 0  # how many of `keys` the message lists itself (the rest came from lookup tables)
    lookups: list[Lookup] = field(default_factory=list)
    loaded: tuple[list[str], list[str]] = ([], [])  # writable, read-only keys from lookup tables


@dataclass
class Ledger:
    mint_decimals: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    txs: dict[str, TxRecord] = field(default_factory=dict)
    by_address: dict[str, list[str]] = field(default_factory=dict)  # address -> signatures, oldest first
    tables: dict[str, list[str]] = field(default_factory=dict)  # address lookup tables: address -> keys
    slot: int = 1000
    block_time: float | None = None  # fixed unix time for new transactions (tests freeze it); else now
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Called with each transaction as it lands (confirmed), under the lock: the pub/sub fake's feed.
    listeners: list[Callable[[TxRecord], None]] = field(default_factory=list)

    # -- setup helpers --------------------------------------------------------------------------------------

    def fund(self, address: str, lamports: int) -> None:
        with self.lock:
            self.accounts.setdefault(address, Account()).lamports += lamports

    def give_tokens(self, owner: str, mint: str, amount: int) -> str:
        """Create (if needed) the owner's associated token account and mint `amount` into it."""
        with self.lock:
            ata = associated_token_address(owner, mint)
            acct = self.accounts.setdefault(ata, Account(RENT_TOKEN_ACCOUNT, mint, owner))
            acct.amount += amount
            return ata

    def lookup_table(self, addresses: list[str]) -> str:
        """An address lookup table holding `addresses` (a v0 message can then load them by index)."""
        with self.lock:
            table = str(Keypair().pubkey())
            self.tables[table] = list(addresses)
            return table

    def blockhash(self) -> tuple[str, int]:
        """The latest blockhash and the last block height at which it is valid."""
        return self._hash_at(self.slot), self.slot + BLOCKHASH_LIFETIME

    def _hash_at(self, slot: int) -> str:
        return str(Hash.hash(struct.pack("<Q", slot)))

    def advance(self, slots: int = 1) -> None:
        with self.lock:
            self.slot += slots

    def finalize(self, *signatures: str) -> None:
        """Mark the named transactions (all, if none named) finalized."""
        with self.lock:
            for record in self.txs.values():
                if not record.dropped and (not signatures or record.signature in signatures):
                    record.finalized = True

    def drop(self, signature: str) -> None:
        """A confirmed transaction vanishes (its fork lost): its balance changes are undone."""
        with self.lock:
            record = self.txs[signature]
            assert not record.finalized, "a finalized transaction cannot be dropped"
            record.dropped = True
            for index, (key, _, _) in enumerate(record.keys):
                self.accounts.setdefault(key, Account()).lamports += record.pre[index] - record.post[index]
            for index, after in record.post_tokens.items():
                before = record.pre_tokens.get(index)
                acct = self.accounts.get(record.keys[index][0])
                if acct is not None:
                    acct.amount += (before.amount if before else 0) - after.amount

    # -- execution ------------------------------------------------------------------------------------------

    def submit(self, raw: bytes, skip_preflight: bool = False) -> str:
        """Verify and execute a legacy or v0 transaction; TxFailed (nothing recorded) when preflight refuses it."""
        tx = VersionedTransaction.from_bytes(raw)
        if not all(tx.verify_with_results()):
            raise ValueError("signature verification failed")
        signature = str(tx.signatures[0])
        with self.lock:
            if signature in self.txs and not self.txs[signature].dropped:
                raise TxFailed("This transaction has already been processed")
            message = tx.message
            recent = str(message.recent_blockhash)
            valid = range(max(0, self.slot - BLOCKHASH_LIFETIME), self.slot + 1)
            if not any(self._hash_at(s) == recent for s in valid):
                raise TxFailed("Blockhash not found")
            static = [str(k) for k in message.account_keys]
            header = message.header
            nsig, ro_signed, ro_unsigned = (header.num_required_signatures, header.num_readonly_signed_accounts,
                                            header.num_readonly_unsigned_accounts)
            flags = [(k, i < nsig, (i < nsig - ro_signed) or (nsig <= i < len(static) - ro_unsigned))
                     for i, k in enumerate(static)]
            lookups, writable, readonly = self._load(message)
            flags += [(k, False, True) for k in writable] + [(k, False, False) for k in readonly]
            keys = [k for k, _, _ in flags]
            snapshot = {k: Account(**vars(self.accounts[k])) for k in keys if k in self.accounts}
            pre = [self.accounts.get(k, Account()).lamports for k in keys]
            pre_tokens = self._tokens(keys)
            fee = FEE_PER_SIGNATURE * nsig
            parsed: list[Parsed] = []
            failed = False
            try:
                payer = self.accounts.get(keys[0])
                if payer is None or payer.lamports < fee:
                    raise TxFailed("Attempt to debit an account but found no record of a prior credit.")
                payer.lamports -= fee
                for ins in message.instructions:
                    program = keys[ins.program_id_index]
                    accounts = [keys[i] for i in bytes(ins.accounts)]
                    parsed.append(self._execute(program, accounts, bytes(ins.data), {k for k, s, _ in flags if s}))
            except TxFailed:
                if not skip_preflight:
                    self._restore(keys, snapshot)
                    raise
                failed = True
                self._restore(keys, snapshot)
                self.accounts[keys[0]].lamports -= fee
                parsed = [self._render(keys[i.program_id_index], [keys[a] for a in bytes(i.accounts)], bytes(i.data))
                          for i in message.instructions]
            self.slot += 1
            record = TxRecord(signature, self.slot, int(self.block_time or time.time()), flags, parsed, recent, pre,
                              [self.accounts.get(k, Account()).lamports for k in keys], pre_tokens,
                              self._tokens(keys), fee, err=failed,
                              version=0 if isinstance(message, MessageV0) else None,
                              header=(nsig, ro_signed, ro_unsigned), static=len(static), lookups=lookups,
                              loaded=(writable, readonly))
            self.txs[signature] = record
            for key in dict.fromkeys(keys):
                self.by_address.setdefault(key, []).append(signature)
            for listener in self.listeners:
                listener(record)
            return signature

    def _load(self, message: Any) -> tuple[list[Lookup], list[str], list[str]]:
        """Keys a v0 message loads from lookup tables: every table's writable ones, then the read-only ones."""
        if not isinstance(message, MessageV0):
            return [], [], []
        lookups: list[Lookup] = []
        writable: list[str] = []
        readonly: list[str] = []
        for entry in message.address_table_lookups:
            table = self.tables.get(str(entry.account_key))
            if table is None:
                raise TxFailed("Transaction loads an address table account that doesn't exist")
            w, r = list(bytes(entry.writable_indexes)), list(bytes(entry.readonly_indexes))
            if max(w + r, default=-1) >= len(table):
                raise TxFailed("Transaction loads an address table account with an invalid index")
            lookups.append(Lookup(str(entry.account_key), w, r))
            writable += [table[i] for i in w]
            readonly += [table[i] for i in r]
        return lookups, writable, readonly

    def _restore(self, keys: list[str], snapshot: dict[str, Account]) -> None:
        for key in keys:
            if key in snapshot:
                self.accounts[key] = snapshot[key]
            else:
                self.accounts.pop(key, None)

    def _tokens(self, keys: list[str]) -> dict[int, Account]:
        return {i: Account(**vars(self.accounts[k])) for i, k in enumerate(keys)
                if k in self.accounts and self.accounts[k].mint is not None}

    def _execute(self, program: str, accounts: list[str], data: bytes, signers: set[str]) -> Parsed:
        if program == SYSTEM_PROGRAM and data[:4] == struct.pack("<I", 2):
            (lamports,) = struct.unpack_from("<Q", data, 4)
            source, destination = accounts[0], accounts[1]
            self._require(source in signers, "missing signature for the transfer source")
            src = self.accounts.get(source)
            self._require(src is not None and src.mint is None and src.lamports >= lamports,
                          "Transfer: insufficient lamports")
            assert src is not None
            dst = self.accounts.setdefault(destination, Account())
            self._require(dst.lamports + lamports >= RENT_SYSTEM_ACCOUNT or dst.lamports + lamports == 0,
                          "InsufficientFundsForRent")
            src.lamports -= lamports
            dst.lamports += lamports
            if src.lamports == 0 and src.mint is None:
                pass  # an emptied system account is garbage-collected; its zero balance reads the same
        elif program == TOKEN_PROGRAM and data[:1] == bytes([12]):
            amount, decimals = struct.unpack_from("<QB", data, 1)
            source, mint, destination, authority = accounts[:4]
            self._require(self.mint_decimals.get(mint) == decimals, "decimals mismatch")
            self._move_tokens(source, destination, authority, amount, signers, mint)
        elif program == TOKEN_PROGRAM and data[:1] == bytes([3]):
            (amount,) = struct.unpack_from("<Q", data, 1)
            self._move_tokens(accounts[0], accounts[1], accounts[2], amount, signers)
        elif program == ROUTER_PROGRAM and data[:1] == bytes([1]):
            (amount,) = struct.unpack_from("<Q", data, 1)
            source, destination, authority = accounts[:3]
            self._move_tokens(source, destination, authority, amount, signers)
            inner = self._render(TOKEN_PROGRAM, [source, destination, authority], bytes([3]) + data[1:9])
            return Parsed(program, None, None, accounts, data, [inner])
        elif program == ROUTER_PROGRAM and data[:1] == bytes([2]):
            # Lamports moved by the program itself, no instruction of its own shows the move.
            (lamports,) = struct.unpack_from("<Q", data, 1)
            src = self.accounts.get(accounts[0])
            self._require(accounts[0] in signers and src is not None and src.lamports >= lamports,
                          "insufficient lamports")
            assert src is not None
            src.lamports -= lamports
            self.accounts.setdefault(accounts[1], Account()).lamports += lamports
        elif program == TOKEN_PROGRAM and data[:1] == bytes([9]):
            account, destination, owner = accounts[:3]
            acct = self.accounts.get(account)
            self._require(acct is not None and acct.owner == owner and owner in signers, "owner does not match")
            assert acct is not None
            self._require(acct.amount == 0, "Non-native account can only be closed if its balance is zero")
            self.accounts.setdefault(destination, Account()).lamports += acct.lamports
            del self.accounts[account]
        elif program == ATA_PROGRAM and data[:1] in (b"", bytes([0]), bytes([1])):
            payer, ata, wallet, mint = accounts[:4]
            self._require(associated_token_address(wallet, mint) == ata, "Provided seeds do not result in a valid"
                                                                          " address")
            if ata not in self.accounts:
                src = self.accounts.get(payer)
                self._require(src is not None and src.lamports >= RENT_TOKEN_ACCOUNT, "insufficient lamports for rent")
                assert src is not None
                src.lamports -= RENT_TOKEN_ACCOUNT
                self.accounts[ata] = Account(RENT_TOKEN_ACCOUNT, mint, wallet)
            elif data[:1] != bytes([1]):
                raise TxFailed("account already in use")
        return self._render(program, accounts, data)

    def _move_tokens(self, source: str, destination: str, authority: str, amount: int, signers: set[str],
                     mint: str | None = None) -> None:
        src, dst = self.accounts.get(source), self.accounts.get(destination)
        self._require(src is not None and dst is not None, "token account not found")
        assert src is not None and dst is not None
        self._require(src.mint == dst.mint and (mint is None or src.mint == mint), "mint mismatch")
        self._require(src.owner == authority and authority in signers, "owner does not match")
        self._require(src.amount >= amount, "insufficient funds")
        src.amount -= amount
        dst.amount += amount

    @staticmethod
    def _require(condition: bool, message: str) -> None:
        if not condition:
            raise TxFailed(message)

    def _render(self, program: str, accounts: list[str], data: bytes) -> Parsed:
        """The jsonParsed form of an instruction (the RPC's documented parsed shapes)."""
        if program == SYSTEM_PROGRAM and data[:4] == struct.pack("<I", 2):
            (lamports,) = struct.unpack_from("<Q", data, 4)
            info = {"destination": accounts[1], "lamports": lamports, "source": accounts[0]}
            return Parsed(program, "system", {"info": info, "type": "transfer"}, accounts, data)
        if program == TOKEN_PROGRAM and data[:1] == bytes([12]):
            amount, decimals = struct.unpack_from("<QB", data, 1)
            ui = _ui_amount(amount, decimals)
            info = {"authority": accounts[3], "destination": accounts[2], "mint": accounts[1], "source": accounts[0],
                    "tokenAmount": {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui),
                                    "uiAmountString": ui}}
            return Parsed(program, "spl-token", {"info": info, "type": "transferChecked"}, accounts, data)
        if program == TOKEN_PROGRAM and data[:1] == bytes([3]):
            (amount,) = struct.unpack_from("<Q", data, 1)
            info = {"amount": str(amount), "authority": accounts[2], "destination": accounts[1],
                    "source": accounts[0]}
            return Parsed(program, "spl-token", {"info": info, "type": "transfer"}, accounts, data)
        if program == TOKEN_PROGRAM and data[:1] == bytes([9]):
            info = {"account": accounts[0], "destination": accounts[1], "owner": accounts[2]}
            return Parsed(program, "spl-token", {"info": info, "type": "closeAccount"}, accounts, data)
        if program == ATA_PROGRAM:
            info = {"account": accounts[1], "mint": accounts[3], "source": accounts[0], "systemProgram": accounts[4],
                    "tokenProgram": accounts[5], "wallet": accounts[2]}
            kind = "createIdempotent" if data[:1] == bytes([1]) else "create"
            return Parsed(program, "spl-associated-token-account", {"info": info, "type": kind}, accounts, data)
        return Parsed(program, None, None, accounts, data)

    # -- queries --------------------------------------------------------------------------------------------

    def signatures_for(self, address: str, before: str | None, until: str | None, limit: int,
                       finalized_only: bool, at_slot: int | None = None) -> list[TxRecord]:
        """Newest first; `at_slot`: as a node that has only reached that slot lists them."""
        with self.lock:
            out: list[TxRecord] = []
            started = before is None
            for signature in reversed(self.by_address.get(address, [])):
                if not started:
                    started = signature == before
                    continue
                if signature == until:
                    break
                record = self.txs[signature]
                if record.dropped or (finalized_only and not record.finalized) \
                        or (at_slot is not None and record.slot > at_slot):
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
            return out


def _ui_amount(amount: int, decimals: int) -> str:
    from decimal import Decimal

    text = format(Decimal(amount).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
