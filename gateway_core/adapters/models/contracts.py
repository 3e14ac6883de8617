"""State of the non-VOLTXT contracts (issue 8): VirtexGate idempotency keys, VeltPay orders and signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway_core.adapters.models.base import Base, utcnow


class VirtexgateIdempotencyKey(Base):
    """An Idempotency-Key sent with POST /api/invoices: the request it stood for and the 201 to replay.

    Scoped to the API key that sent it, so a rotated key starts afresh.
    """

    __tablename__ = "virtexgate_idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_ref", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    api_key_ref: Mapped[str] = mapped_column(String(64))  # names the key, not revealing it (key_limits.Caller)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical JSON body
    # Written in the transaction that claimed the key, so a committed row always has them.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class VeltpayOrder(Base):
    """A VeltPay order's public face: the unguessable UUID of its checkout link and public status endpoint.

    The order id itself ("ord_" + invoice number) needs no row; this one exists because the UUID must not be
    derivable from anything the merchant or the buyer already holds.
    """

    __tablename__ = "veltpay_orders"
    __table_args__ = (Index("ix_veltpay_orders_store_newest", "store_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VeltpaySignature(Base):
    """The signature of an accepted VeltPay request that changes something (a POST), kept while its timestamp
    is inside the window.

    The primary key tells a copy of it (a replay, answered idempotently) from a new request, across every web
    process; rows whose window has passed are deleted, as a stale timestamp is refused before this table is
    consulted. Reads are never recorded.
    """

    __tablename__ = "veltpay_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
