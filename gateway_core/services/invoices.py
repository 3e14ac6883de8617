"""Creating, finding, re-pricing and cancelling invoices (and dynamic payment sessions, kind='dynamic')."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Quote, Store
from gateway_core.domain import money
from gateway_core.domain.errors import (
    AmountTooHigh,
    AmountTooLow,
    DuplicateExternalId,
    InvalidState,
    InvoiceNotFound,
    NoDestinationWallet,
    RateUnavailable,
    ValidationFailed,
)
from gateway_core.domain.identifiers import new_invoice_number, new_solana_pubkey, new_tron_address
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.ports import Clock, RateSource
from gateway_core.services.allocation import Allocator, allocate_addresses
from gateway_core.services.assess import emit, lock_invoice, move
from gateway_core.services.invoice_insert import insert_new_invoice
from gateway_core.services.outbox import check_callback_url
from gateway_core.services.tron_deposits import accepts_tron, tron_deposit_quote
from gateway_core.services.views import InvoiceView, invoice_view

MIN_EXPIRY_HOURS, MAX_EXPIRY_HOURS = 1, 168
MIN_TTL = timedelta(seconds=60)  # the shortest exact lifetime a contract may ask for (VeltPay's ttl_seconds)


@dataclass(frozen=True)
class InvoiceRequest:
    """What a storefront asks for, already parsed from its wire contract."""

    amount: Decimal
    amount_type: str = "fiat"  # fiat: `currency` is a fiat code; crypto: `currency` is an asset code
    currency: str = "USD"
    fiat_currency: str = "USD"  # the currency amounts are reported in for crypto-priced invoices
    kind: str = "invoice"
    contract: str = "voltxt"  # the wire contract it came through (its webhooks and status names)
    external_id: str | None = None
    platform: str | None = None
    expiry_hours: int | None = None
    ttl: timedelta | None = None  # an exact lifetime (VeltPay's ttl_seconds); when set, expiry_hours is unused
    assets: tuple[str, ...] | None = None  # offer only these of the store's assets (VeltPay: USDT alone)
    description: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    callback_url: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    metadata: dict[str, Any] | None = field(default=None, hash=False)

    def fingerprint(self) -> str:
        """What makes two requests with one external id 'the same invoice' (amount, currency, platform)."""
        text = "|".join((self.kind, self.amount_type, money.plain(self.amount), self.currency, self.platform or ""))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Priced:
    fiat_currency: str
    fiat_minor: int
    price_units: int
    dues: list[tuple[str, int, Decimal, str]]  # asset, base units due, rate, rate currency


def accepted_assets(store: Store) -> list[str]:
    return [code for code in money.ASSET_ORDER
            if store.wallet_for(code) or (code == "USDT" and accepts_tron(store))]


def chain_for(network: str, asset_code: str) -> str:
    """The chain client that watches `asset_code` on `network` (the sandbox ledger holds every asset)."""
    return "sandbox" if network == "sandbox" else money.asset(asset_code).chain


def price(request: InvoiceRequest, assets: list[str], rates: RateSource) -> Priced:
    """Amount due per asset, rounded up to each asset's precision."""
    dues: list[tuple[str, int, Decimal, str]] = []
    try:
        if request.amount_type == "fiat":
            currency = request.currency
            if currency not in money.FIAT_EXPONENTS:
                raise ValidationFailed("Unsupported currency", errors={"fiat_currency": f"{currency} is not supported"})
            fiat_minor = money.fiat_to_minor(request.amount, currency)
            for code in assets:
                try:
                    rate = rates.rate(code, currency)
                except RateUnavailable:
                    continue
                dues.append((code, money.value_to_base_units(request.amount, rate, money.asset(code)), rate, currency))
            if not dues:
                raise ValidationFailed("Unsupported currency", errors={"fiat_currency": f"no rate for {currency}"})
            return Priced(currency, fiat_minor, fiat_minor, dues)
        priced_asset = money.asset(request.currency)
        if priced_asset.code not in assets:
            raise ValidationFailed(
                "Asset not accepted", errors={"crypto_currency": f"this store does not accept {priced_asset.code}"}
            )
        units = money.to_base_units(request.amount, priced_asset)
        fiat = request.fiat_currency
        rate_priced = rates.rate(priced_asset.code, fiat)
        value = request.amount * rate_priced
        for code in assets:
            if code == priced_asset.code:
                dues.insert(0, (code, units, rate_priced, fiat))
                continue
            try:
                rate = rates.rate(code, fiat)
            except RateUnavailable:
                continue
            dues.append((code, money.value_to_base_units(value, rate, money.asset(code)), rate, fiat))
        fiat_minor = money.fiat_to_minor(money.base_units_value(units, priced_asset, rate_priced, fiat), fiat)
        return Priced(fiat, fiat_minor, units, dues)
    except money.MoneyError as exc:
        raise ValidationFailed("Invalid amount", errors={"amount": str(exc)}) from None


