"""Building and signing the gateway's own Solana transactions: deposit token accounts and sweeps.

Instructions are encoded by hand from the programs' documented layouts (solders has the system program;
the SPL token and associated-token-account programs are a few bytes each).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from decimal import Decimal

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from gateway_core.adapters.chains.solana_accounts import associated_token_address
from gateway_core.adapters.chains.solana_parse import ATA_PROGRAM, TOKEN_PROGRAM

TOKEN_PROGRAM_ID = Pubkey.from_string(TOKEN_PROGRAM)
ATA_PROGRAM_ID = Pubkey.from_string(ATA_PROGRAM)
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280  # rent-exempt minimum of a 165-byte token account
USDC_DECIMALS = 6
_TRANSFER_CHECKED, _CLOSE_ACCOUNT, _CREATE_IDEMPOTENT = 12, 9, 1


def _key(value: str | Pubkey) -> Pubkey:
    return value if isinstance(value, Pubkey) else Pubkey.from_string(value)


def create_token_account(payer: Pubkey, owner: str, mint: str) -> Instruction:
    """Associated token account CreateIdempotent: creating it twice is harmless."""
    ata = _key(associated_token_address(owner, mint))
    metas = [AccountMeta(payer, True, True), AccountMeta(ata, False, True), AccountMeta(_key(owner), False, False),
             AccountMeta(_key(mint), False, False), AccountMeta(SYSTEM_PROGRAM_ID, False, False),
             AccountMeta(TOKEN_PROGRAM_ID, False, False)]
    return Instruction(ATA_PROGRAM_ID, bytes([_CREATE_IDEMPOTENT]), metas)


def transfer_checked(source: str, mint: str, destination: str, owner: Pubkey, amount: int,
                     decimals: int = USDC_DECIMALS) -> Instruction:
    """SPL token TransferChecked (the mint and decimals are checked by the program)."""
    metas = [AccountMeta(_key(source), False, True), AccountMeta(_key(mint), False, False),
             AccountMeta(_key(destination), False, True), AccountMeta(owner, True, False)]
    return Instruction(TOKEN_PROGRAM_ID, struct.pack("<BQB", _TRANSFER_CHECKED, amount, decimals), metas)


def close_account(account: str, destination: Pubkey, owner: Pubkey) -> Instruction:
    """SPL token CloseAccount: the account's rent goes to `destination`."""
    metas = [AccountMeta(_key(account), False, True), AccountMeta(destination, False, True),
             AccountMeta(owner, True, False)]
    return Instruction(TOKEN_PROGRAM_ID, bytes([_CLOSE_ACCOUNT]), metas)


def sol_transfer(source: Pubkey, destination: str | Pubkey, lamports: int) -> Instruction:
    return transfer(TransferParams(from_pubkey=source, to_pubkey=_key(destination), lamports=lamports))


@dataclass(frozen=True)
class SignedTx:
    signature: str
    raw: str  # base64 wire bytes, what sendTransaction takes


def sign(instructions: list[Instruction], payer: Keypair, signers: list[Keypair], blockhash: str) -> SignedTx:
    """A legacy transaction paid by `payer`; its first signature is its id, known before it is sent."""
    recent = Hash.from_string(blockhash)
    message = Message.new_with_blockhash(instructions, payer.pubkey(), recent)
    unique = {bytes(k.pubkey()): k for k in [payer, *signers]}
    tx = Transaction(list(unique.values()), message, recent)
    return SignedTx(str(tx.signatures[0]), base64.b64encode(bytes(tx)).decode())


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep moves: everything in the deposit, the platform fee to the gateway, the rent back."""

    sol_to_merchant: int
    sol_fee: int
    token_to_merchant: int
    token_fee: int
    close_token_account: bool

    @property
    def empty(self) -> bool:
        return not (self.sol_to_merchant or self.sol_fee or self.token_to_merchant or self.token_fee
                    or self.close_token_account)


def plan_sweep(lamports: int, tokens: int, token_account_exists: bool, fee_percent: object) -> SweepPlan:
    """Split balances into merchant share and platform fee; the fee rounds down (the merchant is never short)."""
    pct = Decimal(str(fee_percent))

    def fee(amount: int) -> int:
        return int(Decimal(amount) * pct / 100) if amount > 0 else 0

    return SweepPlan(lamports - fee(lamports), fee(lamports), tokens - fee(tokens), fee(tokens), token_account_exists)


def sweep_instructions(plan: SweepPlan, deposit: Pubkey, fee_payer: Pubkey, sol_wallet: str, usdc_wallet: str,
                       mint: str, token_account: str) -> list[Instruction]:
    """Token transfers, the token account closed (rent to the fee payer who paid it), then SOL."""
    out: list[Instruction] = []
    if plan.token_to_merchant or plan.token_fee:
        merchant_ata = associated_token_address(usdc_wallet, mint)
        out.append(create_token_account(fee_payer, usdc_wallet, mint))
        if plan.token_to_merchant:
            out.append(transfer_checked(token_account, mint, merchant_ata, deposit, plan.token_to_merchant))
        if plan.token_fee:
            out.append(create_token_account(fee_payer, str(fee_payer), mint))
            out.append(transfer_checked(token_account, mint, associated_token_address(str(fee_payer), mint),
                                        deposit, plan.token_fee))
    if plan.close_token_account:
        out.append(close_account(token_account, fee_payer, deposit))
    if plan.sol_to_merchant:
        out.append(sol_transfer(deposit, sol_wallet, plan.sol_to_merchant))
    if plan.sol_fee:
        out.append(sol_transfer(deposit, fee_payer, plan.sol_fee))
    return out
