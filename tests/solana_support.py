"""Shared pieces of the Solana tests and benchmark: a buyer's wallet that pays through the fake cluster."""

from __future__ import annotations

from datetime import datetime

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from gateway_core.adapters.chains.solana import associated_token_address
from gateway_core.adapters.chains.solana_tx import create_token_account, sol_transfer, transfer_checked
from tests.fakes.solana_rpc import FakeSolanaRpc

USDC_DEVNET = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
OTHER_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"  # any mint that is not the network's USDC
SEED_HEX = "000102030405060708090a0b0c0d0e0f"


def with_reference(instruction: Instruction, reference: str | None) -> Instruction:
    """Solana Pay: the reference rides as a read-only, non-signer account of the transfer instruction."""
    if not reference:
        return instruction
    metas = [*instruction.accounts, AccountMeta(Pubkey.from_string(reference), False, False)]
    return Instruction(instruction.program_id, instruction.data, metas)


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

    def pay_sol(self, recipient: str, lamports: int, reference: str | None = None, **kw: bool) -> str:
        return self.send([with_reference(sol_transfer(self.key.pubkey(), recipient, lamports), reference)], **kw)

    def pay_token(self, recipient: str, amount: int, reference: str | None = None, mint: str = USDC_DEVNET,
                  **kw: bool) -> str:
        """TransferChecked to the recipient's associated token account, created first if missing."""
        source = associated_token_address(self.address, mint)
        destination = associated_token_address(recipient, mint)
        transfer = with_reference(transfer_checked(source, mint, destination, self.key.pubkey(), amount), reference)
        return self.send([create_token_account(self.key.pubkey(), recipient, mint), transfer], **kw)