def check_limits(priced: Priced, rates: RateSource, low: Decimal, high: Decimal) -> None:
    code, units, _, _ = priced.dues[0]
    usd = money.from_base_units(units, money.asset(code)) * rates.rate(code, "USD")
    if usd < low:
        raise AmountTooLow(f"Amount is below the minimum of {money.plain(low)} USD")
    if usd > high:
        raise AmountTooHigh(f"Amount is above the maximum of {money.plain(high)} USD")


def quote_rows(store: Store, priced: Priced, expires_at: Any) -> list[dict[str, Any]]:
    """The quotes of a new invoice at a store that needs no allocation: the store's wallet (direct mode) or a
    fresh sandbox-style address (deposit mode), and a fresh Solana Pay reference each."""
    rows = []
    for position, (code, units, rate, rate_currency) in enumerate(priced.dues):
        if store.settlement_mode == "deposit":
            address = new_tron_address() if money.asset(code).chain == "tron" else new_solana_pubkey()
        else:
            address = store.wallet_for(code) or ""
        rows.append({"position": position, "asset": code, "chain": chain_for(store.network, code),
                     "address": address, "reference": new_solana_pubkey(), "amount_due": units, "rate": rate,
                     "rate_currency": rate_currency, "expires_at": expires_at})
    return rows


def _quotes(store: Store, rows: list[dict[str, Any]]) -> list[Quote]:
    tron = accepts_tron(store)
    return [
        # TRON (issue 6): USDT goes to a fresh address from the store's xpub, allocated with the invoice.
        tron_deposit_quote(store, row["position"], row["amount_due"], row["rate"], row["rate_currency"],
                           row["expires_at"], row["chain"])
        if tron and row["asset"] == "USDT" else Quote(**row)
        for row in rows
    ]


_ATTRIBUTE = {"metadata": "extra"}  # invoice columns whose model attribute has another name


@dataclass(frozen=True)
class Draft:
    """A new invoice, validated and priced, as rows: `invoice` by column name, its quotes, and its time."""

    invoice: dict[str, Any]
    quotes: list[dict[str, Any]]
    now: datetime


def draft_invoice(
    store: Store, request: InvoiceRequest, rates: RateSource, clock: Clock, limits: tuple[Decimal, Decimal],
) -> Draft:
    """Everything about a new invoice that needs no database: the checks, the prices, the new identifiers."""
    assets = accepted_assets(store)
    if request.assets is not None:
        assets = [code for code in assets if code in request.assets]
    if not assets:
        raise NoDestinationWallet("Store doesn't have a destination wallet configured")
    priced = price(request, assets, rates)
    check_limits(priced, rates, *limits)
    lifetime = _lifetime(request, store)
    now = clock.now()
    expires_at = now + lifetime
    invoice = {
        "number": new_invoice_number(), "store_id": store.id, "kind": request.kind, "contract": request.contract,
        "external_id": request.external_id, "platform": request.platform, "network": store.network,
        "status": Status.PENDING.value, "overpaid": False, "paid_late": False, "amount_type": request.amount_type,
        "price_currency": request.currency, "price_units": priced.price_units,
        "fiat_currency": priced.fiat_currency, "fiat_minor": priced.fiat_minor,
        "request_fingerprint": request.fingerprint(), "description": request.description,
        "customer_email": request.customer_email, "customer_name": request.customer_name,
        "callback_url": request.callback_url, "success_url": request.success_url,
        "cancel_url": request.cancel_url, "metadata": request.metadata, "created_at": now, "updated_at": now,
        "expires_at": expires_at,
    }
    return Draft(invoice, quote_rows(store, priced, expires_at), now)


