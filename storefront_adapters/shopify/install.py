"""Installing the app on a shop: the operator's consent, OAuth's code exchange, and what uninstalling and
Shopify's privacy webhooks remove.

A shop is mapped to a store only by the gateway's operator (`voltbridge shopify allow <store> --shop <shop>`):
OAuth proves who the shop is, never which store it may pay into. Installing without that consent is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, select, update
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.jsonwire import dumps, iso, loads
from gateway_core.adapters.models import (
    Delivery,
    DeliveryAttempt,
    Email,
    Event,
    Invoice,
    PlatformInstallation,
    WebhookEndpoint,
)
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import ValidationFailed
from gateway_core.ports import Clock, WebhookTransport
from gateway_core.stores.manage import find_store
from storefront_adapters.shopify.adapter import PLATFORM
from storefront_adapters.shopify.calls import enqueue_call
from storefront_adapters.shopify.errors import ShopNotAllowed, TokenExchangeFailed
from storefront_adapters.shopify.sessions import installation_for
from storefront_adapters.shopify.wire import access_token_url, shop_domain, shop_origin


@dataclass(frozen=True)
class Allowed:
    shop: str
    store_id: int
    store_name: str
    test_store_id: int | None
    installed: bool


def allow_shop(uow: UnitOfWork, clock: Clock, store_ref: str, shop_text: str,
               test_store_ref: str | None = None) -> Allowed:
    """Let this shop install the app and pay into this store (test sessions into test_store if given)."""
    shop = shop_domain(shop_text)
    if shop is None:
        raise ValidationFailed("Invalid shop", errors={"shop": "must be the shop's *.myshopify.com domain"})
    store = find_store(uow, store_ref)
    test_store = find_store(uow, test_store_ref) if test_store_ref else None
    if test_store is not None and test_store.network == "mainnet":
        raise ValidationFailed("Invalid test store", errors={"test_store": "must be a sandbox or devnet store"})
    session, now = uow.session, clock.now()
    installation = installation_for(session, shop)
    test_store_id = test_store.id if test_store else None
    data: dict[str, Any] = {"shop": shop, "test_store_id": test_store_id, "allowed_at": iso(now)}
    if installation is None:
        installation = PlatformInstallation(platform=PLATFORM, account=shop_origin(shop), store_id=store.id,
                                            data=data, created_at=now, updated_at=now)
        session.add(installation)
    else:
        installation.store_id = store.id
        installation.data = {**(installation.data or {}), **data}
        installation.updated_at = now
    session.flush()
    return Allowed(shop, store.id, store.name, test_store_id, bool(installation.credentials_encrypted))


def allowed_installation(session: Session, shop: str) -> PlatformInstallation:
    installation = installation_for(session, shop)
    if installation is None:
        raise ShopNotAllowed(f"{shop} may not install this app yet: the gateway's operator runs "
                             f"'voltbridge shopify allow <store> --shop {shop}' first")
    return installation


def exchange_code(transport: WebhookTransport, origin: str, api_key: str, api_secret: str, code: str,
                  timeout: float) -> tuple[str, str]:
    """POST /admin/oauth/access_token: the authorization code for an offline access token and its scopes."""
    body = dumps({"client_id": api_key, "client_secret": api_secret, "code": code}).encode()
    result = transport.post(access_token_url(origin), body,
                            {"Content-Type": "application/json", "Accept": "application/json"}, timeout)
    if not result.ok:
        raise TokenExchangeFailed(f"Shopify did not exchange the authorization code "
                                  f"({result.error or f'HTTP {result.status}'})")
    try:
        answer = loads(result.body)
    except ValueError:
        answer = None
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenExchangeFailed("Shopify's token response has no access_token")
    scope = answer.get("scope") if isinstance(answer, dict) else ""
    return token, scope if isinstance(scope, str) else ""


def missing_scopes(granted: str, required: str) -> list[str]:
    # Shopify may list write_x without read_x: a write scope implies the read one.
    have = {s.strip() for s in granted.split(",") if s.strip()}
    have |= {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}
    return [s.strip() for s in required.split(",") if s.strip() and s.strip() not in have]


def record_token(uow: UnitOfWork, vault: KeyVault, clock: Clock, shop: str, token: str, scope: str) -> None:
    """Keep the shop's token encrypted and queue paymentsAppConfigure, which marks the app ready on the shop."""
    session, now = uow.session, clock.now()
    installation = allowed_installation(session, shop)
    installation.credentials_encrypted = vault.encrypt(dumps({"access_token": token}))
    data: dict[str, Any] = {**(installation.data or {}), "scope": scope, "installed_at": iso(now)}
    data.pop("uninstalled_at", None)
    installation.data, installation.updated_at = data, now
    enqueue_call(session, installation, "configure", "payments_app.configure", now,
                 external_handle=f"voltbridge: {installation.store.name}"[:255])


