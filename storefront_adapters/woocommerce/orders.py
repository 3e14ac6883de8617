"""Use cases of the REST-only WooCommerce integration: connect a site, invoice one of its orders.

One invoice per Woo order and total, whatever the retries or concurrent requests: the invoice's external id
carries the site, the order and a hash of the total (create_invoice is idempotent on it), and the
PlatformOrder row is unique per (site, order).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import PlatformInstallation, Store
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.platform_orders import order_invoice
from gateway_core.views import InvoiceView
from storefront_adapters.woocommerce.adapter import PLATFORM, WooCommerceAdapter, wanted_events
from storefront_adapters.woocommerce.channel import decrypt_credentials


def normalise_site_url(url: str) -> str:
    """https://shop.example.com (no trailing slash, no query): the installation's account."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValidationFailed("Invalid site URL", errors={"site_url": "an http(s) URL like https://shop.example.com"})
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def connect_site(uow: UnitOfWork, vault: Any, store: Store, site_url: str, consumer_key: str,
                 consumer_secret: str, webhook_secret: str | None = None) -> tuple[PlatformInstallation, str]:
    """Store (or replace) a site's REST credentials; returns the installation and its order-webhook secret."""
    account = normalise_site_url(site_url)
    if not consumer_key.startswith("ck_") or not consumer_secret.startswith("cs_"):
        raise ValidationFailed("Invalid WooCommerce keys", errors={
            "consumer_key": "WooCommerce consumer keys start with ck_ and secrets with cs_"})
    session = uow.session
    installation = session.execute(select(PlatformInstallation).where(
        PlatformInstallation.platform == PLATFORM, PlatformInstallation.account == account)).scalar_one_or_none()
    if installation is not None and installation.store_id != store.id:
        raise ValidationFailed("Site already connected", errors={"site_url": "connected to another store"})
    previous = decrypt_credentials(installation, vault) if installation is not None else {}
    secret = webhook_secret or previous.get("webhook_secret") or secrets.token_urlsafe(32)
    credentials = vault.encrypt(json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret,
                                            "webhook_secret": secret}))
    if installation is None:
        installation = PlatformInstallation(platform=PLATFORM, account=account, store_id=store.id)
        session.add(installation)
    installation.credentials_encrypted = credentials
    installation.data = {"auth": "basic" if account.startswith("https://") else "oauth1"}
    session.flush()
    return installation, secret


def installation_for(uow: UnitOfWork, store: Store, ref: str | int) -> PlatformInstallation:
    """A connected site of this store, by installation id or site URL."""
    session = uow.session
    text = str(ref)
    query = select(PlatformInstallation).where(PlatformInstallation.platform == PLATFORM,
                                               PlatformInstallation.store_id == store.id)
    if text.isdigit():
        found = session.execute(query.where(PlatformInstallation.id == int(text))).scalar_one_or_none()
    else:
        found = session.execute(query.where(
            PlatformInstallation.account == normalise_site_url(text))).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("Site not connected", errors={"site": f"{text} is not connected to this store "
                                                                    "(voltbridge woocommerce connect)"})
    return found


def invoice_for_order(uow: UnitOfWork, services: Any, installation: PlatformInstallation,
                      payload: dict[str, Any]) -> tuple[InvoiceView, bool]:
    """The invoice of a Woo order (REST/webhook JSON): created once, reused for the same total.

    A changed total cancels the old invoice if nobody paid it and makes a new one; if the old one has a
    payment, InvalidState: the merchant settles that order by hand.
    """
    store = installation.store
    order = WooCommerceAdapter(installation.id).order_from_request(payload)
    data = {"order_id": order.order_id, "events": wanted_events(store.settlement_mode)}
    found = order_invoice(uow, services.invoicing, store, installation.id, order.order_id, order.request,
                          lambda _number: data)
    return found.view, found.created