def create_invoice(
    uow: UnitOfWork, store: Store, request: InvoiceRequest, rates: RateSource, clock: Clock,
    limits: tuple[Decimal, Decimal] = (Decimal("0.01"), Decimal("1000000")),
    outbound_allowlist: Sequence[str] = (),
    allocators: Mapping[str, Allocator] | None = None,
) -> tuple[InvoiceView, bool]:
    """Create the invoice, or return the existing one for an identical retry. Returns (view, created)."""
    session = uow.session
    if request.callback_url:  # issue 4: the SSRF guard refuses callback URLs we would never call
        check_callback_url(request.callback_url, outbound_allowlist)
    lean = not needs_allocation(store, allocators)
    if not lean and inspect(store).detached:
        session.add(store)  # authenticated in an earlier transaction; allocation updates the store's row
    if request.external_id is not None and not lean:  # the lean path learns this from its INSERT
        existing = _by_external_id(uow, store.id, request.kind, request.external_id)
        if existing is not None:
            return _same_or_conflict(existing, request, clock), False
    draft = draft_invoice(store, request, rates, clock, limits)
    now = draft.now
    attributes = {_ATTRIBUTE.get(column, column): value for column, value in draft.invoice.items()}
    invoice = Invoice(**attributes, store=store, payments=[], quotes=_quotes(store, draft.quotes))
    if lean:
        if not insert_new_invoice(session, invoice, now):  # an identical retry, or a conflicting one
            existing = _by_external_id(uow, store.id, request.kind, request.external_id or "")
            assert existing is not None
            return _same_or_conflict(existing, request, clock), False
        return invoice_view(invoice, now), True
    try:
        with session.begin_nested():
            session.add(invoice)
            session.flush()
    except IntegrityError:
        # A concurrent identical request won the race on (store, kind, external_id).
        existing = _by_external_id(uow, store.id, request.kind, request.external_id or "")
        if existing is None:
            raise
        return _same_or_conflict(existing, request, clock), False
    # Per-chain deposit keys and token accounts; a failure rolls the invoice back.
    allocate_addresses(session, invoice, allocators or {})
    emit(session, invoice, "invoice.created", now)
    return invoice_view(invoice, now), True


def needs_allocation(store: Store, allocators: Mapping[str, Allocator] | None) -> bool:
    """Deposit keys and xpub addresses are allocated through the ORM (they flush to number their keys)."""
    return bool(allocators) and (store.settlement_mode == "deposit" or accepts_tron(store))


def _lifetime(request: InvoiceRequest, store: Store) -> timedelta:
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


def _same_or_conflict(existing: Invoice, request: InvoiceRequest, clock: Clock) -> InvoiceView:
    if existing.request_fingerprint != request.fingerprint():
        raise DuplicateExternalId(
            "External invoice ID already exists for this store with a different amount, currency or platform"
        )
    return invoice_view(existing, clock.now())


def _by_external_id(uow: UnitOfWork, store_id: int, kind: str, external_id: str) -> Invoice | None:
    return uow.session.execute(
        select(Invoice).where(Invoice.store_id == store_id, Invoice.kind == kind, Invoice.external_id == external_id)
    ).scalar_one_or_none()


