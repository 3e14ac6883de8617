"""What a payment to a quote counts for, when the quote's lock had lapsed before it was paid (issue 18).

A volatile asset's quote (SOL) holds for QUOTE_LOCK_MINUTES. A payment that matches it within QUOTE_GRACE_MINUTES
of its lapse is honoured at its amount (the buyer's wallet may have signed before the lapse). A later one is
stale: it is recorded at its value at the time it was seen (the live rate then, through the rate port) and
flagged for the merchant. If no fresh rate can be had at that moment, it is recorded anyway, flagged and left
uncounted (awaiting_rate) until the worker values it at the first fresh rate (value_awaiting); it is never
lost, never counted at a rate older than RATE_MAX_AGE_SECONDS, and never guessed. docs/rates.md has the rules.

Crypto-priced invoices carry no lock: their amount is fixed in the asset the merchant chose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Payment, Quote
from gateway_core.adapters.rates.book import rates_for_network
from gateway_core.domain import money
from gateway_core.domain.errors import RateUnavailable
from gateway_core.payments.assess import assess, emit, lock_invoice
from gateway_core.ports import Clock, RateSource
from gateway_core.views import COUNTED

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Quoting:
    """What re-quoting and valuing need: the rate port, and how long a lapsed quote's amount is still honoured."""

    rates: RateSource
    grace: timedelta


def honoured_until(invoice: Invoice, quote: Quote, paid_prior: bool) -> datetime | None:
    """Until when a payment to this quote counts at the quote's amount (None: for the invoice's life)."""
    if paid_prior:
        return quote.prior_honoured_until
    if invoice.amount_type != "fiat" or quote.expires_at >= invoice.expires_at:
        return None  # no lock: a stablecoin, or an amount fixed in the asset (crypto-priced)
    return quote.expires_at


def classify(payment: Payment, invoice: Invoice, quote: Quote, paid_prior: bool, quoting: Quoting) -> None:
    """Set how the payment counts: at its quote's amount, at the old amount (grace), or valued now (stale)."""
    if payment.disposition not in COUNTED:
        return
    until = honoured_until(invoice, quote, paid_prior)
    grace = timedelta(0) if paid_prior else quoting.grace  # prior_honoured_until already includes the grace
    if until is None or payment.block_time <= until + grace:
        if paid_prior:
            payment.due_basis = quote.prior_amount_due
        return
    payment.stale_quote = True
    value(payment, invoice, quote, quoting.rates)


def value(payment: Payment, invoice: Invoice, quote: Quote, rates: RateSource) -> bool:
    """Value a stale payment at the current fresh rate: measured against what the whole invoice costs in its asset
    at that rate. Without a fresh rate it waits (awaiting_rate) and counts for nothing yet; True once valued."""
    try:
        fresh = rates_for_network(rates, invoice.network).quote(quote.asset, quote.rate_currency)
    except RateUnavailable as exc:
        payment.awaiting_rate = True
        log.warning("payment to a lapsed quote awaits a fresh rate", extra={
            "invoice": invoice.number, "tx_id": payment.tx_id, "asset": payment.asset, "reason": exc.message})
        return False
    whole = money.minor_to_fiat(invoice.fiat_minor, invoice.fiat_currency)
    payment.due_basis = money.value_to_base_units(whole, fresh.rate, money.asset(quote.asset))
    payment.valued_rate, payment.valued_at, payment.awaiting_rate = fresh.rate, fresh.at, False
    return True


def valuation_data(payment: Payment) -> dict[str, object]:
    """What the merchant's flag says about a stale payment's value."""
    if payment.awaiting_rate:
        return {"awaiting_rate": True}
    return {"awaiting_rate": False, "rate": payment.valued_rate, "rated_at": payment.valued_at}


def value_awaiting(uow_factory: UowFactory, quoting: Quoting, clock: Clock, batch: int = 200) -> int:
    """Value the payments that were waiting for a fresh rate, one invoice per transaction; returns how many."""
    with uow_factory() as uow:
        found = uow.session.execute(
            select(Payment.invoice_id).where(Payment.awaiting_rate.is_(True), Payment.invoice_id.is_not(None))
            .distinct().limit(batch)
        ).scalars().all()
    invoice_ids = [invoice_id for invoice_id in found if invoice_id is not None]
    valued = 0
    for invoice_id in invoice_ids:
        try:
            with uow_factory() as uow:
                valued += _value_invoice(uow, invoice_id, quoting, clock.now())
        except Exception:  # one invoice that cannot be valued must not hold up the others; tried next run
            log.exception("valuing payments failed", extra={"invoice_id": invoice_id})
    return valued


def _value_invoice(uow: UnitOfWork, invoice_id: int, quoting: Quoting, now: datetime) -> int:
    invoice = lock_invoice(uow.session, invoice_id)
    quotes = {q.id: q for q in invoice.quotes}
    valued = 0
    for payment in invoice.payments:
        quote = quotes.get(payment.quote_id) if payment.quote_id is not None else None
        if not payment.awaiting_rate or quote is None or not value(payment, invoice, quote, quoting.rates):
            continue
        valued += 1
        emit(uow.session, invoice, "invoice.payment_valued", now, tx_id=payment.tx_id, asset=payment.asset,
             amount=payment.amount, **valuation_data(payment))
    if valued:
        assess(uow.session, invoice, now)
    return valued
