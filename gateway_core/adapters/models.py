"""SQLAlchemy 2 tables of the payment domain. Money is stored as integer base/minor units or exact text."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway_core.adapters.jsonwire import dumps_exact, loads


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact Decimal stored as text: SQLite has no exact numeric type."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class ExactJSON(TypeDecorator[Any]):
    """JSON stored as text with Decimals kept exact (storefront metadata may carry prices)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dumps_exact(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), Decimal: DecimalText(), dict[str, Any]: ExactJSON()}


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    network: Mapped[str] = mapped_column(String(16))
    settlement_mode: Mapped[str] = mapped_column(String(16), default="direct")
    platform_fee_percent: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    underpayment_tolerance_percent: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    default_expiry_hours: Mapped[int] = mapped_column(Integer, default=24)
    webhook_secret: Mapped[str] = mapped_column(String(128))
    notification_email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_events: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)
    website_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Notifications (issue 4): merchant email on the store's events, and the branding of those emails.
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    brand_color: Mapped[str | None] = mapped_column(String(16))
    support_email: Mapped[str | None] = mapped_column(String(320))
    # Issue 19: the language of the store's merchant emails (a file under locales/).
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    # TRON (issue 6): the merchant's account xpub (m/44'/195'/0') and the next deposit address index.
    tron_xpub: Mapped[str | None] = mapped_column(String(128))
    tron_next_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    wallets: Mapped[list[StoreWallet]] = relationship(
        back_populates="store", lazy="selectin", cascade="all, delete-orphan"
    )

    def wallet_for(self, asset_code: str) -> str | None:
        return next((w.address for w in self.wallets if w.asset == asset_code), None)


class StoreLogo(Base):
    """A store's logo for the payment page and its emails, served by the gateway at /logo/<digest>.

    Its own table: stores are read on every request, the image only when a page or an email shows it.
    """

    __tablename__ = "store_logos"
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the bytes: URLs change with the image
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreWallet(Base):
    """The merchant's destination address for one asset."""

    __tablename__ = "store_wallets"
    __table_args__ = (UniqueConstraint("store_id", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    asset: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(128))

    store: Mapped[Store] = relationship(back_populates="wallets")


class ApiKey(Base):
    """A store's key: looked up by SHA-256 digest; kept encrypted because store webhooks are signed with it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="voltxt")
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    encrypted: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    # Written at most once a minute per key (gateway_core.keys.usage), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column()
    # Contracts whose keys have a public id besides the secret (VeltPay's key_id; the secret is `encrypted`).
    public_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Requests per minute for this key where its contract limits them (None: the contract's default).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)


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


class WorkerMetric(Base):
    """A figure a worker published at its last tick (issue 23): its heartbeat, watcher lag, RPC counters."""

    __tablename__ = "worker_metrics"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Canonical JSON of the labels ({} for none), so one row per (name, labels, worker).
    labels: Mapped[str] = mapped_column(String(255), primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Decimal] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(index=True)


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


# -- notifications outbox (issue 4) ------------------------------------------------------------------------


class WebhookEndpoint(Base):
    """A URL the gateway posts to: the store's webhook or one invoice callback URL, each with its own whsec_."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("store_id", "kind", "url_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # store | callback
    url: Mapped[str] = mapped_column(String(2048))
    url_digest: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(80))  # Standard Webhooks signing secret, whsec_<base64>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One message to one destination (webhook endpoint or mailbox), written with the event that caused it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        # The dispatcher keeps one invoice's events in order per endpoint (an anti-join on these columns).
        Index("ix_deliveries_endpoint_invoice", "endpoint_id", "invoice_number", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL for account emails (password reset, invite), which belong to no store.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    event_ref: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    # The public event id receivers dedupe on (webhook-id): the same across retries and redeliveries.
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    invoice_number: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # callback | store | email
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    recipient: Mapped[str | None] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)
    # pending -> sending (claimed) -> delivered | pending (retry) | dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    first_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    dead_at: Mapped[datetime | None] = mapped_column()
    is_redelivery: Mapped[bool] = mapped_column(Boolean, default=False)
    redelivery_of: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    endpoint: Mapped[WebhookEndpoint | None] = relationship(lazy="joined")
    event: Mapped[Event | None] = relationship()


class DeliveryAttempt(Base):
    """One try of a delivery: when, the answer, how long it took, what went wrong, and a short excerpt."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class Email(Base):
    """Every email the gateway sent (or, with the log mailer, wrote to the log): kept for the merchant's record."""

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(400))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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


# -- other contracts and storefront platforms (issues 7 and 8) ---------------------------------------------


class ContractWebhook(Base):
    """A store's webhook URL and signing secret for one non-VOLTXT contract (virtexgate, veltpay, venta)."""

    __tablename__ = "contract_webhooks"
    __table_args__ = (UniqueConstraint("store_id", "contract"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    contract: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    secret_encrypted: Mapped[str] = mapped_column(Text)  # KeyVault-encrypted; signing needs it in the clear
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlatformInstallation(Base):
    """One storefront install (a Saleor instance, a Shopify shop, a WooCommerce site) mapped to a store."""

    __tablename__ = "platform_installations"
    __table_args__ = (UniqueConstraint("platform", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # woocommerce | saleor | shopify
    account: Mapped[str] = mapped_column(String(512))  # Saleor API URL, Shopify shop domain, WooCommerce site URL
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)  # KeyVault-encrypted JSON (tokens, keys)
    data: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)  # non-secret facts (app id, JWKS, scopes)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    store: Mapped[Store] = relationship()


class PlatformOrder(Base):
    """The one invoice of one platform order (or payment session / transaction), whatever the retries."""

    __tablename__ = "platform_orders"
    __table_args__ = (UniqueConstraint("installation_id", "order_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("platform_installations.id", ondelete="CASCADE"), index=True)
    order_ref: Mapped[str] = mapped_column(String(255))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)  # what the platform needs to report back
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    installation: Mapped[PlatformInstallation] = relationship(lazy="joined")
    invoice: Mapped[Invoice] = relationship()


# -- VirtexGate contract (issue 8) --------------------------------------------------------------------------


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


# -- VeltPay contract (issue 8) -----------------------------------------------------------------------------


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


class ParkedItem(Base):
    """Work the worker could not do for one item (a transfer, an invoice's finality or expiry), kept to retry.

    A failure is parked here, with its backoff, instead of stopping the tick for every other item; a transfer
    parked here is safe to read past (the chain cursor advances), because its facts are in `payload`.
    """

    __tablename__ = "parked_items"
    __table_args__ = (UniqueConstraint("kind", "item_key"), Index("ix_parked_items_due", "kind", "next_try_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # transfer | finality | expiry
    scope: Mapped[str] = mapped_column(String(64), default="")  # chain:network for transfers
    item_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(ExactJSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str] = mapped_column(Text, default="")
    first_failed_at: Mapped[datetime] = mapped_column()
    next_try_at: Mapped[datetime] = mapped_column()


class User(Base):
    """A person who signs in to the dashboard (issue 22); the first one created is the server admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id, with its parameters
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Two-factor: the TOTP secret (encrypted by the KeyVault) once confirmed, and the last time step a code was
    # accepted for, so one code signs in once.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its digest, so a session can be revoked."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class RecoveryCode(Base):
    """A two-factor recovery code (its SHA-256: the codes are random), good once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column()


class StoreMember(Base):
    """A user's role in one store: owner, manager or viewer."""

    __tablename__ = "store_members"
    __table_args__ = (UniqueConstraint("store_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
