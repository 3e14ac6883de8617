"""The notifications outbox (issue 4): webhook endpoints, deliveries and their attempts, emails sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway_core.adapters.models.base import Base, ExactJSON, utcnow
from gateway_core.adapters.models.invoices import Event


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