def _owned(uow: UnitOfWork, store: Store, number: str, kind: str | None) -> Invoice:
    invoice = uow.session.execute(
        select(Invoice).where(Invoice.number == number, Invoice.store_id == store.id)
    ).scalar_one_or_none()
    if invoice is None or (kind is not None and invoice.kind != kind):
        raise InvoiceNotFound("Invoice with given number not found")
    return invoice


def get_invoice(uow: UnitOfWork, store: Store, number: str, clock: Clock, kind: str | None = None) -> InvoiceView:
    """An invoice of this store by number (another store's invoice is 'not found', never 'forbidden')."""
    return invoice_view(_owned(uow, store, number, kind), clock.now())


def find_by_external_id(
    uow: UnitOfWork, store: Store, external_id: str, clock: Clock, kind: str = "invoice"
) -> InvoiceView:
    invoice = _by_external_id(uow, store.id, kind, external_id)
    if invoice is None:
        raise InvoiceNotFound("Invoice with given external id not found")
    return invoice_view(invoice, clock.now())


def public_invoice(uow: UnitOfWork, number: str, clock: Clock) -> InvoiceView:
    """Any invoice by its unguessable number, for the buyer's pages."""
    invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()
    if invoice is None:
        raise InvoiceNotFound("Invoice with given number not found")
    return invoice_view(invoice, clock.now())


def cancel_invoice(uow: UnitOfWork, store: Store, number: str, clock: Clock, kind: str | None = None) -> InvoiceView:
    """Cancel an invoice that is still open; cancelling twice is harmless."""
    invoice = lock_invoice(uow.session, _owned(uow, store, number, kind).id)
    now = clock.now()
    if invoice.status == Status.CANCELLED:
        return invoice_view(invoice, now)
    if Status(invoice.status) not in OPEN:
        raise InvalidState(f"Invoice is {invoice.status} and can no longer be cancelled")
    move(uow.session, invoice, Status.CANCELLED, now)
    return invoice_view(invoice, now)


def update_amount(
    uow: UnitOfWork, store: Store, number: str, amount: Decimal, rates: RateSource, clock: Clock,
    limits: tuple[Decimal, Decimal] = (Decimal("0.01"), Decimal("1000000")), kind: str | None = None,
) -> InvoiceView:
    """Re-price an open invoice nobody has paid yet (dynamic sessions whose cart changed)."""
    invoice = lock_invoice(uow.session, _owned(uow, store, number, kind).id)
    now = clock.now()
    if invoice.status != Status.PENDING or invoice.payments:
        raise InvalidState(f"Invoice is {invoice.status} and its amount can no longer change")
    if now >= invoice.expires_at:
        raise InvalidState("Invoice has expired")
    request = InvoiceRequest(
        amount=amount, amount_type=invoice.amount_type, currency=invoice.price_currency,
        fiat_currency=invoice.fiat_currency, kind=invoice.kind, platform=invoice.platform,
    )
    priced = price(request, [q.asset for q in invoice.quotes], rates)
    check_limits(priced, rates, *limits)
    by_asset = {q.asset: q for q in invoice.quotes}
    for code, units, rate, rate_currency in priced.dues:
        quote = by_asset[code]
        quote.amount_due, quote.rate, quote.rate_currency = units, rate, rate_currency
    invoice.price_units, invoice.fiat_minor = priced.price_units, priced.fiat_minor
    invoice.request_fingerprint = replace(request, external_id=invoice.external_id).fingerprint()
    invoice.updated_at = now
    emit(uow.session, invoice, "invoice.amount_updated", now)
    return invoice_view(invoice, now)


def choose_asset(uow: UnitOfWork, number: str, asset_code: str, clock: Clock) -> InvoiceView:
    """Remember which asset the buyer picked on the payment page."""
    invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()
    if invoice is None:
        raise InvoiceNotFound("Invoice with given number not found")
    if invoice.quote_for(asset_code) is None:
        raise ValidationFailed("Asset not offered", errors={"asset": f"{asset_code} is not offered"})
    invoice.chosen_asset = asset_code
    return invoice_view(invoice, clock.now())
