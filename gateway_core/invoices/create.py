"""Creating an invoice: the one path every contract and storefront takes.

Validate and price the request and draft its rows (no database), then write them in the caller's transaction
(insert.py). An identical retry finds the first invoice through the unique (store, kind, external id); a retry
that changed the amount, currency or platform is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.adapters.rates.book import rates_for_network
from gateway_core.domain import money
from gateway_core.domain.errors import DuplicateExternalId, InvalidApiKey, NoDestinationWallet, ValidationFailed
from gateway_core.domain.identifiers import new_invoice_number, new_solana_pubkey, new_tron_address
from gateway_core.domain.lifecycle import Status
from gateway_core.invoices.insert import Draft, PlatformLink, write_new_invoice
from gateway_core.invoices.manage import (
    MAX_EXPIRY_HOURS,
    MIN_EXPIRY_HOURS,
    MIN_TTL,
    InvoiceRequest,
    Priced,
    accepted_assets,
    chain_for,
    check_limits,
    invoice_by_external_id,
    price,
    quote_terms,
)
from gateway_core.keys.api_keys import Caller, KeyCache
from gateway_core.notifications.outbox import check_callback_url
from gateway_core.payments.allocation import Allocator
from gateway_core.ports import Clock, RateSource
from gateway_core.views import InvoiceView, StoreSnapshot, invoice_view

DEFAULT_LIMITS = (Decimal("0.01"), Decimal("1000000"))


@dataclass(frozen=True)
class Invoicing:
    """What creation needs besides the request: prices, time, amount limits (USD), the outbound allow-list,
    the chains' address allocators, and the key cache to tell when a cached key turns out to be revoked."""

    rates: RateSource
    clock: Clock
    limits: tuple[Decimal, Decimal] = DEFAULT_LIMITS
    outbound_allowlist: Sequence[str] = ()
    allocators: Mapping[str, Allocator] = field(default_factory=dict)
    keys: KeyCache | None = None


@dataclass(frozen=True)
class Created:
    """The invoice a create answers with, whether this request wrote it, and its row id."""

    view: InvoiceView
    created: bool
    invoice_id: int


def create_invoice(
    uow: UnitOfWork, store: Store | StoreSnapshot, request: InvoiceRequest, invoicing: Invoicing, *,
    key: Caller | None = None, link: PlatformLink | None = None,
) -> Created:
    """Create the invoice, or return the existing one for an identical retry.

    `key`: the caller's key came from the cache, so the write checks it is still live. `link`: the storefront
    order this invoice pays, linked before invoice.created is written (its report to the platform needs it).
    """
    snapshot = store if isinstance(store, StoreSnapshot) else StoreSnapshot.of(store)
    if request.callback_url:  # issue 4: the SSRF guard refuses callback URLs we would never call
        check_callback_url(request.callback_url, invoicing.outbound_allowlist)
    draft = draft_invoice(snapshot, request, invoicing.rates, invoicing.clock, invoicing.limits)
    try:
        written = write_new_invoice(uow.session, snapshot, draft, invoicing.allocators, key=key, link=link)
    except InvalidApiKey:
        if key is not None and invoicing.keys is not None:
            invoicing.keys.forget(key.digest, key.kind)  # revoked since it was cached
        raise
    if written is not None:
        return Created(written.view, True, written.id)
    existing = invoice_by_external_id(uow.session, snapshot.id, request.kind, request.external_id or "")
    assert existing is not None  # the insert conflicted on exactly this row
    if existing.request_fingerprint != request.fingerprint():
        raise DuplicateExternalId(
            "External invoice ID already exists for this store with a different amount, currency or platform"
        )
    return Created(invoice_view(existing, invoicing.clock.now()), False, existing.id)


def draft_invoice(store: StoreSnapshot, request: InvoiceRequest, rates: RateSource, clock: Clock,
                  limits: tuple[Decimal, Decimal] = DEFAULT_LIMITS) -> Draft:
    """Everything about a new invoice that needs no database: the checks, the prices, the new identifiers."""
    rates = rates_for_network(rates, store.network)
    assets = accepted_assets(store)
    if request.assets is not None:
        assets = [code for code in assets if code in request.assets]
    if not assets:
        raise NoDestinationWallet("Store doesn't have a destination wallet configured")
    priced = price(request, assets, rates)
    check_limits(priced, rates, *limits)
    if request.chosen_asset is not None and request.chosen_asset not in (due[0] for due in priced.dues):
        raise ValidationFailed("Asset not offered", errors={"asset": f"{request.chosen_asset} is not offered"})
    now = clock.now()
    expires_at = now + _lifetime(request, store)
    invoice = {
        "number": new_invoice_number(), "store_id": store.id, "kind": request.kind, "contract": request.contract,
        "external_id": request.external_id, "platform": request.platform, "network": store.network,
        "status": Status.PENDING.value, "overpaid": False, "paid_late": False, "amount_type": request.amount_type,
        "price_currency": request.currency, "price_units": priced.price_units, "price_scale": request.price_scale,
        "fiat_currency": priced.fiat_currency, "fiat_minor": priced.fiat_minor,
        "request_fingerprint": request.fingerprint(), "description": request.description,
        "customer_email": request.customer_email, "customer_name": request.customer_name,
        "callback_url": request.callback_url, "success_url": request.success_url,
        "cancel_url": request.cancel_url, "metadata": request.metadata, "chosen_asset": request.chosen_asset,
        "created_at": now, "updated_at": now, "expires_at": expires_at,
    }
    return Draft(invoice, _quote_rows(store, priced, expires_at), now)


def _quote_rows(store: StoreSnapshot, priced: Priced, expires_at: datetime) -> list[dict[str, Any]]:
    """The store's wallet (direct mode) or a fresh sandbox-style address (deposit mode), and a fresh Solana Pay
    reference each; allocation replaces what a chain allocates itself."""
    rows = []
    for position, (code, units, rate, rate_currency) in enumerate(priced.dues):
        if store.settlement_mode == "deposit":
            address = new_tron_address() if money.asset(code).chain == "tron" else new_solana_pubkey()
        else:
            address = store.wallet_for(code) or ""
        rows.append({"position": position, "asset": code, "chain": chain_for(store.network, code),
                     "address": address, "reference": new_solana_pubkey(), "amount_due": units, "rate": rate,
                     "rate_currency": rate_currency, **quote_terms(priced, code, expires_at)})
    return rows


def _lifetime(request: InvoiceRequest, store: StoreSnapshot) -> timedelta:
    """How long the invoice stays open: the exact ttl a contract asked for, else whole hours."""
    if request.ttl is not None:
        if not MIN_TTL <= request.ttl <= timedelta(hours=MAX_EXPIRY_HOURS):
            raise ValidationFailed("Invalid expiry", errors={
                "ttl": f"must be between {int(MIN_TTL.total_seconds())} seconds and {MAX_EXPIRY_HOURS} hours"})
        return request.ttl
    hours = request.expiry_hours or store.default_expiry_hours
    if not MIN_EXPIRY_HOURS <= hours <= MAX_EXPIRY_HOURS:
        raise ValidationFailed("Invalid expiry", errors={"expiry_hours": "must be between 1 and 168"})
    return timedelta(hours=hours)
