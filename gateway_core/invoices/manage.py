"""Pricing, finding, re-pricing and cancelling invoices (and dynamic payment sessions, kind='dynamic').

Creation is gateway_core.invoices.create: the one write path of every new invoice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Store
from gateway_core.adapters.rates.book import rates_for_network
from gateway_core.domain import money
from gateway_core.domain.errors import (
    AmountTooHigh,
    AmountTooLow,
    InvalidState,
    InvoiceNotFound,
    UnknownPair,
    ValidationFailed,
    said,
)
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.payments.assess import emit, lock_invoice, move
from gateway_core.payments.transfers import FAILED
from gateway_core.payments.tron_deposits import accepts_tron
from gateway_core.ports import Clock, RateQuote, RateSource
from gateway_core.views import InvoiceView, StoreSnapshot, invoice_view

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
    chosen_asset: str | None = None  # the asset the buyer pays in, when the contract picks it (VentaConnect)
    description: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    callback_url: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    metadata: dict[str, Any] | None = field(default=None, hash=False)
    price_scale: int | None = None  # decimals of the amount as the client wrote it, when its contract echoes it

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
    # Quote locks (issue 18): each asset's rate with its sources, time and lock, as the quote records them.
    provenance: dict[str, RateQuote] = field(default_factory=dict)


def accepted_assets(store: Store | StoreSnapshot) -> list[str]:
    return [code for code in money.ASSET_ORDER
            if store.wallet_for(code) or (code == "USDT" and accepts_tron(store))]


def chain_for(network: str, asset_code: str) -> str:
    """The chain client that watches `asset_code` on `network` (the sandbox ledger holds every asset)."""
    return "sandbox" if network == "sandbox" else money.asset(asset_code).chain


def price(request: InvoiceRequest, assets: list[str], rates: RateSource) -> Priced:
    """Amount due per asset, rounded up to each asset's precision."""
    dues: list[tuple[str, int, Decimal, str]] = []
    provenance: dict[str, RateQuote] = {}

    def rate_of(code: str, currency: str) -> Decimal:
        provenance[code] = rates.quote(code, currency)
        return provenance[code].rate
    try:
        if request.amount_type == "fiat":
            currency = request.currency
            if currency not in money.FIAT_EXPONENTS:
                raise ValidationFailed("Unsupported currency", errors={"fiat_currency": f"{currency} is not supported"})
            if request.amount < money.minor_to_fiat(1, currency):  # under the smallest amount: too low, not malformed
                raise AmountTooLow(f"Amount is below the minimum of {money.minor_to_fiat(1, currency)} {currency}")
            fiat_minor = money.fiat_to_minor(request.amount, currency)
            for code in assets:
                try:
                    rate = rate_of(code, currency)
                except UnknownPair:
                    continue
                dues.append((code, money.value_to_base_units(request.amount, rate, money.asset(code)), rate, currency))
            if not dues:
                raise ValidationFailed("Unsupported currency", errors={"fiat_currency": f"no rate for {currency}"})
            return Priced(currency, fiat_minor, fiat_minor, dues, provenance)
        priced_asset = money.asset(request.currency)
        if priced_asset.code not in assets:
            raise ValidationFailed(
                "Asset not accepted", errors={"crypto_currency": f"this store does not accept {priced_asset.code}"}
            )
        units = money.to_base_units(request.amount, priced_asset)
        fiat = request.fiat_currency
        rate_priced = rate_of(priced_asset.code, fiat)
        value = request.amount * rate_priced
        for code in assets:
            if code == priced_asset.code:
                dues.insert(0, (code, units, rate_priced, fiat))
                continue
            try:
                rate = rate_of(code, fiat)
            except UnknownPair:
                continue
            dues.append((code, money.value_to_base_units(value, rate, money.asset(code)), rate, fiat))
        fiat_minor = money.fiat_to_minor(money.base_units_value(units, priced_asset, rate_priced, fiat), fiat)
        # No lock on a crypto-priced invoice: its amount is fixed in the asset the merchant chose, so nothing is
        # ever re-quoted (invoices/quotes.py), and a countdown would promise a change that never comes.
        unlocked = {code: replace(quoted, lock=None) for code, quoted in provenance.items()}
        return Priced(fiat, fiat_minor, units, dues, unlocked)
    except money.MoneyError as exc:
        raise ValidationFailed("Invalid amount", errors={"amount": str(exc)}) from None


def quote_terms(priced: Priced, code: str, expires_at: datetime) -> dict[str, Any]:
    """A quote's rate provenance, and when its amount stops holding (a volatile asset's lock, at most the expiry)."""
    quoted = priced.provenance.get(code)
    if quoted is None:
        return {"expires_at": expires_at}
    lapses = min(expires_at, quoted.at + quoted.lock) if quoted.lock is not None else expires_at
    return {"rate_sources": ",".join(quoted.sources), "rated_at": quoted.at, "expires_at": lapses}


