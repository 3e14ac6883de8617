"""What the chain watchers keep: their cursors, the sandbox ledger, Solana deposit keys and sweeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway_core.adapters.models.base import Base, utcnow


class ChainCursor(Base):
    """How far a watcher has read a chain, so restarts and outages miss nothing."""

    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128), primary_key=True, default="")
    position: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SandboxTransfer(Base):
    """The sandbox network's ledger: transfers added by the pay page and `voltbridge simulate pay`."""

    __tablename__ = "sandbox_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_id: Mapped[str] = mapped_column(String(128), unique=True)
    asset: Mapped[str] = mapped_column(String(10))
    from_address: Mapped[str] = mapped_column(String(128))
    to_address: Mapped[str] = mapped_column(String(128), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SolanaDeposit(Base):
    """A deposit-mode invoice's Solana key: its row id is the derivation index, so no private key is stored."""

    __tablename__ = "solana_deposits"
    # AUTOINCREMENT on SQLite too: an index is never handed out twice, even after a rolled-back creation.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), unique=True)
    network: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64), unique=True)
    token_account: Mapped[str | None] = mapped_column(String(64))
    rent_lamports: Mapped[int] = mapped_column(BigInteger, default=0)
    init_tx_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SolanaSweep(Base):
    """A deposit's sweep to the merchant, recorded before it is sent so a crash can never send it twice.

    status: sent (signed, recorded, maybe on the wire) -> done | expired (blockhash passed, never landed:
    a new attempt may be built) | failed (landed with an error: retried after a fresh balance read).
    """

    __tablename__ = "solana_sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="sent")
    tx_id: Mapped[str] = mapped_column(String(128), unique=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    last_valid_block_height: Mapped[int] = mapped_column(BigInteger)
    sol_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    token_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
