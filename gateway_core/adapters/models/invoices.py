"""An invoice and what hangs on it: its quotes, the payments seen for it, its events, the merchant's decisions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway_core.adapters.models.base import Base, ExactJSON, utcnow
from gateway_core.adapters.models.stores import Store


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("store_id", "kind", "external_id"),
        Index("ix_invoices_open_expiry", "status", "expires_at"),
        # The dashboard's invoice list (gateway_core/invoices/listing.py): newest first per store, by status,
        # by listed asset; prefix search on number, external id and email. text_pattern_ops: PostgreSQL
        # walks them for byte-order prefix ranges whatever the database's collation.
        Index("ix_invoices_store_created", "store_id", "created_at", "id"),
        Index("ix_invoices_store_status_created", "store_id", "status", "created_at", "id"),
        Index("ix_invoices_store_number", "store_id", "number", postgresql_ops={"number": "text_pattern_ops"}),
        Index("ix_invoices_store_external_id", "store_id", "external_id",
              postgresql_ops={"external_id": "text_pattern_ops"}),
    )  # and the two expression indexes after the class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))  # indexed first in ix_invoices_store_created
    kind: Mapped[str] = mapped_column(String(16), default="invoice")  # invoice | dynamic
    # The wire contract the invoice was created through: its webhooks and status names follow that contract.
    contract: Mapped[str] = mapped_column(String(16), default="voltxt", server_default="voltxt")
    external_id: Mapped[str | None] = mapped_column(String(191))
    platform: Mapped[str | None] = mapped_column(String(50))
    network: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    overpaid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_late: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the storefront asked for: an amount in a fiat currency (minor units) or in an asset (base units).
    amount_type: Mapped[str] = mapped_column(String(8))
    price_currency: Mapped[str] = mapped_column(String(10))
    price_units: Mapped[int] = mapped_column(BigInteger)
    # Decimals the client wrote the price with ("120.00": 2), for contracts that echo it as written (VeltPay).
    price_scale: Mapped[int | None] = mapped_column(Integer)
    fiat_currency: Mapped[str] = mapped_column(String(3))
    fiat_minor: Mapped[int] = mapped_column(BigInteger)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    success_url: Mapped[str | None] = mapped_column(String(2048))
    cancel_url: Mapped[str | None] = mapped_column(String(2048))
    extra: Mapped[dict[str, Any] | None] = mapped_column("metadata", ExactJSON)
    chosen_asset: Mapped[str | None] = mapped_column(String(10))
    paid_asset: Mapped[str | None] = mapped_column(String(10))
    payment_tx_id: Mapped[str | None] = mapped_column(String(128))
    auto_process_tx_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    store: Mapped[Store] = relationship(lazy="joined")
    quotes: Mapped[list[Quote]] = relationship(
        back_populates="invoice", lazy="selectin", order_by="Quote.position", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="invoice", lazy="selectin", order_by="Payment.id"
    )

    def quote_for(self, asset_code: str) -> Quote | None:
        return next((q for q in self.quotes if q.asset == asset_code), None)


# The invoice list's expressions (listing.py builds its filters from these very ones, so SQLite matches them).
INVOICE_LISTED_ASSET = func.coalesce(Invoice.paid_asset, Invoice.chosen_asset)
INVOICE_EMAIL_KEY = func.lower(Invoice.customer_email)
Index("ix_invoices_store_asset_created", Invoice.store_id, INVOICE_LISTED_ASSET, Invoice.created_at, Invoice.id)
Index("ix_invoices_store_email", Invoice.store_id, INVOICE_EMAIL_KEY.label("email_key"),
      postgresql_ops={"email_key": "text_pattern_ops"})


class Quote(Base):
    """What the buyer owes in one asset, where to send it, and the reference that ties a transfer to it."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("invoice_id", "asset"), Index("ix_quotes_chain_address", "chain", "address"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    asset: Mapped[str] = mapped_column(String(10))
    chain: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    amount_due: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[Decimal] = mapped_column()
    rate_currency: Mapped[str] = mapped_column(String(10))
    # When this quote's amount stops holding: the lock of a volatile asset (SOL), else the invoice's expiry.
    expires_at: Mapped[datetime] = mapped_column()
    # Quote locks (issue 18): where the rate came from and when; the quote a re-quote replaced, whose
    # reference and amount are still honoured until prior_honoured_until (the lapse plus the grace).
    rate_sources: Mapped[str | None] = mapped_column(String(200))
    rated_at: Mapped[datetime | None] = mapped_column()
    prior_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    prior_amount_due: Mapped[int | None] = mapped_column(BigInteger)
    prior_rate: Mapped[Decimal | None] = mapped_column()
    prior_honoured_until: Mapped[datetime | None] = mapped_column()

    invoice: Mapped[Invoice] = relationship(back_populates="quotes")


class Payment(Base):
    """One observed transfer; unique per chain, transaction and transfer index so nothing counts twice."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("chain", "tx_id", "transfer_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(16))
    network: Mapped[str] = mapped_column(String(16))
    tx_id: Mapped[str] = mapped_column(String(128))
    transfer_index: Mapped[int] = mapped_column(Integer, default=0)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))
    asset: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    to_address: Mapped[str] = mapped_column(String(128))
    from_address: Mapped[str | None] = mapped_column(String(128))
    reference: Mapped[str | None] = mapped_column(String(64))
    block_time: Mapped[datetime] = mapped_column()
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    final: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    finalized_at: Mapped[datetime | None] = mapped_column()
    # matched | late | unmatched: late and unmatched transfers are kept and reported, never dropped.
    disposition: Mapped[str] = mapped_column(String(16), default="matched")
    # Quote locks (issue 18): the amount due this payment is measured against when not its quote's current one
    # (a payment to a replaced quote within the grace); stale_quote flags one that came after the grace.
    due_basis: Mapped[int | None] = mapped_column(BigInteger)
    stale_quote: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A stale payment is valued at the rate when it was seen (valued_rate, taken at valued_at); when no fresh
    # rate could be had then, it waits (awaiting_rate: recorded and flagged, not yet counted) for the worker.
    awaiting_rate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    valued_rate: Mapped[Decimal | None] = mapped_column()
    valued_at: Mapped[datetime | None] = mapped_column()

    invoice: Mapped[Invoice | None] = relationship(back_populates="payments")


class Event(Base):
    """Something that happened to an invoice, in canonical terms; contracts render it their own way."""

    __tablename__ = "events"

    # The integer id orders events; event_id is the stable public id receivers dedupe on.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InvoiceDecision(Base):
    """What the merchant decided about an underpaid, late or overpaid invoice (issue 22): kept, never edited.

    A later decision is a new row; the page shows them all, newest first. The email is kept beside the user id so
    the record still says who after the account is deleted.
    """

    __tablename__ = "invoice_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # accepted | refund_due
    note: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column()


class PaymentAttachment(Base):
    """A payment from the inbox the merchant attached to an invoice (issue 22): who, when, and where it was.

    One row per payment (unique): a payment is attached at most once.
    """

    __tablename__ = "payment_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    from_disposition: Mapped[str] = mapped_column(String(16))  # unmatched | wrong_asset
    from_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column()