def check_limits(priced: Priced, rates: RateSource, low: Decimal, high: Decimal) -> None:
    code, units, _, _ = priced.dues[0]
    usd = money.from_base_units(units, money.asset(code)) * rates.rate(code, "USD")
    if usd < low:
        raise AmountTooLow(f"Amount is below the minimum of {money.plain(low)} USD")
    if usd > high:
        raise AmountTooHigh(f"Amount is above the maximum of {money.plain(high)} USD")


def invoice_by_external_id(session: Session, store_id: int, kind: str, external_id: str) -> Invoice | None:
    return session.execute(
        select(Invoice).where(Invoice.store_id == store_id, Invoice.kind == kind, Invoice.external_id == external_id)
    ).scalar_one_or_none()


def _owned(uow: UnitOfWork, store: Store | StoreSnapshot, number: str, kind: str | None) -> Invoice:
    invoice = uow.session.execute(
        select(Invoice).where(Invoice.number == number, Invoice.store_id == store.id)
    ).scalar_one_or_none()
    if invoice is None or (kind is not None and invoice.kind != kind):
        raise InvoiceNotFound("Invoice with given number not found")
    return invoice


def get_invoice(uow: UnitOfWork, store: Store | StoreSnapshot, number: str, clock: Clock,
                kind: str | None = None) -> InvoiceView:
    """An invoice of this store by number (another store's invoice is 'not found', never 'forbidden')."""
    return invoice_view(_owned(uow, store, number, kind), clock.now())


def find_by_external_id(
    uow: UnitOfWork, store: Store | StoreSnapshot, external_id: str, clock: Clock, kind: str = "invoice"
) -> InvoiceView:
    invoice = invoice_by_external_id(uow.session, store.id, kind, external_id)
    if invoice is None:
        raise InvoiceNotFound("Invoice with given external id not found")
    return invoice_view(invoice, clock.now())


def public_invoice(uow: UnitOfWork, number: str, clock: Clock) -> InvoiceView:
    """Any invoice by its unguessable number, for the buyer's pages."""
    invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()
    if invoice is None:
        raise InvoiceNotFound("Invoice with given number not found")
    return invoice_view(invoice, clock.now())


def cancel_invoice(uow: UnitOfWork, store: Store | StoreSnapshot, number: str, clock: Clock,
                   kind: str | None = None) -> InvoiceView:
    """Cancel an invoice that is still open; cancelling twice is harmless."""
    invoice = lock_invoice(uow.session, _owned(uow, store, number, kind).id)
    now = clock.now()
    if invoice.status == Status.CANCELLED:
        return invoice_view(invoice, now)
    if Status(invoice.status) not in OPEN:
        raise InvalidState(said("cannot_cancel", f"Invoice is {invoice.status} and can no longer be cancelled",
                                status=invoice.status))
    move(uow.session, invoice, Status.CANCELLED, now)
    return invoice_view(invoice, now)


def update_amount(
    uow: UnitOfWork, store: Store | StoreSnapshot, number: str, amount: Decimal, rates: RateSource, clock: Clock,
    limits: tuple[Decimal, Decimal] = (Decimal("0.01"), Decimal("1000000")), kind: str | None = None,
) -> InvoiceView:
    """Re-price an open invoice nobody has paid yet (dynamic sessions whose cart changed)."""
    invoice = lock_invoice(uow.session, _owned(uow, store, number, kind).id)
    now = clock.now()
    if invoice.status != Status.PENDING or any(p.disposition != FAILED for p in invoice.payments):
        raise InvalidState(f"Invoice is {invoice.status} and its amount can no longer change")
    if now >= invoice.expires_at:
        raise InvalidState("Invoice has expired")
    request = InvoiceRequest(
        amount=amount, amount_type=invoice.amount_type, currency=invoice.price_currency,
        fiat_currency=invoice.fiat_currency, kind=invoice.kind, platform=invoice.platform,
    )
    rates = rates_for_network(rates, invoice.network)
    priced = price(request, [q.asset for q in invoice.quotes], rates)
    check_limits(priced, rates, *limits)
    by_asset = {q.asset: q for q in invoice.quotes}
    for code, units, rate, rate_currency in priced.dues:
        quote = by_asset[code]
        quote.amount_due, quote.rate, quote.rate_currency = units, rate, rate_currency
        for column, value in quote_terms(priced, code, invoice.expires_at).items():
            setattr(quote, column, value)
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