def uninstall(session: Session, shop: str, now: datetime) -> bool:
    """app/uninstalled: the token is useless from now on; drop it (the consent to install stays)."""
    installation = installation_for(session, shop)
    if installation is None:
        return False
    installation.credentials_encrypted = None
    installation.data = {**(installation.data or {}), "uninstalled_at": iso(now)}
    installation.updated_at = now
    return True


REDACTED_SHOP = "redacted-shop"


def redact_shop(session: Session, shop: str) -> bool:
    """shop/redact (48 hours after uninstalling): forget the shop: its installation, its session records, and
    its domain wherever it was written (invoice descriptions and URLs, delivery bodies and the answers Shopify
    gave, emails, events, the endpoint of its API).

    Invoices stay: they are the merchant's payment records on their own gateway, with the domain replaced.
    """
    installation = installation_for(session, shop)
    if installation is None:
        return False
    store_ids = {installation.store_id, (installation.data or {}).get("test_store_id")} - {None}
    invoices = session.execute(select(Invoice).where(Invoice.contract == PLATFORM, Invoice.store_id.in_(store_ids)))
    for invoice in invoices.scalars():
        if (invoice.extra or {}).get("shop") == shop:
            invoice.extra = {k: v for k, v in (invoice.extra or {}).items() if k != "shop"}
    session.flush()
    in_stores = {Invoice: Invoice.store_id.in_(store_ids), Delivery: Delivery.store_id.in_(store_ids),
                 Email: Email.store_id.in_(store_ids), Event: Event.store_id.in_(store_ids),
                 WebhookEndpoint: WebhookEndpoint.store_id.in_(store_ids),
                 DeliveryAttempt: DeliveryAttempt.delivery_id.in_(
                     select(Delivery.id).where(Delivery.store_id.in_(store_ids)))}
    for model, columns in _SHOP_TEXT.items():
        for column in columns:
            text = cast(getattr(model, column), Text)  # JSON columns too: as their stored text
            session.execute(update(model).where(in_stores[model], text.contains(shop))
                            .values({column: func.replace(text, shop, REDACTED_SHOP)})
                            .execution_options(synchronize_session=False))
    session.delete(installation)
    return True


# Where a shop's domain can be written: the text columns of rows about the store's invoices.
_SHOP_TEXT: dict[Any, tuple[str, ...]] = {
    Invoice: ("description", "extra", "success_url", "cancel_url"),
    Delivery: ("body", "headers", "last_error"),
    DeliveryAttempt: ("error", "response_excerpt"),
    Email: ("subject", "text_body", "html_body"),
    Event: ("data",),
    WebhookEndpoint: ("url",),
}


def redact_customer(session: Session, shop: str, email: str | None) -> int:
    """customers/redact: we never store Shopify buyers' details; clear any that reached an invoice anyway."""
    installation = installation_for(session, shop)
    if installation is None or not email:
        return 0
    store_ids = {installation.store_id, (installation.data or {}).get("test_store_id")} - {None}
    result = session.execute(
        update(Invoice).where(Invoice.contract == PLATFORM, Invoice.store_id.in_(store_ids),
                              Invoice.customer_email == email)
        .values(customer_email=None, customer_name=None).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
