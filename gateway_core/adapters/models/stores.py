"""A store, its wallets and logo, and its API keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway_core.adapters.models.base import Base, ExactJSON, utcnow


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
