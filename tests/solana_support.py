"""Shared pieces of the Solana tests and benchmark: a buyer's wallet that pays through the fake cluster."""

from __future__ import annotations

import struct
from datetime import datetime

from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_tx import (
    TOKEN_PROGRAM_ID,
    create_token_account,
    sol_transfer,
    transfer_checked,
)
from tests.fakes.solana_ledger import ROUTER_PROGRAM
from tests.fakes.solana_rpc import FakeSolanaRpc

USDC_DEVNET = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
OTHER_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"  # any mint that is not the network's USDC
SEED_HEX = "000102030405060708090a0b0c0d0e0f"


def with_reference(instruction: Instruction, reference: str | None, *more: str) -> Instruction:
    """Solana Pay: the reference rides as a read-only, non-signer account of the transfer instruction (after
    any other extra keys in `more`)."""
    extra = [*more, *([reference] if reference else [])]
    if not extra:
        return instruction
    metas = [*instruction.accounts, *(AccountMeta(Pubkey.from_string(k), False, False) for k in extra)]
    return Instruction(instruction.program_id, instruction.data, metas)


def token_transfer(source: str, destination: str, owner: Pubkey, amount: int) -> Instruction:
    """SPL token Transfer (no mint check), as older wallets and programs send it."""
    metas = [AccountMeta(Pubkey.from_string(source), False, True),
             AccountMeta(Pubkey.from_string(destination), False, True), AccountMeta(owner, True, False)]
    return Instruction(TOKEN_PROGRAM_ID, struct.pack("<BQ", 3, amount), metas)


def routed_token_payment(source: str, destination: str, owner: Pubkey, amount: int, *extra: str) -> Instruction:
    """A call to the fake router, which moves the tokens by CPI (the transfer is an inner instruction)."""
    metas = [AccountMeta(Pubkey.from_string(source), False, True),
             AccountMeta(Pubkey.from_string(destination), False, True), AccountMeta(owner, True, False),
             AccountMeta(TOKEN_PROGRAM_ID, False, False),
             *(AccountMeta(Pubkey.from_string(k), False, False) for k in extra)]
    return Instruction(Pubkey.from_string(ROUTER_PROGRAM), struct.pack("<BQ", 1, amount), metas)


def unparsed_lamports(payer: Pubkey, recipient: str, lamports: int) -> Instruction:
    """Lamports moved by a program with no transfer instruction to show for it."""
    metas = [AccountMeta(payer, True, True), AccountMeta(Pubkey.from_string(recipient), False, True)]
    return Instruction(Pubkey.from_string(ROUTER_PROGRAM), struct.pack("<BQ", 2, lamports), metas)


class Buyer:
    """A wallet with SOL and tokens on the fake cluster; pays like a Solana Pay wallet."""

    def __init__(self, fake: FakeSolanaRpc, lamports: int = 100 * 10**9, tokens: dict[str, int] | None = None):
        self.fake = fake
        self.key = Keypair()
        self.address = str(self.key.pubkey())
        fake.ledger.fund(self.address, lamports)
        for mint, amount in (tokens or {USDC_DEVNET: 10_000 * 10**6}).items():
            fake.ledger.give_tokens(self.address, mint, amount)

    def at(self, when: datetime) -> Buyer:
        """Stamp the next transactions with this block time."""
        self.fake.ledger.block_time = when.timestamp()
        return self

    def send(self, instructions: list[Instruction], skip_preflight: bool = False) -> str:
        blockhash, _ = self.fake.ledger.blockhash()
        message = Message.new_with_blockhash(instructions, self.key.pubkey(), Hash.from_string(blockhash))
        tx = Transaction([self.key], message, Hash.from_string(blockhash))
        # Straight to the cluster: a buyer's wallet uses its own endpoint, which our outages do not touch.
        return self.fake.ledger.submit(bytes(tx), skip_preflight)

    def send_v0(self, instructions: list[Instruction], tables: dict[str, list[str]]) -> str:
        """A v0 transaction whose message loads keys from the given lookup tables (address -> keys)."""
        blockhash, _ = self.fake.ledger.blockhash()
        accounts = [AddressLookupTableAccount(Pubkey.from_string(t), [Pubkey.from_string(k) for k in keys])
                    for t, keys in tables.items()]
        message = MessageV0.try_compile(self.key.pubkey(), instructions, accounts, Hash.from_string(blockhash))
        return self.fake.ledger.submit(bytes(VersionedTransaction(message, [self.key])))

    def pay_sol(self, recipient: str, lamports: int, reference: str | None = None, **kw: bool) -> str:
        return self.send([with_reference(sol_transfer(self.key.pubkey(), recipient, lamports), reference)], **kw)

    def pay_token(self, recipient: str, amount: int, reference: str | None = None, mint: str = USDC_DEVNET,
                  **kw: bool) -> str:
        """TransferChecked to the recipient's associated token account, created first if missing."""
        source = associated_token_address(self.address, mint)
        destination = associated_token_address(recipient, mint)
        transfer = with_reference(transfer_checked(source, mint, destination, self.key.pubkey(), amount), reference)
        return self.send([create_token_account(self.key.pubkey(), recipient, mint), transfer], **kw)
