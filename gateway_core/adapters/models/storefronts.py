"""Storefront platforms (issue 7): installations and the invoice of each platform order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway_core.adapters.models.base import Base, ExactJSON, utcnow
from gateway_core.adapters.models.invoices import Invoice
from gateway_core.adapters.models.stores import Store


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
